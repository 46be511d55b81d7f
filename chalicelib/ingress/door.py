"""The webhook door: verify, split, enqueue, acknowledge — nothing heavy.

A request is either queued (202, or the reply the vendor expects) or refused with a
clear 4xx and an audit entry; if the queue cannot take it we answer 503 so the vendor
retries. Nothing accepted is ever dropped: acknowledgement comes after SQS has it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.configuration import Configuration
from chalicelib.runtime import observability
from chalicelib.runtime.settings import Settings

log = logging.getLogger("salesbridge.door")

_verifiers: dict[tuple[str, int], Any] = {}


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes | str
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


def _json_reply(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(body), {"Content-Type": "application/json", **(headers or {})})


def _error(status: int, code: str, message: str, receipt_id: str) -> Reply:
    return _json_reply(status, {"error": code, "message": message, "receipt_id": receipt_id})


def receive(connector_name: str, request: Any, config: Configuration, settings: Settings) -> Reply:
    """Handle one vendor call (``request`` is Chalice's current_request)."""
    from chalicelib.errors import DeliveryError
    from chalicelib.ingress.deliveries import split_delivery
    from chalicelib.ingress.verify import RejectedRequest
    from chalicelib.runtime import queue

    receipt_id = "rcp_" + uuid.uuid4().hex
    connector = config.connectors.get(connector_name)
    if connector is None or connector.webhook is None:
        observability.count("DoorRefusals", reason="unknown_connector")
        return _error(404, "unknown_connector", f"no connector {connector_name!r} accepts webhooks here", receipt_id)
    body = request.raw_body or b""
    inbound_request = _inbound_request(connector_name, request, body)
    limit = connector.webhook.max_body_bytes
    if len(body) > limit:
        if not _audit_rejection(settings, connector_name, receipt_id, inbound_request, "body_too_large", f"{len(body)} bytes > {limit}"):
            return _unaudited(receipt_id)
        return _error(413, "body_too_large", f"the body is {len(body)} bytes; this connector accepts at most {limit}", receipt_id)
    try:
        delivery = _verifier(connector).verify(inbound_request)
        records = split_delivery(connector_name, connector.webhook.shape(), delivery, receipt_id)
    except RejectedRequest as exc:
        if not _audit_rejection(settings, connector_name, receipt_id, inbound_request, exc.reason, exc.detail):
            return _unaudited(receipt_id)
        if exc.response is not None:
            return Reply(exc.status, exc.response.body, {"Content-Type": exc.response.content_type})
        return _error(exc.status, exc.reason, _public_message(exc.status, exc.reason, exc.detail), receipt_id)
    except DeliveryError as exc:
        if not _audit_rejection(settings, connector_name, receipt_id, inbound_request, "malformed_delivery", str(exc)):
            return _unaudited(receipt_id)
        return _error(400, "malformed_delivery", str(exc), receipt_id)
    if records:
        try:
            queue.send(records, settings.inbound_queue_url)
        except Exception:  # noqa: BLE001 - not acknowledged: the vendor will retry
            log.exception("could not enqueue delivery %s", receipt_id)
            observability.count("DoorRefusals", reason="unavailable")
            return _error(503, "unavailable", "the delivery could not be queued; please retry", receipt_id)
    if delivery.reply is not None:
        return Reply(
            delivery.reply.status, delivery.reply.body, {"Content-Type": delivery.reply.content_type, "X-Salesbridge-Receipt": receipt_id}
        )
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


def _audit_rejection(settings: Settings, connector: str, receipt_id: str, request: Any, reason: str, detail: str) -> bool:
    """Refusals are audited (one-entry chain per receipt); the body is kept only as a hash.

    Returns False when the entry could not be written: the caller then answers 503 instead of the
    4xx, so no refusal is ever given without its audit entry (the vendor retries; the retry is audited).
    """
    from chalicelib.store import keys
    from chalicelib.store.audit import AuditEntry
    from chalicelib.store.dynamo_store import DynamoStore
    from chalicelib.store.port import ChainAppend, Plan, Snapshot

    observability.count("DoorRefusals", reason=reason)
    entry = AuditEntry(
        action="rejected",
        actor=f"caller:{request.source_ip or 'unknown'}",
        correlation_id=receipt_id,
        connector=connector,
        details={
            "reason": reason,
            "detail": detail[:500],
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
    from chalicelib.store import stats

    stats.count_refused(settings.stats_table, connector)  # the overview's counter; approximate, never fails the reply
    return True
