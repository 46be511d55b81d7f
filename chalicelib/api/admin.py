"""What the operator endpoints and the CLI do; both call these functions."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.api.errors import ApiError, bad_request, not_found
from chalicelib.configuration import Configuration
from chalicelib.domain import identity
from chalicelib.domain.canonical import ENTITY_TYPES, SourceRef
from chalicelib.runtime.settings import Settings
from chalicelib.store import audit, dynamo, quarantine

MAX_PAGE = 200


def _limit(value: str | None, default: int = 50) -> int:
    if value is None:
        return default
    try:
        limit = int(value)
    except ValueError:
        raise bad_request("limit must be a whole number") from None
    if not 1 <= limit <= MAX_PAGE:
        raise bad_request(f"limit must be between 1 and {MAX_PAGE}")
    return limit


def _page(table: str, query: dict[str, Any], cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a query; ``cursor`` is the opaque ``next`` of the previous page."""
    if cursor:
        try:
            query["ExclusiveStartKey"] = quarantine.decode_cursor(cursor)
        except ValueError:
            raise bad_request("invalid cursor") from None
    items, last = dynamo.query(table, **query)
    return items, quarantine.encode_cursor(last) if last else None


def _with_next(body: dict[str, Any], cursor: str | None) -> dict[str, Any]:
    if cursor:
        body["next"] = cursor
    return body


def entity_key_from(entity: str | None, source: str | None) -> str:
    """``entity=customer#cus_…`` or ``source=<connector>/<entity>/<source id>``."""
    if entity:
        kind, sep, ident = entity.partition("#")
        if not sep or not ident or (kind not in ENTITY_TYPES and kind not in ("input", "event", "rejection", "consent")):
            raise bad_request("entity must look like 'customer#cus_…' (entity type, '#', canonical id)")
        return entity
    if source:
        parts = source.split("/", 2)
        if len(parts) != 3 or parts[1] not in ENTITY_TYPES:
            raise bad_request("source must look like '<connector>/<entity type>/<source id>', e.g. demo_crm/customer/C-1001")
        ref = SourceRef(system=parts[0], entity=parts[1], id=parts[2])  # type: ignore[arg-type]
        return identity.entity_key(ref.entity, identity.id_for(ref))
    raise bad_request("give entity=, source=, correlation= or day=")


def audit_trail(settings: Settings, params: dict[str, str]) -> dict[str, Any]:
    limit = _limit(params.get("limit"), 100)
    if params.get("correlation"):
        items = audit.read_correlation(settings.audit_table, params["correlation"], limit)
        return {"correlation": params["correlation"], "entries": [audit.entry_view(i) for i in items]}
    if params.get("day"):
        return audit_by_time(settings, params, limit)
    key = entity_key_from(params.get("entity"), params.get("source"))
    cursor = params.get("next")
    if cursor and not cursor.isdigit():
        raise bad_request("invalid cursor")
    items, last = audit.read_entity(settings.audit_table, key, limit=limit, after=cursor)
    body: dict[str, Any] = {"entity": key, "entries": [audit.entry_view(i) for i in items]}
    if last:
        body["next"] = last
    return body


def audit_by_time(settings: Settings, params: dict[str, str], limit: int) -> dict[str, Any]:
    """Everything audited on one UTC day (optionally from/to a time), in time order."""
    from datetime import date

    day = params["day"]
    try:
        date.fromisoformat(day)
    except ValueError:
        raise bad_request("day must look like 2026-11-25 (UTC)") from None
    condition, values = "#d = :d", {":d": {"S": day}}
    bounds = [params.get("from"), params.get("to")]
    for bound in bounds:
        if bound:
            try:
                datetime.fromisoformat(bound.replace("Z", "+00:00"))
            except ValueError:
                raise bad_request("from / to must be ISO 8601 times in UTC, e.g. 2026-11-25T08:00:00+00:00") from None
    if bounds[0] and bounds[1]:
        condition += " AND #at BETWEEN :from AND :to"
        values.update({":from": {"S": bounds[0]}, ":to": {"S": bounds[1]}})
    elif bounds[0]:
        condition += " AND #at >= :from"
        values[":from"] = {"S": bounds[0]}
    elif bounds[1]:
        condition += " AND #at <= :to"
        values[":to"] = {"S": bounds[1]}
    kwargs: dict[str, Any] = {
        "IndexName": "by-day",
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": {"#d": "day", **({"#at": "at"} if any(bounds) else {})},
        "ExpressionAttributeValues": values,
        "Limit": limit,
    }
    items, cursor = _page(settings.audit_table, kwargs, params.get("next"))
    return _with_next({"day": day, "entries": [audit.entry_view(i) for i in items]}, cursor)


def verify_chain(settings: Settings, params: dict[str, str]) -> dict[str, Any]:
    key = entity_key_from(params.get("entity"), params.get("source"))
    return audit.verify_entity(settings.audit_table, key)


def entity_state(settings: Settings, params: dict[str, str]) -> dict[str, Any]:
    key = entity_key_from(params.get("entity"), params.get("source"))
    item = dynamo.get(settings.state_table, key, "golden")
    if item is None:
        raise not_found(f"no state for {key}")
    return {k: v for k, v in item.items() if k not in ("pk", "sk")} | {"entity": key}


def list_events(settings: Settings, params: dict[str, str]) -> dict[str, Any]:
    limit = _limit(params.get("limit"))
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    if params.get("type"):
        index, condition = "by-type", "#h = :h"
        names["#h"], values[":h"] = "type", {"S": params["type"]}
    elif params.get("subject"):
        index, condition = "by-subject", "#h = :h"
        names["#h"], values[":h"] = "subject", {"S": params["subject"]}
    else:
        index, condition = "all", "#h = :h"
        names["#h"], values[":h"] = "all", {"S": "all"}
    if params.get("since"):
        since = params["since"]
        try:
            datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise bad_request("since must be an ISO 8601 time, e.g. 2026-11-01T00:00:00+00:00") from None
        condition += " AND time_id >= :since"
        values[":since"] = {"S": since}
    kwargs: dict[str, Any] = {
        "IndexName": index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
        "Limit": limit,
    }
    filters = []
    if params.get("type") and params.get("subject"):
        filters.append("subject = :subject")
        values[":subject"] = {"S": params["subject"]}
    if params.get("status"):
        if params["status"] not in ("pending", "delivered", "retrying", "dead"):
            raise bad_request("status must be one of: pending, delivered, retrying, dead")
        filters.append("#st = :status")
        names["#st"] = "status"
        values[":status"] = {"S": params["status"]}
    if filters:
        kwargs["FilterExpression"] = " AND ".join(filters)
    items, cursor = _page(settings.events_table, kwargs, params.get("next"))
    return _with_next({"events": [_event_view(i) for i in items]}, cursor)


def _event_view(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": json.loads(item["event"]) if isinstance(item.get("event"), str) else item.get("event"),
        "delivery": {"status": item.get("status"), "attempts": item.get("attempts"), "targets": item.get("targets", {})},
    }


def list_quarantine(settings: Settings, params: dict[str, str]) -> dict[str, Any]:
    try:
        items, cursor = quarantine.list_items(
            settings.quarantine_table,
            connector=params.get("connector"),
            status=params.get("status"),
            limit=_limit(params.get("limit")),
            cursor=params.get("next"),
        )
    except ValueError:
        raise bad_request("invalid cursor") from None
    body: dict[str, Any] = {"records": [quarantine.view(i) for i in items]}
    if cursor:
        body["next"] = cursor
    return body


def get_quarantined(settings: Settings, qid: str) -> dict[str, Any]:
    item = quarantine.get(settings.quarantine_table, qid)
    if item is None:
        raise not_found(f"no quarantined record {qid}")
    return quarantine.view(item, with_raw=True)


def replay_one(config: Configuration, settings: Settings, qid: str, actor: str) -> dict[str, Any]:
    from chalicelib.pipeline.processor import Processor

    item = quarantine.get(settings.quarantine_table, qid)
    if item is None:
        raise not_found(f"no quarantined record {qid}")
    if item.get("status") != "open":
        raise ApiError(409, "already_replayed", f"{qid} is {item.get('status')}; nothing to replay")
    outcome = Processor(config, settings).process(quarantine.raw_input(item), replay_by=actor)
    return {"id": qid, "status": outcome.status, "entity": outcome.entity_key, "events": outcome.event_ids, "message": outcome.message}


def replay_matching(config: Configuration, settings: Settings, params: dict[str, Any], actor: str) -> dict[str, Any]:
    """Replay every open record matching the filter (connector, code, mapping), up to ``limit``."""
    limit = _limit(str(params.get("limit", MAX_PAGE)), MAX_PAGE)
    results = []
    cursor = None
    while len(results) < limit:
        items, cursor = quarantine.list_items(
            settings.quarantine_table, connector=params.get("connector"), status="open", limit=MAX_PAGE, cursor=cursor
        )
        for item in items:
            if params.get("code") and item.get("code") != params["code"]:
                continue
            if params.get("mapping") and item.get("mapping") != params["mapping"]:
                continue
            results.append(replay_one(config, settings, item["id"], actor))
            if len(results) >= limit:
                break
        if not cursor:
            break
    return {"replayed": len(results), "results": results}
