"""The operator surface's reads: audit by entity, correlation or day; events; quarantine; golden records.

Lists come a page at a time with an opaque ``next`` cursor: the index sort key the page
ended at and a fingerprint of the query it continues, encoded. Listings over a write-sharded
index key read each of its shards (chalicelib.store.keys.INDEX_SHARDS, a bounded fan-out) and
merge them.

A cursor is checked against the query it continues — its shape, the fingerprint (so the
cursor of another listing, index or filter is refused), DynamoDB's size limit for a sort key
and the range the query's key condition allows — so a forged, truncated or borrowed one is
refused (``InvalidCursor``, answered 400) instead of reaching DynamoDB, which would answer a
ValidationException (a 500). Whatever DynamoDB still refuses of a page asked with a cursor is
refused the same way.

Cursors are not signed: every caller of these listings is an authenticated operator who may
read every page anyway, so a forged cursor that passes these checks only starts the same
query at another point of it; a key would add a secret read to every listing and end every
open cursor when rotated, for nothing gained.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from chalicelib.domain.canonical import SourceRef
from chalicelib.runtime.settings import Settings
from chalicelib.store import audit, dynamo, keys, provenance
from chalicelib.store.quarantine import get as get_quarantined

Page = tuple[list[dict[str, Any]], "str | None"]

MAX_ALIASES_LISTED = 64  # a bounded fan-out of index queries per page, like the shards
Values = dict[str, Any]


class InvalidCursor(ValueError):
    """A ``next`` value this listing did not hand out."""


@dataclass(frozen=True)
class EventFilter:
    type: str | None = None
    subject: str | None = None
    status: str | None = None
    since: str | None = None


MAX_CURSOR_CHARS = 4096
SORT_KEY_BYTES = 1024  # DynamoDB's limit for a sort key, and so for a sort key value in a key condition


@dataclass(frozen=True)
class Listing:
    """One page of a listing over index partitions (the shards of a sharded key, or a single key), merged in sort order."""

    table: str
    index: str
    hash_attr: str
    partitions: list[str]
    sort_attr: str
    newest_first: bool
    lowest: str | None = None  # inclusive bounds on the sort key
    highest: str | None = None
    filter: str | None = None  # a FilterExpression, its names and values
    names: dict[str, str] | None = None
    values: Values | None = None

    def fingerprint(self) -> str:
        """Names this query (not the page size): a cursor continues only the query it came from."""
        described = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(described.encode()).hexdigest()[:16]

    def allows(self, position: str) -> bool:
        """Whether the key condition's range holds this sort key (a starting point outside it is refused by DynamoDB)."""
        return (self.lowest is None or position >= self.lowest) and (self.highest is None or position <= self.highest)


def encode_cursor(after: str, query: str) -> str:
    """The ``next`` of a page that ended at sort key ``after`` of the query with fingerprint ``query``."""
    document = {"after": after, "of": query}
    return base64.urlsafe_b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, listing: Listing) -> str:
    """The sort key a listing continues after; raises InvalidCursor unless the cursor fits the query it continues."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("invalid cursor")
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error, RecursionError):
        raise InvalidCursor("invalid cursor") from None
    if not isinstance(document, dict) or set(document) != {"after", "of"} or document["of"] != listing.fingerprint():
        raise InvalidCursor("invalid cursor")
    after = document["after"]
    if not isinstance(after, str) or not after or not _fits_a_sort_key(after) or not listing.allows(after):
        raise InvalidCursor("invalid cursor")
    return after


def _fits_a_sort_key(text: str) -> bool:
    try:
        return len(text.encode("utf-8")) <= SORT_KEY_BYTES
    except UnicodeEncodeError:  # a lone surrogate (JSON's "\ud800") is no key DynamoDB can hold
        return False


def _merged_page(listing: Listing, limit: int, cursor: str | None) -> Page:
    """Read every partition from where the cursor left off, merge, keep what all of them have been read up to.

    A partition that returned a full page (``LastEvaluatedKey``) has only been read up to
    its last key; items beyond the lowest such point (highest, newest first) wait for the
    next page, so nothing is skipped. Sort keys are unique, so the cursor is one of them.
    """
    after = decode_cursor(cursor, listing) if cursor else None
    lowest, highest = listing.lowest, listing.highest
    if after is not None:
        if listing.newest_first:
            highest = after
        else:
            lowest = after
    found: list[dict[str, Any]] = []
    read_up_to: list[str] = []
    for partition in listing.partitions:
        # One more than a page: the item the cursor names comes back too (the bounds are inclusive).
        items, last = _query(listing.table, _partition_query(listing, partition, lowest, highest, limit + (after is not None)), after)
        found += [i for i in items if i[listing.sort_attr] != after]
        if last:
            read_up_to.append(last[listing.sort_attr]["S"])
    found.sort(key=lambda i: str(i[listing.sort_attr]), reverse=listing.newest_first)
    if read_up_to:
        bound = max(read_up_to) if listing.newest_first else min(read_up_to)
        found = [i for i in found if (str(i[listing.sort_attr]) >= bound if listing.newest_first else str(i[listing.sort_attr]) <= bound)]
    page = found[:limit]
    if len(found) > limit or (read_up_to and len(page) == limit):
        return page, encode_cursor(str(page[-1][listing.sort_attr]), listing.fingerprint())
    if read_up_to:
        return page, encode_cursor(bound, listing.fingerprint())
    return page, None


def _query(table: str, query: dict[str, Any], after: str | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    from botocore.exceptions import ClientError

    try:
        return dynamo.query(table, **query)
    except ClientError as exc:
        # DynamoDB's own verdict on a starting point these checks let through: still the caller's mistake.
        if after is not None and exc.response.get("Error", {}).get("Code") == "ValidationException":
            raise InvalidCursor("invalid cursor") from None
        raise


def _partition_query(listing: Listing, partition: str, lowest: str | None, highest: str | None, limit: int) -> dict[str, Any]:
    names = {"#h": listing.hash_attr, **(listing.names or {})}
    values: Values = {":h": {"S": partition}, **(listing.values or {})}
    condition = "#h = :h"
    if lowest is not None and highest is not None:
        condition += " AND #s BETWEEN :lo AND :hi"
        values.update({":lo": {"S": lowest}, ":hi": {"S": highest}})
    elif lowest is not None:
        condition += " AND #s >= :lo"
        values[":lo"] = {"S": lowest}
    elif highest is not None:
        condition += " AND #s <= :hi"
        values[":hi"] = {"S": highest}
    if lowest is not None or highest is not None:
        names["#s"] = listing.sort_attr
    query: dict[str, Any] = {
        "IndexName": listing.index,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ScanIndexForward": not listing.newest_first,
        "Limit": limit,
    }
    if listing.filter:
        query["FilterExpression"] = listing.filter
    return query


# --------------------------------------------------------------------------- audit


def audit_of_chain(settings: Settings, chain: str, limit: int, after: str | None) -> Page:
    if after is not None and not (len(after) == keys.SEQUENCE_DIGITS and after.isascii() and after.isdigit()):
        raise InvalidCursor("invalid cursor")  # a chain's cursor is the sort key of its last entry
    return audit.read_entity(settings.audit_table, chain, limit=limit, after=after)


def audit_of_correlation(settings: Settings, correlation_id: str, limit: int) -> list[dict[str, Any]]:
    return audit.read_correlation(settings.audit_table, correlation_id, limit)


def audit_of_day(settings: Settings, day: str, start: str | None, end: str | None, limit: int, cursor: str | None) -> Page:
    """Everything audited on one UTC day (optionally from/to a time), in time order.

    The day's index partitions hold the first entry of each run; a page of up to ``limit``
    runs is read back entry by entry.
    """
    listing = Listing(
        settings.audit_table,
        "by-day",
        "day_shard",
        keys.all_shards(day),
        "run_at",
        newest_first=False,
        lowest=start,
        highest=f"{end}~" if end else None,  # '~' sorts after the '#' that follows the time in the sort key
    )
    runs, next_cursor = _merged_page(listing, limit, cursor)
    return audit.read_runs(settings.audit_table, runs), next_cursor


# --------------------------------------------------------------------------- events


def events(settings: Settings, wanted: EventFilter, limit: int, cursor: str | None) -> Page:
    """Events newest first, by subject or all (the time index's shards), optionally by type, since a time and by status."""
    names: dict[str, str] = {}
    values: Values = {}
    filters = []
    if wanted.type:
        filters.append("#type = :type")
        names["#type"], values[":type"] = "type", {"S": wanted.type}
    if wanted.status:
        filters.append("#st = :status")
        names["#st"], values[":status"] = "status", {"S": wanted.status}
    if wanted.subject:
        subjects = sorted({keys.index_key(subject) for subject in subjects_of(settings, wanted.subject)})
        index, hash_attr, partitions = "by-subject", "subject", subjects
    else:
        index, hash_attr, partitions = "by-time", "time_shard", keys.all_shards(keys.TIME_SHARD)
    listing = Listing(
        settings.events_table,
        index,
        hash_attr,
        partitions,
        "time_id",
        newest_first=True,
        lowest=wanted.since,
        filter=" AND ".join(filters) or None,
        names=names,
        values=values,
    )
    return _merged_page(listing, limit, cursor)


def subjects_of(settings: Settings, subject: str) -> list[str]:
    """The subjects one entity's events were fired under: the entity that holds it and every id merged into it.

    Events keep the subject they fired with (a merge re-points, it does not re-fire), so asking for
    either customer of a merge lists both customers' events. ``subject`` is a canonical id
    (``cus_…``, as events carry it) or ``customer#cus_…``; anything else is listed as given.
    """
    from chalicelib.domain.identity import PREFIXES

    entity_id = subject.partition("#")[2] if "#" in subject else subject
    entity = next((name for name, prefix in PREFIXES.items() if entity_id.startswith(f"{prefix}_")), None)
    if entity is None:
        return [subject]
    survivor = survivor_of(settings, entity, entity_id)
    aliases = (golden(settings, entity, survivor) or {}).get("aliases", [])
    return sorted({subject, entity_id, survivor, *aliases[:MAX_ALIASES_LISTED]})


def event(settings: Settings, event_id: str) -> dict[str, Any] | None:
    return dynamo.get(settings.events_table, *keys.event(event_id))


# --------------------------------------------------------------------------- quarantine


def quarantined(settings: Settings, *, connector: str | None, status: str | None, limit: int, cursor: str | None) -> Page:
    """Quarantined records, newest first; ``cursor`` is the opaque ``next`` of the previous page."""
    if connector:
        index, hash_attr, partitions = "by-connector", "connector_shard", keys.all_shards(connector)
    else:
        index, hash_attr, partitions = "by-time", "time_shard", keys.all_shards(keys.TIME_SHARD)
    listing = Listing(
        settings.quarantine_table,
        index,
        hash_attr,
        partitions,
        "order_key",
        newest_first=True,
        filter="#status = :status" if status else None,
        names={"#status": "status"} if status else None,
        values={":status": {"S": status}} if status else None,
    )
    return _merged_page(listing, limit, cursor)


def quarantine_record(settings: Settings, qid: str) -> dict[str, Any] | None:
    return get_quarantined(settings.quarantine_table, qid)


# --------------------------------------------------------------------------- state


def golden(settings: Settings, entity: str, entity_id: str) -> dict[str, Any] | None:
    from chalicelib.domain.state import golden_key

    item = dynamo.get(settings.state_table, *keys.state(golden_key(entity, entity_id)))
    return None if item is None else provenance.as_read(item)


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
