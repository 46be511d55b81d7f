"""What a payload *would* do: the canonical record, the diff against stored state, the events.

The same mapping and evaluate step as the processor (consent included), on a read of
the current state; nothing is written. The integrator's dry run and the mapping
regression diff both use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.domain import identity
from chalicelib.domain.inbound import InboundRecord
from chalicelib.domain.state import StateKey, States, golden_key
from chalicelib.errors import AmbiguousIdentity, RecordMappingError, TriggerInputError
from chalicelib.mapping import CompiledMapping, MappingSet
from chalicelib.mapping.examples import map_payload
from chalicelib.pipeline.evaluate import Rules, evaluate, prepare, read_identity, read_state
from chalicelib.rules.actions import subject_document, subject_of
from chalicelib.runtime import clock
from chalicelib.store.port import Store
from chalicelib.triggers.outcome import Outcome


def simulate(
    rules: Rules, mapping: CompiledMapping, payload: dict[str, Any], store: Store, api_versions: dict[str, str] | None = None
) -> dict[str, Any]:
    """``api_versions``: per connector, the API version its action requests are shown for."""
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
            now=clock.now(),
        )
    except TriggerInputError as exc:
        result.update(outcome="quarantined", error={"code": "trigger_input", "message": str(exc)})
        return result
    outcome = evaluation.outcome
    states = dict(snapshot.states)
    result.update(
        entity=identity.entity_key(record.entity, entity_id),
        outcome="stale" if outcome.stale else "applied",
        changes={name: {"before": before, "after": after} for name, (before, after) in outcome.changed_fields.items()},
        events=[event.to_json_dict() for event in outcome.events],
        notes=[{"kind": n.kind, "message": n.message} for n in outcome.notes],
        deadlines=deadline_changes(states, outcome),
        actions=action_requests(
            rules, outcome, lambda key: outcome.puts.get(key) or store.read_more(snapshot, [key]).get(key), api_versions or {}
        ),
    )
    if evaluation.dropped:
        result["consent_dropped"] = evaluation.dropped.fields
    if evaluation.merge is not None:
        result["merges"] = [identity.entity_key(record.entity, i) for i in evaluation.merge.merged]
    return result


def deadline_changes(before: States, outcome: Outcome) -> list[dict[str, Any]]:
    """The deadlines this record would set (arm), cancel (met in time), fire or resolve late."""
    changes = []
    for key, item in outcome.puts.items():
        if key.kind != "rules":
            continue
        old = ((before.get(key) or {}).get("deadlines")) or {}
        for rule, state in (item.get("deadlines") or {}).items():
            previous = (old.get(rule) or {}).get("status")
            if state.get("status") == previous:
                continue
            change = {"armed": "set", "met": "cancelled"}.get(state["status"], state["status"])
            entity, entity_id = key.parts
            shown = {k: state[k] for k in ("armed_at", "due", "fire_at", "met_at", "late_response_at") if state.get(k)}
            changes.append({"rule": rule, "entity": entity, "id": entity_id, "change": change, **shown})
    return changes


def action_requests(
    rules: Rules, outcome: Outcome, golden: Callable[[StateKey], dict[str, Any] | None], api_versions: dict[str, str]
) -> list[dict[str, Any]]:
    """The requests the actions would send for the events fired (nothing is sent)."""
    from chalicelib.errors import DeliveryFailed

    shown = []
    for event in outcome.events:
        actions = rules.rules.actions_for(event.type)
        if not actions:
            continue
        body = event.to_json_dict()
        subject = subject_of(body)
        document = subject_document(golden(golden_key(*subject)), *subject) if subject else {}
        for action in actions:
            try:
                shown.append({"event": event.id, **action.render(body, document, api_versions.get(action.connector or "")).view()})
            except DeliveryFailed as exc:
                shown.append({"event": event.id, "action": action.name, "error": str(exc)})
    return shown


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
