"""Sending an action's request to the connected system: one attempt, effectively once.

The request is rendered from the event and its subject (chalicelib/rules/actions.py). A create
first asks the vendor for a record carrying the request's idempotency key (the marker in a text
field): when a previous attempt was accepted but its answer was lost (a timeout, a crash before
the attempt was recorded), the record is found and not created again. An upsert on an external
id is idempotent at the vendor by itself. Each call here is one attempt: the dispatcher counts,
audits, backs off (honouring the vendor's Retry-After) and dead-letters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.connectors.api_config import ApiSections
from chalicelib.errors import AuthError, ConnectorError, DeliveryFailed, RetryableError, VendorApiError
from chalicelib.rules.actions import Action, ActionRequest

Secret = Callable[[Any], str]


@dataclass(frozen=True)
class ActionTarget:
    """An action as one of an event's delivery targets (its state sits beside the subscribers')."""

    action: Action

    @property
    def name(self) -> str:
        return self.action.target_name

    def wants(self, event_type: str) -> bool:
        return self.action.wants(event_type)


def send_action(request: ActionRequest, client: Any) -> str:
    """One attempt through the connector's API client; raises DeliveryFailed (retryable or not)."""
    from chalicelib.connectors.models import RequestSpec

    try:
        if request.lookup is not None:
            lookup = request.lookup
            page = client.send(RequestSpec(lookup["method"], lookup["path"], params=lookup.get("params") or {}, json=lookup.get("json")))
            found = _found(request.kind, page.body)
            if found is not None:
                return f"already there: {request.kind} {found} carries idempotency key {request.key}; not sent again"
        page = client.send(RequestSpec(request.method, request.path, json=request.body))
    except RetryableError as exc:
        raise DeliveryFailed(f"{exc}", retryable=True, retry_after=exc.retry_after) from None
    except AuthError as exc:
        raise DeliveryFailed(f"authentication refused: {exc}", retryable=True) from None  # a token expired; a bad secret goes dead
    except VendorApiError as exc:
        raise DeliveryFailed(f"refused by the vendor ({exc.status}): {exc}", retryable=exc.status in (408, 409, 425)) from None
    except ConnectorError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
    created = _created_id(page.body)
    return f"{request.operation} {request.method} {request.path}: HTTP {page.status}" + (f", id {created}" if created else "")


def _found(kind: str, body: Any) -> str | None:
    """The id of a record the lookup found (Salesforce SOQL, HubSpot search, Odoo search_read)."""
    if kind == "salesforce" and isinstance(body, dict) and body.get("records"):
        return str(body["records"][0].get("Id"))
    if kind == "hubspot" and isinstance(body, dict) and body.get("results"):
        return str(body["results"][0].get("id"))
    if kind == "odoo" and isinstance(body, dict) and body.get("result"):
        return str(body["result"][0].get("id"))
    return None


def _created_id(body: Any) -> str | None:
    if isinstance(body, dict):
        value = body.get("id") or body.get("Id") or body.get("result")
        return json.dumps(value) if isinstance(value, (list, dict)) else (str(value) if value is not None else None)
    return None


def api_client(sections: ApiSections) -> Any:
    """The connector's API client for one attempt at a time: the dispatcher retries, so the client does not.

    Without the sync's shared rate budget: actions are few beside a sync's pages, and a vendor's
    429 is honoured through Retry-After.
    """
    from chalicelib.connectors.api_config import RetryConfig
    from chalicelib.connectors.registry import build_client
    from chalicelib.runtime.secrets import resolve

    api = sections.api.model_copy(update={"retry": RetryConfig(max_attempts=1), "rate_limit": None})
    return build_client(sections.model_copy(update={"api": api}), resolve)


def send_robot(request: ActionRequest, action: Action, secret: Secret, http: Any) -> str:
    """A 企业微信 / 钉钉 group robot message (no lookup: a robot keeps no records to ask)."""
    import time
    import urllib.parse

    from chalicelib.dispatch.targets import _post, _robot_result, dingtalk_sign

    if action.robot_key is None:
        raise DeliveryFailed(f"action {action.name}: no robot key", retryable=False)
    if request.kind == "wecom":
        params = {"key": secret(action.robot_key)}
    else:
        params = {"access_token": secret(action.robot_key)}
        if action.robot_secret is not None:
            ts = int(time.time() * 1000)
            params.update(timestamp=str(ts), sign=dingtalk_sign(secret(action.robot_secret), ts))
    url = f"{request.path}?{urllib.parse.urlencode(params)}"
    body = json.dumps(request.body, ensure_ascii=False, default=str).encode()
    return _robot_result(_post(http, url, body, {}, 5.0))
