"""What the operator endpoints and the CLI do; both call these functions."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from chalicelib.api.errors import bad_request, not_found
from chalicelib.api.requests import DiscardChoice, DiscardFilter, QuarantineFilter, ReplayChoice, ReplayFilter
from chalicelib.configuration import Configuration
from chalicelib.domain import identity
from chalicelib.domain.canonical import ENTITY_TYPES, SourceRef
from chalicelib.domain.inbound import InboundRecord
from chalicelib.errors import ApiError, ConflictError, PayloadMissing
from chalicelib.mapping import CompiledMapping
from chalicelib.runtime.settings import Settings, get_settings
from chalicelib.store import audit, keys, quarantine, queries
from chalicelib.store.queries import EventFilter, InvalidCursor

MAX_PAGE = 200
DELIVERY_STATUSES = ("pending", "delivered", "retrying", "dead")
CHAIN_KINDS = tuple(prefix.rstrip("#") for prefix in keys.CHAIN_PREFIXES)


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


def _with_next(body: dict[str, Any], cursor: str | None) -> dict[str, Any]:
    if cursor:
        body["next"] = cursor
    return body


def _time(value: str, message: str) -> str:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(message) from None
    return value


def entity_key_from(entity: str | None, source: str | None) -> str:
    """``entity=customer#cus_…`` (or another audit chain) or ``source=<connector>/<entity>/<source id>``."""
    if entity:
        kind, sep, ident = entity.partition("#")
        if not sep or not ident or (kind not in ENTITY_TYPES and kind not in CHAIN_KINDS):
            raise bad_request("entity must look like 'customer#cus_…' (entity type, '#', canonical id)")
        return entity
    if source:
        parts = source.split("/", 2)
        if len(parts) != 3 or parts[1] not in ENTITY_TYPES:
            raise bad_request("source must look like '<connector>/<entity type>/<source id>', e.g. demo_crm/customer/C-1001")
        ref = SourceRef(system=parts[0], entity=parts[1], id=parts[2])  # type: ignore[arg-type]
        settings = get_settings()
        found = queries.entity_of_source(settings, ref) or identity.id_for(ref)
        return identity.entity_key(ref.entity, queries.survivor_of(settings, ref.entity, found))
    raise bad_request("give entity=, source=, correlation= or day=")


def audit_trail(settings: Settings, params: dict[str, str]) -> dict[str, Any]:
    limit = _limit(params.get("limit"), 100)
    if params.get("correlation"):
        items = queries.audit_of_correlation(settings, params["correlation"], limit)
        return {"correlation": params["correlation"], "entries": [audit.entry_view(i) for i in items]}
    if params.get("day"):
        return audit_by_time(settings, params, limit)
    key = entity_key_from(params.get("entity"), params.get("source"))
    try:
        items, last = queries.audit_of_chain(settings, key, limit, params.get("next"))
    except InvalidCursor:
        raise bad_request("invalid cursor") from None
    return _with_next({"entity": key, "entries": [audit.entry_view(i) for i in items]}, last)


def audit_by_time(settings: Settings, params: dict[str, str], limit: int) -> dict[str, Any]:
    """Everything audited on one UTC day (optionally from/to a time), in time order."""
    day = params["day"]
    try:
        date.fromisoformat(day)
    except ValueError:
        raise bad_request("day must look like 2026-11-25 (UTC)") from None
    message = "from / to must be ISO 8601 times in UTC, e.g. 2026-11-25T08:00:00+00:00"
    start = _time(params["from"], message) if params.get("from") else None
    end = _time(params["to"], message) if params.get("to") else None
    try:
        items, cursor = queries.audit_of_day(settings, day, start, end, limit, params.get("next"))
    except InvalidCursor:
        raise bad_request("invalid cursor") from None
    return _with_next({"day": day, "entries": [audit.entry_view(i) for i in items]}, cursor)


def verify_chain(settings: Settings, params: dict[str, str]) -> dict[str, Any]:
    key = entity_key_from(params.get("entity"), params.get("source"))
    return audit.verify_entity(settings.audit_table, key)


def entity_state(settings: Settings, params: dict[str, str]) -> dict[str, Any]:
    key = entity_key_from(params.get("entity"), params.get("source"))
    entity, _, entity_id = key.partition("#")
    item = queries.golden(settings, entity, entity_id) if entity in ENTITY_TYPES else None
    if item is None:
        raise not_found(f"no state for {key}")
    return {k: v for k, v in item.items() if k not in ("pk", "sk")} | {"entity": key}


def list_events(settings: Settings, params: dict[str, str]) -> dict[str, Any]:
    limit = _limit(params.get("limit"))
    status = params.get("status")
    if status and status not in DELIVERY_STATUSES:
        raise bad_request(f"status must be one of: {', '.join(DELIVERY_STATUSES)}")
    since = _time(params["since"], "since must be an ISO 8601 time, e.g. 2026-11-01T00:00:00+00:00") if params.get("since") else None
    wanted = EventFilter(type=params.get("type") or None, subject=params.get("subject") or None, status=status or None, since=since)
    try:
        items, cursor = queries.events(settings, wanted, limit, params.get("next"))
    except InvalidCursor:
        raise bad_request("invalid cursor") from None
    return _with_next({"events": [_event_view(i) for i in items]}, cursor)


def _event_view(item: dict[str, Any]) -> dict[str, Any]:
    event = json.loads(item["event"]) if isinstance(item.get("event"), str) else item.get("event")
    return {
        "event": event,
        "delivery": {"status": item.get("status"), "attempts": item.get("attempts"), "targets": item.get("targets", {})},
    }


def list_quarantine(settings: Settings, params: dict[str, str]) -> dict[str, Any]:
    try:
        items, cursor = queries.quarantined(
            settings,
            connector=params.get("connector"),
            status=params.get("status"),
            limit=_limit(params.get("limit")),
            cursor=params.get("next"),
        )
    except InvalidCursor:
        raise bad_request("invalid cursor") from None
    return _with_next({"records": [quarantine.view(i) for i in items]}, cursor)


def get_quarantined(settings: Settings, qid: str) -> dict[str, Any]:
    item = queries.quarantine_record(settings, qid)
    if item is None:
        raise not_found(f"no quarantined record {qid}")
    try:
        return quarantine.view(item, with_raw=True)
    except PayloadMissing as exc:
        raise ApiError(410, "payload_expired", str(exc)) from None


def replay_one(
    config: Configuration,
    settings: Settings,
    qid: str,
    actor: str,
    choice: ReplayChoice | None = None,
    edited: CompiledMapping | None = None,
) -> dict[str, Any]:
    """Replay one open record; with a mapping file, through that file: a dry run, or applied once the file is deployed."""
    from chalicelib.pipeline.processor import Processor

    choice = choice or ReplayChoice()
    item = queries.quarantine_record(settings, qid)
    if item is None:
        raise not_found(f"no quarantined record {qid}")
    if item.get("status") != "open":
        raise ApiError(409, "already_replayed", f"{qid} is {item.get('status')}; nothing to replay")
    try:
        inbound = quarantine.raw_input(item)
    except PayloadMissing as exc:
        raise ApiError(410, "payload_expired", str(exc)) from None
    if choice.mapping_file is not None and edited is None:
        edited = _edited_mapping(config, choice.mapping_file)
    if edited is not None and (edited.connector, edited.object) != (inbound.connector, inbound.object):
        raise bad_request(f"{qid} came from {inbound.connector} {inbound.object}; the mapping file maps {edited.connector} {edited.object}")
    if choice.dry_run:
        return _dry_replay(config, settings, qid, inbound, edited)
    if edited is not None:
        _require_deployed(config, edited)
    outcome = Processor.of(config, settings).process(inbound, replay_by=actor)
    return {"id": qid, "status": outcome.status, "entity": outcome.entity_key, "events": outcome.event_ids, "message": outcome.message}


def discard_one(settings: Settings, qid: str, actor: str, choice: DiscardChoice) -> dict[str, Any]:
    """Give up one open record for good: closed as discarded, its input final (docs: chalicelib/pipeline/discard.py)."""
    from chalicelib.pipeline.discard import discard
    from chalicelib.store.dynamo_store import DynamoStore

    item = queries.quarantine_record(settings, qid)
    if item is None:
        raise not_found(f"no quarantined record {qid}")
    try:
        discarded = item.get("status") == "open" and discard(DynamoStore(settings), item, actor, choice.reason)
    except ConflictError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    if not discarded:
        now = queries.quarantine_record(settings, qid) or item
        raise ApiError(409, "not_open", f"{qid} is {now.get('status')}; only an open record can be discarded")
    return {"id": qid, "status": "discarded", "discarded_by": actor, "reason": choice.reason}


def _edited_mapping(config: Configuration, text: str) -> CompiledMapping:
    from chalicelib.api.mappings import compile_edited

    return compile_edited(config, text, "mapping file")


def _dry_replay(
    config: Configuration, settings: Settings, qid: str, inbound: InboundRecord, edited: CompiledMapping | None
) -> dict[str, Any]:
    """What the replay would do now, through the edited mapping (or the deployed one); nothing is written."""
    from chalicelib.pipeline.dry_run import simulate
    from chalicelib.pipeline.evaluate import Rules
    from chalicelib.store.dynamo_store import DynamoStore

    mapping = edited if edited is not None else config.mappings.find(inbound.connector, inbound.object)
    if mapping is None:
        raise bad_request(f"no mapping is deployed for {inbound.connector} {inbound.object}: send a mapping file")
    result = simulate(Rules.of(config), mapping, inbound.payload, DynamoStore(settings))
    return {"id": qid, "dry_run": True, "mapping": mapping.name, "mapping_version": mapping.version, **result}


def _require_deployed(config: Configuration, edited: CompiledMapping) -> None:
    """A replay applies the deployed mapping only: every later record of the source goes through it too."""
    deployed = config.mappings.find(edited.connector, edited.object)
    if deployed is None or deployed.version != edited.version:
        shown = f"version {deployed.version}" if deployed is not None else "no mapping"
        raise ApiError(
            409,
            "mapping_not_deployed",
            f"the deployed mapping for {edited.connector} {edited.object} is {shown}, the file is version {edited.version}: "
            "deploy the file, then replay (a dry run shows what the file would do now)",
        )


REPLAY_PAGE = 25  # open records read at a time: a request stops between pages, never inside one
REPLAY_MARGIN_SECONDS = 8.0  # a request starts no further page with less time than this left


def replay_matching(
    config: Configuration, settings: Settings, wanted: ReplayFilter, actor: str, seconds_left: Callable[[], float] = lambda: math.inf
) -> dict[str, Any]:
    """Replay the open records matching the filter (connector, code, mapping), up to ``limit``, as it chooses.

    With a mapping file, only the records of the source object it maps are taken. Records are
    taken newest first, a page at a time, while the request has time; ``"complete": false``
    with ``next`` means more may match: the same request with ``after`` set to it goes on from
    there (records still failing are not taken again, records quarantined since are left).
    """
    edited = _edited_mapping(config, wanted.mapping_file) if wanted.mapping_file is not None else None
    if edited is not None and not wanted.dry_run:
        _require_deployed(config, edited)

    def replay(item: dict[str, Any]) -> dict[str, Any] | None:
        if edited is not None and (item.get("connector"), item.get("object")) != (edited.connector, edited.object):
            return None
        return replay_one(config, settings, item["id"], actor, wanted, edited)

    results, cursor = _take_open_records(settings, wanted, replay, seconds_left)
    key = "would_replay" if wanted.dry_run else "replayed"
    return {key: len(results), "results": results, "complete": not cursor, "next": cursor}


def discard_matching(
    settings: Settings, wanted: DiscardFilter, actor: str, seconds_left: Callable[[], float] = lambda: math.inf
) -> dict[str, Any]:
    """Discard the open records matching the filter, up to ``limit``, a page at a time as ``replay_matching`` takes them.

    A record closed meanwhile (replayed, or discarded by another request) is left out of the results.
    """
    from chalicelib.pipeline.discard import discard
    from chalicelib.store.dynamo_store import DynamoStore

    store = DynamoStore(settings)

    def discard_one(item: dict[str, Any]) -> dict[str, Any] | None:
        try:
            discarded = discard(store, item, actor, wanted.reason)
        except ConflictError as exc:
            raise ApiError(409, "conflict", f"{exc} (the records discarded before it stay discarded)") from None
        if not discarded:
            return None
        return {"id": item["id"], "status": "discarded", "connector": item.get("connector"), "code": item.get("code")}

    results, cursor = _take_open_records(settings, wanted, discard_one, seconds_left)
    return {"discarded": len(results), "reason": wanted.reason, "results": results, "complete": not cursor, "next": cursor}


def _take_open_records(
    settings: Settings,
    wanted: QuarantineFilter,
    take: Callable[[dict[str, Any]], dict[str, Any] | None],
    seconds_left: Callable[[], float],
) -> tuple[list[dict[str, Any]], str | None]:
    """``take`` each open record matching the filter, newest first, a page at a time while the request has time.

    Returns what ``take`` answered (None: not taken) and the cursor to go on from (None: no more).
    """
    results: list[dict[str, Any]] = []
    cursor, pages = wanted.after, 0
    while len(results) < wanted.limit and (pages == 0 or seconds_left() > REPLAY_MARGIN_SECONDS):
        pages += 1  # the first page whatever the time left, so every request gets somewhere
        page = min(REPLAY_PAGE, wanted.limit - len(results))  # so a request that reaches its limit ends on a page's end
        try:
            items, cursor = queries.quarantined(settings, connector=wanted.connector, status="open", limit=page, cursor=cursor)
        except InvalidCursor:
            raise bad_request("after: invalid cursor (give the next of the previous answer)") from None
        for item in items:
            if wanted.code and item.get("code") != wanted.code:
                continue
            if wanted.mapping and item.get("mapping") != wanted.mapping:
                continue
            result = take(item)
            if result is not None:
                results.append(result)
        if not cursor:
            break
    return results, cursor
