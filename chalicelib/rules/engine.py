"""The rules in the evaluate step: what one applied record does to the rules' state, and what it fires.

Called after the golden merge and the built-in triggers (chalicelib/pipeline/evaluate.py), with
the state read in the record's one batch. Pure: it adds puts, events and audit notes to the
trigger ``Outcome`` that the pipeline commits atomically with the record, so a deadline is armed
or cancelled in the same transaction as the record that causes it.

State it reads and writes (chalicelib.domain.state):
- ``rules_key(entity, id)``  deadlines, stage-gate evidence and write-back echoes of one entity
- ``window_key(rule, key)``  one window rule's recent occurrences for one key

``required_keys`` names them from the fields the record carries; a link that only the stored
golden record knows (a partial update) raises StateKeysMissing, and the pipeline reads it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.canonical import CanonicalRecord
from chalicelib.domain.golden import iso
from chalicelib.domain.state import StateKey, States, golden_key, rules_key, window_key
from chalicelib.errors import StateKeysMissing
from chalicelib.rules import deadlines, echoes, gates, windows
from chalicelib.rules.events import rule_event
from chalicelib.rules.language import condition_env, filter_env
from chalicelib.rules.model import ConditionRule, DeadlineRule, GateRule, RuleSet, WindowRule
from chalicelib.triggers.outcome import AuditNote, Outcome

Item = dict[str, Any]


def required_keys(record: CanonicalRecord, entity_id: str, rules: RuleSet) -> list[StateKey]:
    """The rules' state this record reads, judged from the fields it carries."""
    keys: list[StateKey] = []
    fields, entity = record.fields, record.entity
    for rule in rules.rules:
        if isinstance(rule, ConditionRule) and rule.entity == entity:
            keys.append(rules_key(entity, entity_id))  # its write-back echoes
        elif isinstance(rule, DeadlineRule):
            if rule.of == entity:
                keys.append(rules_key(entity, entity_id))
            if rule.expect == entity and fields.get(rule.link):
                keys.append(rules_key(rule.of, str(fields[rule.link])))
        elif isinstance(rule, WindowRule):
            if rule.entity == entity and fields.get(rule.per):
                keys.append(window_key(rule.name, str(fields[rule.per])))
        elif isinstance(rule, GateRule):
            if rule.entity == entity:
                keys.append(rules_key(entity, entity_id))
            if rule.activity == entity and fields.get(rule.link):
                keys.append(rules_key(rule.entity, str(fields[rule.link])))
    return list(dict.fromkeys(keys))


class _State:
    """Reads state as this record has already changed it; demands what was not read."""

    def __init__(self, states: States, outcome: Outcome):
        self.states, self.outcome = states, outcome

    def get(self, key: StateKey) -> Item | None:
        if key in self.outcome.puts:
            return self.outcome.puts[key]
        if key not in self.states:
            raise StateKeysMissing([key])
        return self.states[key]

    def rules_item(self, entity: str, entity_id: str) -> Item:
        return self.get(rules_key(entity, entity_id)) or {"entity": entity, "id": entity_id}

    def put(self, key: StateKey, item: Item) -> None:
        self.outcome.puts[key] = item


def apply(
    record: CanonicalRecord, entity_id: str, states: States, outcome: Outcome, rules: RuleSet, now: datetime, correlation: str | None = None
) -> None:
    """Run every rule on this applied record; adds to ``outcome`` (raises StateKeysMissing to be read and retried)."""
    if outcome.stale or not rules.rules:
        return
    golden = golden_key(record.entity, entity_id)
    current: dict[str, Any] = (outcome.puts.get(golden) or {}).get("fields") or {}
    stored = states.get(golden)
    previous: dict[str, Any] | None = stored.get("fields") if stored else None
    state = _State(states, outcome)
    own = rules_key(record.entity, entity_id)
    own_item = state.get(own) if own in states or own in outcome.puts else None
    skip, used = echoes.rules_to_skip(record, own_item, outcome.changed_fields, now)
    if used is not None:
        state.put(own, used)
    for rule in rules.rules:
        if rule.name in skip and _reads(rule, record.entity):
            outcome.notes.append(
                AuditNote("rule_skipped", f"{rule.name}: this change came back from its own write-back", {"rule": rule.name})
            )
            continue
        if isinstance(rule, ConditionRule):
            _condition(rule, record, entity_id, current, previous, outcome)
        elif isinstance(rule, DeadlineRule):
            _deadline(rule, record, entity_id, current, previous, state, now, correlation)
        elif isinstance(rule, WindowRule):
            _window(rule, record, entity_id, current, state)
        elif isinstance(rule, GateRule):
            _gate(rule, record, entity_id, current, previous, state)
    for key, item in list(outcome.puts.items()):
        if key.kind == "rules":
            outcome.puts[key] = deadlines.with_next_fire(item)


def _reads(rule: ConditionRule | DeadlineRule | WindowRule | GateRule, entity: str) -> bool:
    if isinstance(rule, DeadlineRule):
        return entity in (rule.of, rule.expect)
    if isinstance(rule, GateRule):
        return entity in (rule.entity, rule.activity)
    return rule.entity == entity


def _condition(
    rule: ConditionRule, record: CanonicalRecord, entity_id: str, current: dict[str, Any], previous: dict[str, Any] | None, outcome: Outcome
) -> None:
    if rule.entity != record.entity or not outcome.changed_fields:
        return
    if not rule.when(condition_env(rule.entity, current, previous, outcome.changed_fields)):
        return
    data = {
        "rule": rule.name,
        "entity": rule.entity,
        "id": entity_id,
        "changed": sorted(outcome.changed_fields),
        "condition": rule.when.source,
    }
    outcome.events.append(rule_event(rule.fire, (rule.name, entity_id, iso(record.source_time)), entity_id, record.source_time, data, None))


def _deadline(
    rule: DeadlineRule,
    record: CanonicalRecord,
    entity_id: str,
    current: dict[str, Any],
    previous: dict[str, Any] | None,
    state: _State,
    now: datetime,
    correlation: str | None,
) -> None:
    out = state.outcome
    if record.entity == rule.of:
        item = state.rules_item(rule.of, entity_id)
        arming = rule.arm_when is None or rule.arm_when(condition_env(rule.of, current, previous, out.changed_fields))
        if arming and not deadlines.armed_once(item, rule):
            item, events, notes = deadlines.arm(item, rule, entity_id, record.source_time, now, correlation)
            state.put(rules_key(rule.of, entity_id), item)
            out.events += events
            out.notes += notes
    if record.entity == rule.expect:
        subject = current.get(rule.link)
        if not subject or (rule.expect_where is not None and not rule.expect_where(filter_env(rule.expect, current))):
            return
        item = state.rules_item(rule.of, str(subject))
        response = {"entity": record.entity, "id": entity_id}
        item, events, notes = deadlines.respond(item, rule, str(subject), record.source_time, response, now)
        if notes or events:
            state.put(rules_key(rule.of, str(subject)), item)
        out.events += events
        out.notes += notes


def _window(rule: WindowRule, record: CanonicalRecord, entity_id: str, current: dict[str, Any], state: _State) -> None:
    if record.entity != rule.entity:
        return
    key = current.get(rule.per)
    if not key or (rule.where is not None and not rule.where(filter_env(rule.entity, current))):
        return
    value = Decimal(1)
    if rule.aggregate == "sum":
        raw = current.get(rule.field or "")
        if raw is None:
            return
        try:
            value = Decimal(str(raw))
        except ArithmeticError:
            return
    wkey = window_key(rule.name, str(key))
    item, crossings, happened = windows.add(state.get(wkey), rule, str(key), record.source_time, f"{record.entity}#{entity_id}", value)
    out = state.outcome
    if happened == "already_counted":
        return
    if happened == "too_late":
        at = iso(record.source_time)
        message = f"{rule.name}: an occurrence at {at} is more than the window's late allowance behind the newest; not counted"
        out.notes.append(AuditNote("window_too_late", message, {"rule": rule.name, "key": str(key)}))
        return
    state.put(wkey, item)
    for crossing in crossings:
        data = {
            "rule": rule.name,
            "entity": rule.entity,
            "key_field": rule.per,
            "key": str(key),
            "aggregate": rule.aggregate,
            "value": crossing.value,
            "threshold": rule.threshold,
            "within": rule.within_text,
            "window_start": iso(crossing.window_start),
            "window_end": iso(crossing.at),
            "condition": rule.source,
        }
        out.events.append(rule_event(rule.fire, (rule.name, str(key), iso(crossing.at)), str(key), crossing.at, data, None))


def _gate(
    rule: GateRule, record: CanonicalRecord, entity_id: str, current: dict[str, Any], previous: dict[str, Any] | None, state: _State
) -> None:
    out = state.outcome
    if record.entity == rule.activity:
        subject = current.get(rule.link)
        if subject:
            key = rules_key(rule.entity, str(subject))
            item, matched = gates.record_activity(state.rules_item(rule.entity, str(subject)), rule, current, record.source_time)
            if matched:
                state.put(key, item)
    if record.entity != rule.entity:
        return
    stage, before = current.get(rule.field), (previous or {}).get(rule.field)
    if stage is None or (previous is not None and stage == before) or stage not in rule.stages:
        return
    missing = gates.missing_on_entry(state.get(rules_key(rule.entity, entity_id)), rule, str(stage), current, record.source_time)
    if missing:
        out.events.append(gates.gate_event(rule, entity_id, str(stage), before, missing, record.source_time))
        out.notes.append(
            AuditNote("stage_gate", f"{rule.name}: entered {stage} without {', '.join(m['name'] for m in missing)}", {"rule": rule.name})
        )


def fire_due(item: Item, rules: RuleSet, subject: tuple[str, str], now: datetime) -> tuple[Item, list[Any], list[AuditNote]]:
    """The deadlines of one rules item whose time has come (the clock's side, chalicelib/pipeline/timers.py)."""
    by_name = {r.name: r for r in rules.rules if isinstance(r, DeadlineRule)}
    return deadlines.fire_due(item, by_name, subject[1], now)
