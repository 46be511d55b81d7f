"""A customer's (or any entity's) timeline: golden record with lineage, audit trail, events, consent, usage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.configuration import Configuration
from chalicelib.console.masking import Masker
from chalicelib.runtime.settings import Settings
from chalicelib.store import keys

AUDIT_PAGES = 5  # up to 1,000 entries on the page; the chain check always reads them all


@dataclass(frozen=True)
class FieldRow:
    name: str
    value: Any
    category: str | None
    system: str | None  # the system that set the golden value
    source_time: str | None
    record_id: str | None
    source_path: str | None  # the source field it came from
    rule: str | None  # the mapping rule, file:line


def entity_timeline(config: Configuration, settings: Settings, entity_key: str, masker: Masker) -> dict[str, Any]:
    from chalicelib.api import admin, sovereignty
    from chalicelib.errors import ApiError

    kind, _, ident = entity_key.partition("#")
    try:
        state: dict[str, Any] | None = admin.entity_state(settings, {"entity": entity_key})
    except ApiError as exc:
        if exc.status != 404:
            raise
        state = None
    entries, more = _audit_entries(settings, entity_key)
    view: dict[str, Any] = {
        "entity": entity_key,
        "kind": kind,
        "id": ident,
        "state": state,
        "fields": field_rows(config, state, entries, masker) if state else [],
        "entries": entries,
        "more_entries": more,
        "chain": admin.verify_chain(settings, {"entity": entity_key}),
        "events": admin.list_events(settings, {"subject": ident, "limit": "50"})["events"],
        "fired": [e for e in entries if e.get("action") == "trigger_fired"],
    }
    if kind == "customer":
        view["consent"] = sovereignty.get_consent(config, settings, entity_key)["categories"]
        view["consent_entries"], _ = _audit_entries(settings, keys.consent_chain(ident))
        view["usage"] = sovereignty.usage_report(settings, entity_key, config)
    return view


def _audit_entries(settings: Settings, entity_key: str) -> tuple[list[dict[str, Any]], bool]:
    from chalicelib.api.admin import audit_trail

    params = {"entity": entity_key, "limit": "200"}
    entries: list[dict[str, Any]] = []
    for _ in range(AUDIT_PAGES):
        page = audit_trail(settings, params)
        entries += page["entries"]
        if "next" not in page:
            return entries, False
        params["next"] = page["next"]
    return entries, True


def field_rows(config: Configuration, state: dict[str, Any], entries: list[dict[str, Any]], masker: Masker) -> list[FieldRow]:
    """Each golden field with who set it (provenance) and how (the last audited change: source field, rule)."""
    kind = str(state.get("entity", "")).partition("#")[0]
    categories = {name: category for m in config.mappings.mappings.values() if m.entity == kind for name, category in m.categories.items()}
    last_change: dict[str, dict[str, Any]] = {}
    for entry in entries:
        for name, change in (entry.get("changes") or {}).items():
            if isinstance(change, dict):
                last_change[name] = change
    provenance = state.get("provenance") or {}
    rows = []
    for name, value in sorted((state.get("fields") or {}).items()):
        source = provenance.get(name) or {}
        change = last_change.get(name, {})
        rows.append(
            FieldRow(
                name=name,
                value=masker.field(name, value),
                category=categories.get(name) or change.get("category"),
                system=source.get("system"),
                source_time=source.get("time"),
                record_id=source.get("record_id"),
                source_path=change.get("from"),
                rule=change.get("rule"),
            )
        )
    return rows
