"""The golden record: one current value per canonical field, chosen from the latest values of its members.

Why it works this way:
- An entity is made of member source records (the CRM account, the ERP customer, the POS
  member …). The golden item keeps each member's latest values, so the golden values can
  always be recomputed from them: when a member changes, when two entities merge, and when
  an operator separates them again.
- Survivorship, per field: when the field has an owner system (system of record), only that
  system's members count; among the candidates the most recent source time wins, then the
  higher version, then a fixed order of the members, so the result never depends on the
  order records arrived in. Other systems' values stay on their member, audited, unapplied.
- Staleness is per member: an update whose (source time, version) is not newer than the
  member's stored one changes nothing (a duplicate delivery is stale by definition).
- Updates are partial: an absent field is unchanged, an explicit None clears the value.

The golden item (state key ``golden_key(entity, id)``)::

    {"entity": str, "id": str, "first_seen": iso,
     "fields": {field: value},                                   # JSON-safe; money stays Decimal
     "provenance": {field: {"system", "record_id", "time"}},     # which member gave the value
     "sources": {"<system>/<entity>/<id>": {"system", "record_id", "time", "version"?,
                                            "fields": {...}, "keys": [...]}},   # every member's latest
     "fired": [marker, ...],                                     # triggers' once-only markers
     "aliases": [id, ...]}                                       # ids merged into this one

An id merged into another holds only ``{"alias_of": survivor}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.canonical import CanonicalRecord
from chalicelib.domain.identity import ref_text

Item = dict[str, Any]


@dataclass(frozen=True)
class Survivorship:
    """Which member's value a golden field takes: its owner system's, else by preference, else the most recent."""

    owners: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # entity -> field|"*" -> system ("": nobody)
    preference: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)  # entity -> field -> systems

    def owner_of(self, entity: str, name: str) -> str | None:
        by_field = self.owners.get(entity, {})
        return by_field.get(name, by_field.get("*")) or None

    def with_claims(self, entity: str, claims: Mapping[str, str]) -> Survivorship:
        """Owners a record's mapping claims, for fields the configuration says nothing about."""
        known = self.owners.get(entity, {})
        extra = {name: system for name, system in claims.items() if name not in known and "*" not in known}
        if not extra:
            return self
        return Survivorship({**self.owners, entity: {**extra, **known}}, self.preference)

    def preference_of(self, entity: str, name: str) -> tuple[str, ...]:
        return tuple(self.preference.get(entity, {}).get(name, ()))


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


def is_alias(item: Item | None) -> bool:
    return bool(item) and "alias_of" in item  # type: ignore[operator]


@dataclass
class MergeResult:
    stale: bool
    item: Item
    before: Item  # golden fields before the merge
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    ignored: dict[str, Any] = field(default_factory=dict)  # this record's values another system owns: kept, not applied
    first_sight: bool = False  # the entity had no golden record before
    stored_time: str | None = None  # this member's last applied time, before the merge


def _order(member: Item) -> tuple[str, Decimal, str]:
    version = member.get("version")
    return (str(member.get("time", "")), Decimal(version) if version is not None else Decimal("-Infinity"), "")


def is_newer(record: CanonicalRecord, member: Item | None) -> bool:
    """The record is newer than the member's stored version: by source time, then by version."""
    if member is None:
        return True
    version, stored_version = record.source_version, member.get("version")
    newer_version = version is not None and (stored_version is None or Decimal(version) > Decimal(stored_version))
    if record.time_is_receipt:  # no change time from the source: its version alone orders the changes
        return newer_version
    time, stored = iso(record.source_time), str(member.get("time", ""))
    return time > stored if time != stored else newer_version


def survive(sources: dict[str, Item], entity: str, rules: Survivorship) -> tuple[Item, Item]:
    """(fields, provenance) from the members' latest values: the owner's, else by preference, else the most recent."""
    names = sorted({name for member in sources.values() for name in member.get("fields", {})})
    fields: Item = {}
    provenance: Item = {}
    for name in names:
        owner = rules.owner_of(entity, name)
        preferred = rules.preference_of(entity, name)
        candidates = [
            (key, member)
            for key, member in sources.items()
            if name in member.get("fields", {}) and (owner is None or member.get("system") == owner)
        ]
        if not candidates:
            continue

        def standing(candidate: tuple[str, Item], preferred: tuple[str, ...] = preferred) -> tuple[int, str, Decimal, str]:
            key, member = candidate
            system = str(member.get("system"))
            place = preferred.index(system) if system in preferred else len(preferred)
            time, version, _ = _order(member)
            return (-place, time, version, key)

        key, member = max(candidates, key=standing)
        value = member["fields"][name]
        if value is None:
            continue
        fields[name] = value
        provenance[name] = {"system": member["system"], "record_id": member["record_id"], "time": member["time"]}
    return fields, provenance


def merge(previous: Item | None, record: CanonicalRecord, entity_id: str, rules: Survivorship, keys: Iterable[str] = ()) -> MergeResult:
    """Apply one partial update from one member to the golden item (``previous`` is not modified)."""
    stored = previous or {}
    sources = {k: dict(v) for k, v in stored.get("sources", {}).items()}
    member_key = ref_text(record.source)
    member = sources.get(member_key)
    before = dict(stored.get("fields", {}))
    if not is_newer(record, member):
        return MergeResult(True, stored, before, stored_time=str(member["time"]) if member else None)

    values = {name: to_state(value) for name, value in record.fields.items()}
    ignored = {name: value for name, value in values.items() if rules.owner_of(record.entity, name) not in (None, record.source.system)}
    updated: Item = {
        "system": record.source.system,
        "record_id": record.source.id,
        "time": iso(record.source_time),
        "fields": {**(member or {}).get("fields", {}), **values},
        "keys": list(keys) or list((member or {}).get("keys", [])),
    }
    if record.source_version is not None:
        updated["version"] = record.source_version
    sources[member_key] = updated
    item = _with_sources(stored, sources, record.entity, entity_id, iso(record.source_time), rules)
    item["first_seen"] = min(str(item["first_seen"]), iso(record.source_time))  # whichever member came first, not arrived
    changed = {
        name: (before.get(name), item["fields"].get(name))
        for name in before.keys() | item["fields"].keys()
        if before.get(name) != item["fields"].get(name)
    }
    stored_time = str(member["time"]) if member else None
    return MergeResult(False, item, before, changed, ignored, first_sight=previous is None, stored_time=stored_time)


def combine(goldens: list[Item], entity: str, entity_id: str, rules: Survivorship, merged_ids: Iterable[str]) -> Item:
    """The golden item of entities found to be one: every member kept, values recomputed, markers united."""
    sources: dict[str, Item] = {}
    for golden in goldens:
        for key, member in golden.get("sources", {}).items():
            if key not in sources or _order(member) > _order(sources[key]):
                sources[key] = dict(member)
    base: Item = {
        "first_seen": min((str(g["first_seen"]) for g in goldens if g.get("first_seen")), default=None),
        "fired": sorted({marker for g in goldens for marker in g.get("fired", [])}),
        "aliases": sorted({*(a for g in goldens for a in g.get("aliases", [])), *merged_ids} - {entity_id}),
    }
    return _with_sources(base, sources, entity, entity_id, str(base["first_seen"] or ""), rules)


def split(golden: Item, moved: set[str], entity: str, entity_id: str, new_id: str, rules: Survivorship) -> tuple[Item, Item]:
    """An entity separated in two by an operator: (what stays, what moves to ``new_id``), each recomputed."""
    sources = golden.get("sources", {})
    staying = {k: v for k, v in sources.items() if k not in moved}
    moving = {k: v for k, v in sources.items() if k in moved}
    kept = _with_sources(golden, staying, entity, entity_id, str(golden.get("first_seen", "")), rules)
    kept["apart"] = sorted({*golden.get("apart", []), new_id})
    times = [str(m["time"]) for m in moving.values()]
    out = _with_sources({"fired": list(golden.get("fired", []))}, moving, entity, new_id, min(times, default=""), rules)
    out["apart"] = [entity_id]
    return kept, out


def _with_sources(base: Item, sources: dict[str, Item], entity: str, entity_id: str, first_seen: str, rules: Survivorship) -> Item:
    fields, provenance = survive(sources, entity, rules)
    item = {k: v for k, v in base.items() if k not in ("alias_of",)}
    item.update(
        entity=entity,
        id=entity_id,
        first_seen=base.get("first_seen") or first_seen,
        fields=fields,
        provenance=provenance,
        sources=sources,
        fired=list(base.get("fired", [])),
    )
    if not item.get("aliases"):
        item.pop("aliases", None)
    return item


def member_keys(golden: Item | None) -> set[str]:
    """Every match key some member of the entity holds."""
    return {key for member in (golden or {}).get("sources", {}).values() for key in member.get("keys", [])}
