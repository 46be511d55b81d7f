"""The webhook door: verify, split, enqueue, acknowledge — nothing heavy.

A request is either queued (202, or the reply the vendor expects) or refused with a
clear 4xx and accounted for; if the queue cannot take it we answer 503 so the vendor
retries. Nothing accepted is ever dropped: acknowledgement comes after SQS has it.

Refusals cost a bounded amount, whoever sends them: each one adds one to a counter per
(connector, reason, minute), and only the first few of each minute are kept in full in the
audit trail. Anyone on the internet can be refused, so a flood grows numbers, not tables.

The door needs only the connector files, but it must never take deliveries that the processor
could not process because the configuration does not load. A deployment package's build loads
the whole configuration and records it (chalicelib/config/parsed_cache.py): while the files are
exactly those, ``door_connectors`` reads only the connector files, and a cold start skips the
mappings, triggers and rules. Otherwise (the local stack, whose files change while it runs; a
package built without the check; an edited file) it loads the whole configuration, as the
processor does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.config import parsed_cache
from chalicelib.errors import RecordTooLarge
from chalicelib.runtime import observability
from chalicelib.runtime.settings import Settings, get_settings

if TYPE_CHECKING:
    from chalicelib.connectors.definition import Connector

log = logging.getLogger("salesbridge.door")

_verifiers: dict[tuple[str, int], Any] = {}
_built: dict[Path, dict[str, Connector]] = {}  # per configuration root: its files cannot change once the build checked them
KEPT_IN_FULL = 5  # refusals per (connector, reason, minute) kept in full in the audit trail; the rest are counted
UNKNOWN_CONNECTOR = "(unknown)"  # counted under one name: the URL's name is the caller's choice


def door_connectors() -> dict[str, Connector]:
    """The connectors by name; raises ConfigError (every problem) when the configuration does not load."""
    root = get_settings().config_dir
    if root in _built:
        return _built[root]
    if parsed_cache.loads_as_built(root):
        _built[root] = _connector_files(root)
        return _built[root]
    from chalicelib.configuration import current

    return current().connectors


def _connector_files(root: Path) -> dict[str, Connector]:
    from chalicelib.config.documents import of_kind, read_documents
    from chalicelib.config.kinds import KINDS
    from chalicelib.connectors.definition import load_connectors
    from chalicelib.errors import ConfigError

    docs, problems = read_documents(root, "connectors", KINDS)
    if problems:
        raise ConfigError(problems)
    return load_connectors(of_kind(docs, "connector"))


SERVICES = ("sqs", "ssm", "dynamodb")  # what a request calls: the queue, the webhook secrets, refusals' accounting


def prime() -> None:
    """Do now what the first request would do before it can answer (used by an init that Lambda snapshots).

    The modules a request imports, X-Ray's patches (when tracing is on), the SDK's service models
    and, when the build checked these files, the connectors and their verifiers. Otherwise the
    whole configuration would be loaded, with the masking key from SSM: a secret and a client,
    which stay out of a snapshot; the first request loads it as it does today. Nothing here
    fetches a secret or makes a client.
    """
    from chalicelib.ingress import deliveries, request  # noqa: F401 - imported for the snapshot
    from chalicelib.ingress.verify import RejectedRequest  # noqa: F401
    from chalicelib.runtime import aws, queue, tracing  # noqa: F401

    tracing.install()  # what the first client would do first: import the SDK and patch botocore and httpx
    aws.load_models(SERVICES)
    if parsed_cache.loads_as_built(get_settings().config_dir):
        for connector in door_connectors().values():
            if connector.webhook is not None:
                _verifier(connector)


def reset_connectors() -> None:
    _built.clear()


@dataclass(frozen=True)
class Reply:
    """The door's answer. ``body`` is text: Lambda's runtime serialises the response as JSON, so bytes would fail (a 502)."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


def _vendor_reply(status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> Reply:
    """A reply the vendor expects (SOAP ack or fault, an echo), as text for the JSON response."""
    return Reply(status, body.decode("utf-8", errors="replace"), {"Content-Type": content_type, **(headers or {})})


def _json_reply(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(body), {"Content-Type": "application/json", **(headers or {})})


def _error(status: int, code: str, message: str, receipt_id: str) -> Reply:
    return _json_reply(status, {"error": code, "message": message, "receipt_id": receipt_id})


def receive(connector_name: str, request: Any, connectors: dict[str, Connector], settings: Settings) -> Reply:
    """Handle one vendor call (``request`` is Chalice's current_request; ``connectors``: ``door_connectors``)."""
    from chalicelib.errors import DeliveryError
    from chalicelib.ingress.deliveries import split_delivery
    from chalicelib.ingress.verify import RejectedRequest
    from chalicelib.runtime import queue

    receipt_id = "rcp_" + uuid.uuid4().hex
    connector = connectors.get(connector_name)
    body = request.raw_body or b""
    inbound_request = _inbound_request(connector_name, request, body)
    if connector is None or connector.webhook is None:
        detail = f"no connector {connector_name[:100]!r} accepts webhooks here"
        if not account_refusal(settings, UNKNOWN_CONNECTOR, receipt_id, inbound_request, "unknown_connector", detail):
            return _unaudited(receipt_id)
        return _error(404, "unknown_connector", "no connector of that name accepts webhooks here", receipt_id)
    limit = connector.webhook.max_body_bytes
    if len(body) > limit:
        if not account_refusal(settings, connector_name, receipt_id, inbound_request, "body_too_large", f"{len(body)} bytes > {limit}"):
            return _unaudited(receipt_id)
        return _error(413, "body_too_large", f"the body is {len(body)} bytes; this connector accepts at most {limit}", receipt_id)
    try:
        delivery = _verifier(connector).verify(inbound_request)
        records = split_delivery(connector_name, connector.webhook.shape(), delivery, receipt_id)
    except RejectedRequest as exc:
        if not account_refusal(settings, connector_name, receipt_id, inbound_request, exc.reason, exc.detail):
            return _unaudited(receipt_id)
        if exc.response is not None:
            return _vendor_reply(exc.status, exc.response.body, exc.response.content_type)
        return _error(exc.status, exc.reason, _public_message(exc.status, exc.reason, exc.detail), receipt_id)
    except DeliveryError as exc:
        if not account_refusal(settings, connector_name, receipt_id, inbound_request, "malformed_delivery", str(exc)):
            return _unaudited(receipt_id)
        return _error(400, "malformed_delivery", str(exc), receipt_id)
    if records:
        try:
            queue.send(records, settings.inbound_queue_url)
        except RecordTooLarge as exc:
            if not account_refusal(settings, connector_name, receipt_id, inbound_request, "record_too_large", str(exc)):
                return _unaudited(receipt_id)
            return _error(413, "record_too_large", f"{exc}; nothing of this delivery was accepted", receipt_id)
        except Exception:  # noqa: BLE001 - not acknowledged: the vendor will retry
            log.exception("could not enqueue delivery %s", receipt_id)
            observability.count("DoorRefusals", reason="unavailable")
            return _error(503, "unavailable", "the delivery could not be queued; please retry", receipt_id)
    if delivery.reply is not None:
        return _vendor_reply(delivery.reply.status, delivery.reply.body, delivery.reply.content_type, {"X-Salesbridge-Receipt": receipt_id})
    return _json_reply(202, {"receipt_id": receipt_id, "records": len(records)})


def _unaudited(receipt_id: str) -> Reply:
    """A refusal is final only once it is audited; until then the caller is asked to retry."""
    return _error(503, "unavailable", "the request could not be processed now; please retry", receipt_id)


def _public_message(status: int, reason: str, detail: str) -> str:
    if status == 401:
        return "the request's signature could not be verified"  # never say which part was wrong
    return detail or reason


def _verifier(connector: Any) -> Any:
    from chalicelib.ingress.verify import make_verifier

    key = (connector.name, id(connector.webhook))
    verifier = _verifiers.get(key)
    if verifier is None:
        verifier = _verifiers[key] = make_verifier(connector.webhook)
    return verifier


def _inbound_request(connector_name: str, request: Any, body: bytes) -> Any:
    from urllib.parse import urlencode

    from chalicelib.ingress.request import Headers, InboundRequest

    headers = dict(request.headers or {})
    context = getattr(request, "context", None) or {}
    query = dict(request.query_params or {})
    host = headers.get("host") or headers.get("Host") or "localhost"
    proto = headers.get("x-forwarded-proto") or headers.get("X-Forwarded-Proto") or "https"
    path = context.get("path") or f"/webhooks/{connector_name}"
    url = f"{proto}://{host}{path}" + (f"?{urlencode(query)}" if query else "")
    source_ip = (context.get("identity") or {}).get("sourceIp")
    return InboundRequest(
        method=request.method,
        path=path,
        headers=Headers(headers),
        body=body,
        received_at=datetime.now(UTC),
        query=query,
        source_ip=source_ip,
        url=url,
    )


def refused_before_the_door(connector_name: str, request: Any, connectors: dict[str, Connector], settings: Settings, status: int) -> bool:
    """Account for a refusal the web framework answered before ``receive`` ran (405 wrong method, 415 wrong media type)."""
    reason = {405: "method_not_allowed", 415: "unsupported_media_type"}.get(status, f"http_{status}")
    known = connectors.get(connector_name)
    # As receive counts them: a connector without a webhook section is not a door, so its name is not kept.
    connector = connector_name if known is not None and known.webhook is not None else UNKNOWN_CONNECTOR
    inbound_request = _inbound_request(connector_name, request, request.raw_body or b"")
    return account_refusal(settings, connector, "rcp_" + uuid.uuid4().hex, inbound_request, reason, f"answered {status}")


def account_refusal(settings: Settings, connector: str, receipt_id: str, request: Any, reason: str, detail: str) -> bool:
    """Count the refusal per (connector, reason, minute); keep the first few of each minute in full, in the audit trail.

    The kept entry holds the body only as a hash. Returns False when the refusal could not be accounted
    for: the caller then answers 503 instead of the 4xx, so no refusal goes uncounted (the vendor
    retries; the retry is counted, so a refusal answered 503 may count twice).
    """
    from chalicelib.store import keys, stats
    from chalicelib.store.audit import AuditEntry
    from chalicelib.store.dynamo_store import DynamoStore
    from chalicelib.store.port import ChainAppend, Plan, Snapshot

    observability.count("DoorRefusals", reason=reason)
    try:
        nth = stats.count_refusal(settings.stats_table, connector, reason, request.received_at)
    except Exception:  # noqa: BLE001 - answered with a 503 (retry) instead of an uncounted refusal; logged for operators
        log.exception("could not count refusal %s (%s, %s)", receipt_id, connector, reason)
        return False
    if nth <= KEPT_IN_FULL:
        entry = AuditEntry(
            action="rejected",
            actor=f"caller:{str(request.source_ip or 'unknown')[:64]}",
            correlation_id=receipt_id,
            connector=connector,
            details={
                "reason": reason,
                "detail": detail[:500],
                "path": request.path[:300],
                "nth_this_minute": nth,
                "body_bytes": len(request.body),
                "body_sha256": hashlib.sha256(request.body).hexdigest(),
                "user_agent": (request.header("user-agent") or "")[:200],
            },
        )
        try:
            DynamoStore(settings).commit(Plan(Snapshot(), audit=[ChainAppend(keys.rejection_chain(receipt_id), [entry], headless=True)]))
        except Exception:  # noqa: BLE001 - answered with a 503 (retry) instead of an unaudited refusal; logged for operators
            log.exception("could not audit rejection %s (%s)", receipt_id, reason)
            return False
    stats.count_refused(settings.stats_table, connector)  # the overview's chart; approximate, never fails the reply
    return True
