"""The operator surface's reads: audit by entity, correlation or day; events; quarantine; golden records.

Lists come a page at a time with an opaque ``next`` cursor: DynamoDB's last evaluated
key, encoded. A cursor is checked against the query it continues — the key shape of its
table and index, the index key value the query fixes, the range its key condition allows and
DynamoDB's key sizes — so a forged, truncated or borrowed one is refused (``InvalidCursor``,
answered 400) instead of reaching DynamoDB, which would answer a ValidationException (a 500).

Cursors are not signed: every caller of these listings is an authenticated operator who may
read every page anyway, so a forged cursor that passes these checks only starts the same
query at another point of it; a key would add a secret read to every listing and end every
open cursor when rotated, for nothing gained.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.canonical import SourceRef
from chalicelib.runtime.settings import Settings
from chalicelib.store import audit, dynamo, keys
from chalicelib.store.quarantine import get as get_quarantined

Page = tuple[list[dict[str, Any]], "str | None"]

# The attributes of each listing's last evaluated key (table key + index key), and their types.
_EVENTS_KEY = {"pk": "S", "sk": "S", "time_id": "S"}
_QUARANTINE_KEY = {"pk": "S", "sk": "S", "order_key": "S"}
_AUDIT_DAY_KEY = {"pk": "S", "sk": "S", "day": "S", "at": "S"}


class InvalidCursor(ValueError):
    """A ``next`` value this listing did not hand out."""


@dataclass(frozen=True)
class EventFilter:
    type: str | None = None
    subject: str | None = None
    status: str | None = None
    since: str | None = None


def encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":"), sort_keys=True).encode()).decode()


MAX_CURSOR_CHARS = 8192
HASH_KEY_BYTES, RANGE_KEY_BYTES = 2048, 1024  # DynamoDB's limits for a partition key and a sort key


@dataclass(frozen=True)
class Continues:
    """What a cursor must agree with: the index key value the query fixes, and the range it allows."""

    index_keys: tuple[str, str] | tuple[()] = ()
    fixed: str | None = None  # the value of index_keys[0] the key condition names
    low: str | None = None  # index_keys[1] >= low
    high: str | None = None  # index_keys[1] <= high


def decode_cursor(cursor: str, shape: dict[str, str], index_keys: tuple[str, ...] = (), within: Continues | None = None) -> dict[str, Any]:
    """The last evaluated key inside a cursor; raises InvalidCursor unless it fits the query it continues."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("invalid cursor")
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error, RecursionError):
        raise InvalidCursor("invalid cursor") from None
    if not isinstance(key, dict) or set(key) != {"pk", "sk", *index_keys}:
        raise InvalidCursor("invalid cursor")
    values: dict[str, str] = {}
    for name, value in key.items():
        kind = shape.get(name)
        if kind is None or not isinstance(value, dict) or set(value) != {kind} or not isinstance(value[kind], str) or not value[kind]:
            raise InvalidCursor("invalid cursor")
        values[name] = value[kind]
    sizes = {"pk": HASH_KEY_BYTES, "sk": RANGE_KEY_BYTES, **dict(zip(index_keys, (HASH_KEY_BYTES, RANGE_KEY_BYTES), strict=False))}
    if any(len(text.encode()) > sizes[name] for name, text in values.items()):
        raise InvalidCursor("invalid cursor")
    if within is not None and within.index_keys:
        hash_name, range_name = within.index_keys
        position = values[range_name]
        if (within.fixed is not None and values[hash_name] != within.fixed) or (within.low is not None and position < within.low):
            raise InvalidCursor("invalid cursor")
        if within.high is not None and position > within.high:
            raise InvalidCursor("invalid cursor")
    return key


def _page(table: str, query: dict[str, Any], cursor: str | None, shape: dict[str, str], within: Continues) -> Page:
    from botocore.exceptions import ClientError

    if cursor:
        query["ExclusiveStartKey"] = decode_cursor(cursor, shape, within.index_keys, within)
    try:
        items, last = dynamo.query(table, **query)
    except ClientError as exc:
        # DynamoDB's own verdict on a starting key these checks let through: still the caller's mistake.
        if cursor and exc.response.get("Error", {}).get("Code") == "ValidationException":
            raise InvalidCursor("invalid cursor") from None
        raise
    return items, encode_cursor(last) if last else None


# --------------------------------------------------------------------------- audit


def audit_of_chain(settings: Settings, chain: str, limit: int, after: str | None) -> Page:
    if after is not None and not (len(after) == keys.SEQUENCE_DIGITS and after.isascii() and after.isdigit()):
        raise InvalidCursor("invalid cursor")  # a chain's cursor is the sort key of its last entry
    return audit.read_entity(settings.audit_table, chain, limit=limit, after=after)


def audit_of_correlation(settings: Settings, correlation_id: str, limit: int) -> list[dict[str, Any]]:
    return audit.read_correlation(settings.audit_table, correlation_id, limit)


def audit_of_day(settings: Settings, day: str, start: str | None, end: str | None, limit: int, cursor: str | None) -> Page:
    """Everything audited on one UTC day (optionally from/to a time), in time order."""
    condition, values = "#d = :d", {":d": {"S": day}}
    if start and end:
        condition += " AND #at BETWEEN :from AND :to"
        values.update({":from": {"S": start}, ":to": {"S": end}})
    elif start:
        condition += " AND #at >= :from"
        values[":from"] = {"S": start}
    elif end:
        condition += " AND #at <= :to"
        values[":to"] = {"S": end}
    query: dict[str, Any] = {
        "IndexName": "by-day",
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": {"#d": "day", **({"#at": "at"} if start or end else {})},
        "ExpressionAttributeValues": values,
        "Limit": limit,
    }
    return _page(settings.audit_table, query, cursor, _AUDIT_DAY_KEY, Continues(("day", "at"), day, start, end))


# --------------------------------------------------------------------------- events


def events(settings: Settings, wanted: EventFilter, limit: int, cursor: str | None) -> Page:
    """Events newest first, by type, subject or all; optionally since a time and by delivery status."""
    values: dict[str, Any] = {}
    names: dict[str, str] = {"#h": "all"}
    if wanted.type:
        index, names["#h"], values[":h"] = "by-type", "type", {"S": wanted.type}
    elif wanted.subject:
        index, names["#h"], values[":h"] = "by-subject", "subject", {"S": wanted.subject}
    else:
        index, values[":h"] = "all", {"S": "all"}
    condition = "#h = :h"
    if wanted.since:
        condition += " AND time_id >= :since"
        values[":since"] = {"S": wanted.since}
    query: dict[str, Any] = {
        "IndexName": index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": False,
        "Limit": limit,
    }
    filters = []
    if wanted.type and wanted.subject:
        filters.append("subject = :subject")
        values[":subject"] = {"S": wanted.subject}
    if wanted.status:
        filters.append("#st = :status")
        names["#st"] = "status"
        values[":status"] = {"S": wanted.status}
    if filters:
        query["FilterExpression"] = " AND ".join(filters)
    index_keys = {"by-type": ("type", "time_id"), "by-subject": ("subject", "time_id"), "all": ("all", "time_id")}[index]
    within = Continues(index_keys, values[":h"]["S"], wanted.since)
    return _page(settings.events_table, query, cursor, {**_EVENTS_KEY, index_keys[0]: "S"}, within)


def event(settings: Settings, event_id: str) -> dict[str, Any] | None:
    return dynamo.get(settings.events_table, *keys.event(event_id))


# --------------------------------------------------------------------------- quarantine


def quarantined(settings: Settings, *, connector: str | None, status: str | None, limit: int, cursor: str | None) -> Page:
    """Quarantined records, newest first; ``cursor`` is the opaque ``next`` of the previous page."""
    query: dict[str, Any] = {"ScanIndexForward": False, "Limit": limit}
    if connector:
        query.update(IndexName="by-connector", KeyConditionExpression="connector = :h", ExpressionAttributeValues={":h": {"S": connector}})
        index_keys: tuple[str, str] = ("connector", "order_key")
    else:
        query.update(
            IndexName="all",
            KeyConditionExpression="#a = :h",
            ExpressionAttributeNames={"#a": "all"},
            ExpressionAttributeValues={":h": {"S": "all"}},
        )
        index_keys = ("all", "order_key")
    if status:
        query["FilterExpression"] = "#s = :s"
        query.setdefault("ExpressionAttributeNames", {})["#s"] = "status"
        query["ExpressionAttributeValues"][":s"] = {"S": status}
    fixed = query["ExpressionAttributeValues"][":h"]["S"]
    return _page(settings.quarantine_table, query, cursor, {**_QUARANTINE_KEY, index_keys[0]: "S"}, Continues(index_keys, fixed))


def quarantine_record(settings: Settings, qid: str) -> dict[str, Any] | None:
    return get_quarantined(settings.quarantine_table, qid)


# --------------------------------------------------------------------------- state


def golden(settings: Settings, entity: str, entity_id: str) -> dict[str, Any] | None:
    from chalicelib.domain.state import golden_key

    return dynamo.get(settings.state_table, *keys.state(golden_key(entity, entity_id)))


def entity_of_source(settings: Settings, ref: SourceRef) -> str | None:
    """The entity a source record belongs to (its cross-reference), or None if it was never seen."""
    item = dynamo.get(settings.state_table, *keys.xref(ref))
    return str(item["entity_id"]) if item and item.get("entity_id") else None


def survivor_of(settings: Settings, entity: str, entity_id: str, hops: int = 5) -> str:
    """Follow ``alias_of`` from an id merged into another entity to the entity that holds its record."""
    from chalicelib.domain.state import golden_key

    for _ in range(hops):
        item = dynamo.get(settings.state_table, *keys.state(golden_key(entity, entity_id)))
        if not item or not item.get("alias_of"):
            break
        entity_id = str(item["alias_of"])
    return entity_id
