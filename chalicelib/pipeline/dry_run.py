"""What a payload *would* do: the canonical record, the diff against stored state, the events.

Runs the same mapping, identity and trigger code as the processor, but only reads
state (through ``read_states``) and writes nothing — the integrator's dry run and
the mapping regression diff both use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.configuration import Configuration
from chalicelib.domain import identity
from chalicelib.domain.inbound import InboundRecord
from chalicelib.errors import RecordMappingError
from chalicelib.mapping import CompiledMapping, MappingSet
from chalicelib.mapping.examples import map_payload as map_only

StateKey = tuple[str, str]
ReadStates = Callable[[list[StateKey]], dict[StateKey, "dict[str, Any] | None"]]
_BOOKKEEPING = ("pk", "sk", "version", "audit_seq", "audit_hash")


def no_state(keys: list[StateKey]) -> dict[StateKey, dict[str, Any] | None]:
    """Every entity as if first seen."""
    return {k: None for k in keys}


def simulate(config: Configuration, mapping: CompiledMapping, payload: dict[str, Any], read_states: ReadStates) -> dict[str, Any]:
    result = map_only(mapping, payload)
    if "error" in result:
        result["outcome"] = "filtered_out" if result["error"].get("code") == "filtered_out" else "quarantined"
        return result
    from chalicelib.errors import StateKeysMissing, TriggerInputError
    from chalicelib.triggers.process import process, required_state_keys

    record = identity.resolve_references(mapping.apply(payload))
    entity_id = identity.canonical_id(record)
    keys = [(identity.entity_key(record.entity, entity_id), "golden"), *required_state_keys(record, entity_id, config.triggers)]
    states = _clean(read_states(list(dict.fromkeys(keys))))
    try:
        try:
            outcome = process(record, entity_id, states, config.triggers)
        except StateKeysMissing as missing:
            states.update(_clean(read_states([k for k in missing.keys if k not in states])))
            outcome = process(record, entity_id, states, config.triggers)
    except TriggerInputError as exc:
        result.update(outcome="quarantined", error={"code": "trigger_input", "message": str(exc)})
        return result
    result.update(
        entity=identity.entity_key(record.entity, entity_id),
        outcome="stale" if outcome.stale else "applied",
        changes={name: {"before": before, "after": after} for name, (before, after) in outcome.changed_fields.items()},
        events=[event.to_json_dict() for event in outcome.events],
        notes=[{"kind": n.kind, "message": n.message} for n in outcome.notes],
    )
    return result


def _clean(states: dict[StateKey, dict[str, Any] | None]) -> dict[StateKey, dict[str, Any] | None]:
    return {k: None if v is None else {a: b for a, b in v.items() if a not in _BOOKKEEPING} for k, v in states.items()}


def event_changes(
    config: Configuration, old: MappingSet, new: MappingSet, inputs: list[InboundRecord], read_states: ReadStates
) -> list[dict[str, Any]]:
    """Per input, the events the deployed and the edited mapping would fire now, where they differ."""
    changes = []
    for inbound in inputs:
        before = _events_of(config, old, inbound, read_states)
        after = _events_of(config, new, inbound, read_states)
        if before != after:
            changes.append({"input": inbound.dedupe_key, "old_events": sorted(before), "new_events": sorted(after)})
    return changes


def _events_of(config: Configuration, mappings: MappingSet, inbound: InboundRecord, read_states: ReadStates) -> set[str]:
    mapping = mappings.find(inbound.connector, inbound.object)
    if mapping is None:
        return set()
    try:
        result = simulate(config, mapping, inbound.payload, read_states)
    except RecordMappingError:
        return set()
    return {f"{e['type']} {e['subject']} {e.get('data', {}).get('rule', '')}".strip() for e in result.get("events", [])}
