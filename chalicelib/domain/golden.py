"""Golden record merge: one current value per canonical field, each with its provenance.

Why it works this way:
- Each field may have an *owner system* (system of record). Only the owner's updates change the
  golden value; other systems' values are kept per source so the audit can show them.
- Staleness is per entity *and source*: an update whose source time is not newer than the last one
  applied from the same system changes nothing (a duplicate delivery is stale by definition).
- Updates are partial: an absent field is unchanged, an explicit None clears the value.
- A field nobody owns takes the newest value from any source.

The golden item (state key ``golden_key(entity, id)``)::

    {"entity": str, "id": str, "first_seen": iso,
     "fields": {field: value},                                 # JSON-safe; money stays Decimal
     "provenance": {field: {"system", "time", "record_id"}},   # who set the golden value, when
     "sources": {system: {"time", "record_id", "ignored": {field: value}}},  # non-owner values kept
     "fired": [marker, ...]}                                   # triggers' once-only markers
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.canonical import CanonicalRecord

OwnerLookup = Callable[[str], "str | None"]


def to_state(value: Any) -> Any:
    """Make a canonical value JSON/DynamoDB-safe: datetimes to ISO text, floats never (Decimal)."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {str(k): to_state(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_state(v) for v in value]
    if hasattr(value, "model_dump"):
        return to_state(value.model_dump())
    return value


def iso(moment: datetime) -> str:
    """UTC ISO text with microseconds: sorts and compares like the instant it names."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class MergeResult:
    stale: bool
    item: dict[str, Any]
    before: dict[str, Any]  # golden fields before the merge
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    ignored: dict[str, Any] = field(default_factory=dict)  # non-owner values kept but not applied
    first_sight: bool = False
    stored_time: str | None = None  # last applied time from this source, before the merge


def merge(previous: dict[str, Any] | None, record: CanonicalRecord, entity_id: str, owner_of: OwnerLookup) -> MergeResult:
    """Apply one partial update to the golden item (previous is not modified)."""
    system = record.source.system
    stored = previous or {}
    sources = {k: dict(v) for k, v in stored.get("sources", {}).items()}
    stored_time = sources.get(system, {}).get("time")
    before = dict(stored.get("fields", {}))
    if stored_time is not None and record.source_time <= parse_time(stored_time):
        return MergeResult(True, stored, before, stored_time=stored_time)

    when = iso(record.source_time)
    fields = dict(before)
    provenance = {k: dict(v) for k, v in stored.get("provenance", {}).items()}
    ignored: dict[str, Any] = {}
    changed: dict[str, tuple[Any, Any]] = {}
    for name, raw in record.fields.items():
        value = to_state(raw)
        owner = owner_of(name)
        if owner is not None and owner != system:
            ignored[name] = value
            continue
        current = provenance.get(name)
        if owner is None and current is not None and record.source_time < parse_time(current["time"]):
            ignored[name] = value  # unowned field: a newer value from another source already won
            continue
        provenance[name] = {"system": system, "time": when, "record_id": record.source.id}
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
        if before.get(name) != value:
            changed[name] = (before.get(name), value)
    sources[system] = {"time": when, "record_id": record.source.id, "ignored": ignored}
    item = {
        "entity": record.entity,
        "id": entity_id,
        "first_seen": stored.get("first_seen", when),
        "fields": fields,
        "provenance": provenance,
        "sources": sources,
        "fired": list(stored.get("fired", [])),
    }
    return MergeResult(False, item, before, changed, ignored, first_sight=previous is None, stored_time=stored_time)
