"""What a payload *would* do: the canonical record, the diff against stored state, the events.

The same mapping and evaluate step as the processor (consent included), on a read of
the current state; nothing is written. The integrator's dry run and the mapping
regression diff both use it.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain import identity
from chalicelib.domain.inbound import InboundRecord
from chalicelib.errors import AmbiguousIdentity, RecordMappingError, TriggerInputError
from chalicelib.mapping import CompiledMapping, MappingSet
from chalicelib.mapping.examples import map_payload
from chalicelib.pipeline.evaluate import Rules, evaluate, prepare, read_identity, read_state
from chalicelib.store.port import Store


def simulate(rules: Rules, mapping: CompiledMapping, payload: dict[str, Any], store: Store) -> dict[str, Any]:
    result = map_payload(mapping, payload)
    if "error" in result:
        result["outcome"] = "filtered_out" if result["error"].get("code") == "filtered_out" else "quarantined"
        return result
    try:
        record = prepare(mapping, payload)
    except RecordMappingError as exc:
        result.update(outcome="quarantined", error=exc.to_dict())
        return result
    prepared = read_identity(store, record, rules)
    identified, snapshot = prepared.identified, prepared.snapshot
    entity_id = identified.entity_id
    if identified.decision.ambiguous:
        message = str(AmbiguousIdentity(record, identified.decision.ambiguous))
        result.update(outcome="quarantined", error={"code": "ambiguous_identity", "message": message})
        return result
    read_state(store, prepared, rules)
    try:
        evaluation = evaluate(
            identified.record,
            entity_id,
            dict(snapshot.states),
            rules,
            decision=identified.decision,
            read_more=lambda more: store.read_more(snapshot, more),
        )
    except TriggerInputError as exc:
        result.update(outcome="quarantined", error={"code": "trigger_input", "message": str(exc)})
        return result
    outcome = evaluation.outcome
    result.update(
        entity=identity.entity_key(record.entity, entity_id),
        outcome="stale" if outcome.stale else "applied",
        changes={name: {"before": before, "after": after} for name, (before, after) in outcome.changed_fields.items()},
        events=[event.to_json_dict() for event in outcome.events],
        notes=[{"kind": n.kind, "message": n.message} for n in outcome.notes],
    )
    if evaluation.dropped:
        result["consent_dropped"] = evaluation.dropped.fields
    if evaluation.merge is not None:
        result["merges"] = [identity.entity_key(record.entity, i) for i in evaluation.merge.merged]
    return result


def event_changes(rules: Rules, old: MappingSet, new: MappingSet, inputs: list[InboundRecord], store: Store) -> list[dict[str, Any]]:
    """Per input, the events the deployed and the edited mapping would fire now, where they differ."""
    changes = []
    for inbound in inputs:
        before = _events_of(rules, old, inbound, store)
        after = _events_of(rules, new, inbound, store)
        if before != after:
            changes.append({"input": inbound.dedupe_key, "old_events": sorted(before), "new_events": sorted(after)})
    return changes


def _events_of(rules: Rules, mappings: MappingSet, inbound: InboundRecord, store: Store) -> set[str]:
    mapping = mappings.find(inbound.connector, inbound.object)
    if mapping is None:
        return set()
    result = simulate(rules, mapping, inbound.payload, store)
    return {f"{e['type']} {e['subject']} {e.get('data', {}).get('rule', '')}".strip() for e in result.get("events", [])}
