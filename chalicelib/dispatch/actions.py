"""Sending an action's request to the connected system: one attempt, effectively once.

The request is rendered from the event and its subject (chalicelib/rules/actions.py). A create
first asks the vendor for a record carrying the request's idempotency key (the marker in a text
field): when a previous attempt was accepted but its answer was lost (a timeout, a crash before
the attempt was recorded), the record is found and not created again. An upsert on an external
id is idempotent at the vendor by itself. Each call here is one attempt: the dispatcher counts,
audits, backs off (honouring the vendor's Retry-After) and dead-letters.

Group robots (企业微信, 钉钉) keep nothing that could be asked: their messages are sent at most
once (``send_robot``; the dispatcher records each attempt before it is sent).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib.connectors.api_config import ApiSections
from chalicelib.errors import AuthError, ConnectorError, DeliveryFailed, RetryableError, VendorApiError
from chalicelib.rules.actions import Action, ActionRequest


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


def send_robot(request: ActionRequest, client: Any) -> str:
    """One 企业微信 / 钉钉 group robot message: sent at most once per attempt.

    A robot keeps no record that could be asked for the idempotency key, so only an answer that
    says the message was not posted is retried: the rate-limit errcode (HTTP 200), HTTP 429, or no
    connection at all. Any other failure may have posted it (a timeout, a dropped connection, a
    5xx) and is not retried; another errcode is a configuration problem (a bad key, a sign that
    does not match) that retrying cannot fix. Either goes dead with the reason; a re-drive sends it.
    """
    import httpx

    from chalicelib.connectors.models import RequestSpec
    from chalicelib.connectors.robots import NAMES, RobotRefused, robot_answer

    name = NAMES[request.kind]
    try:
        page = client.send(RequestSpec(request.method, request.path, json=request.body))
        return f"{name}: {robot_answer(request.kind, page.body)}"
    except RobotRefused as exc:
        if exc.rate_limited:
            raise DeliveryFailed(f"{exc}: not posted, sent again after a pause", retryable=True) from None
        raise DeliveryFailed(f"{exc}: the connector's key or 加签 secret is wrong or the robot was removed", retryable=False) from None
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise DeliveryFailed(f"{name} unreachable ({type(exc).__name__}): not posted", retryable=True) from None
    except RetryableError as exc:
        if exc.status == 429:
            raise DeliveryFailed(f"{name}: {exc}: not posted", retryable=True, retry_after=exc.retry_after) from None
        raise DeliveryFailed(f"{name}: {exc}: the message may have been posted; not sent again (at most once)", retryable=False) from None
    except VendorApiError as exc:
        raise DeliveryFailed(f"{name} refused the request ({exc.status}): {exc}", retryable=False) from None
    except (httpx.TransportError, ConnectorError) as exc:
        raise DeliveryFailed(
            f"{name}: {type(exc).__name__}: {exc}: the message may have been posted; not sent again (at most once)", retryable=False
        ) from None
