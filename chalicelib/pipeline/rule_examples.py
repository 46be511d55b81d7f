"""Running the ``examples:`` of rules and actions (``salesbridge rules test``).

A rule example is a small story: canonical records (entity, id, source time, fields, and when
each arrives) and a clock that runs on to ``until``. The records go through the real processor
on an in-memory store, one by one in arrival order, and the deadlines whose time comes between
two arrivals fire through the real timers step, exactly as in production; the events the rule
fired must be the ones listed (type and subject, and the time and data fields given).

An action example renders the request for an event (and the subject's fields) and compares the
parts given (method, path, body, idempotency_key, marker).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.config.durations import parse_duration
from chalicelib.domain.canonical import CanonicalRecord, SourceRef
from chalicelib.domain.events import CloudEvent
from chalicelib.domain.inbound import InboundRecord
from chalicelib.errors import DeliveryFailed
from chalicelib.mapping import compile_documents
from chalicelib.pipeline.evaluate import Rules
from chalicelib.pipeline.processor import ProcessingConfig, Processor
from chalicelib.pipeline.timers import fire_due_timers
from chalicelib.rules.actions import Action
from chalicelib.rules.config import ActionExample, RuleExample
from chalicelib.rules.model import RuleSet
from chalicelib.store.memory_store import MemoryStore
from chalicelib.store.timer_index import MemoryTimerIndex
from chalicelib.triggers.config import TriggerConfig

AFTER_LAST = timedelta(days=1)


@dataclass
class ExampleResult:
    owner: str  # the rule's or action's name
    origin: str  # file:line
    example: str
    differences: list[str] = field(default_factory=list)
    fired: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.differences


def moment(value: Any, start: datetime) -> datetime:
    """An example's time: ISO 8601 with an offset, or a duration after the example's start ("14m")."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} has no offset (write e.g. +08:00)")
        return value
    text = str(value).strip()
    try:
        return start + parse_duration(text)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{text} has no offset (write e.g. +08:00)")
    return parsed


def run_rule_example(
    rules: RuleSet, rule_name: str, origin: str, example: RuleExample, triggers: TriggerConfig | None = None
) -> ExampleResult:
    result = ExampleResult(rule_name, origin, example.name)
    try:
        start = moment(example.start, datetime.fromisoformat("2026-01-05T09:00:00+08:00"))
        arrivals = sorted(
            ((moment(r.received if r.received is not None else r.at, start), index, r) for index, r in enumerate(example.records)),
            key=lambda item: (item[0], item[1]),
        )
        until = moment(example.until, start) if example.until is not None else (arrivals[-1][0] if arrivals else start) + AFTER_LAST
    except ValueError as exc:
        result.differences.append(f"a time cannot be read: {exc}")
        return result
    events = run_story(rules, [(at, r.entity, r.id, r.system, moment(r.at, start), r.fields) for at, _, r in arrivals], until, triggers)
    mine = [e for e in events if (e.data or {}).get("rule") == rule_name]
    result.fired = [{"type": e.type, "subject": e.subject, "time": e.time.isoformat(), "data": e.data} for e in mine]
    result.differences = compare_events(example, mine, start)
    return result


def run_story(
    rules: RuleSet,
    arrivals: list[tuple[datetime, str, str, str, datetime, dict[str, Any]]],
    until: datetime,
    triggers: TriggerConfig | None = None,
) -> list[CloudEvent]:
    """Records (arrival, entity, id, system, source time, fields) through the processor, the clock running between them."""
    store = MemoryStore()
    index = MemoryTimerIndex(store)
    clock = {"now": arrivals[0][0] if arrivals else until}
    config = ProcessingConfig(compile_documents([]), Rules(triggers or TriggerConfig(), rules=rules), b"rule-examples")
    processor = Processor(config, store, actor="example", clock=lambda: clock["now"])
    for number, (arrives, entity, entity_id, system, source_time, fields) in enumerate(arrivals):
        fire_due_timers(rules, store, index, arrives)
        clock["now"] = arrives
        record = CanonicalRecord(
            entity=entity,  # type: ignore[arg-type]
            source=SourceRef(system=system, entity=entity, id=entity_id),  # type: ignore[arg-type]
            source_time=source_time,
            fields=_decimals(fields),
            mapping="example",
            mapping_version="example",
        )
        inbound = InboundRecord(
            connector=system, object=entity, payload={}, dedupe_key=f"example:{number}", received_at=arrives, via="replay"
        )
        processor.apply_canonical(inbound, record, entity_id)
    fire_due_timers(rules, store, index, until)
    return sorted(store.outbox.values(), key=lambda e: (e.time, e.type))


def compare_events(example: RuleExample, fired: list[CloudEvent], start: datetime) -> list[str]:
    differences: list[str] = []
    remaining = list(fired)
    for wanted in example.expect:
        match = next((e for e in remaining if e.type == wanted.type and e.subject == wanted.subject), None)
        if match is None:
            differences.append(f"expected {wanted.type} for {wanted.subject}, not fired")
            continue
        remaining.remove(match)
        if wanted.time is not None and moment(wanted.time, start) != match.time:
            differences.append(
                f"{wanted.type} for {wanted.subject}: expected time {moment(wanted.time, start).isoformat()}, got {match.time.isoformat()}"
            )
        for key, value in (wanted.data or {}).items():
            if not _same(_plain(value), _plain((match.data or {}).get(key))):
                differences.append(
                    f"{wanted.type} for {wanted.subject}: data.{key} expected {_show(value)}, got {_show(match.data.get(key))}"
                )
    for extra in remaining:
        differences.append(f"not expected: {extra.type} for {extra.subject} at {extra.time.isoformat()}")
    return differences


def run_action_example(action: Action, example: ActionExample, api_version: str | None = None) -> ExampleResult:
    result = ExampleResult(action.name, str(action.origin), example.name)
    event = {"id": "evt_example", "time": "2026-01-05T09:15:00+08:00", "data": {}, **_plain(example.event)}
    try:
        request = action.render(event, _plain(example.subject), api_version).view()
    except DeliveryFailed as exc:
        result.differences.append(f"the request cannot be built: {exc}")
        return result
    for part, wanted in example.expect.items():
        if part not in request:
            result.differences.append(f"unknown part {part!r} (use: {', '.join(request)})")
        elif _plain(wanted) != _plain(request[part]):
            result.differences.append(f"{part}: expected {_show(wanted)}, got {_show(request[part])}")
    result.fired = [request]
    return result


def run_examples(rules: RuleSet, triggers: TriggerConfig | None = None, api_versions: dict[str, str] | None = None) -> list[ExampleResult]:
    results = []
    for rule in rules.rules:
        for example in rules.examples.get(rule.name, ()):
            results.append(run_rule_example(rules, rule.name, str(rule.origin), example, triggers))
    for action in rules.actions:
        for example in action.examples:
            results.append(run_action_example(action, example, (api_versions or {}).get(action.connector or "")))
    return results


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """Compared as JSON: numbers as exact text, times as ISO text."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        return format(Decimal(str(value)).normalize(), "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _same(wanted: Any, got: Any) -> bool:
    """Equal as JSON, where two ISO times are equal when they name the same instant (offsets may differ)."""
    if isinstance(wanted, dict) and isinstance(got, dict):
        return wanted.keys() == got.keys() and all(_same(v, got[k]) for k, v in wanted.items())
    if isinstance(wanted, list) and isinstance(got, list):
        return len(wanted) == len(got) and all(_same(a, b) for a, b in zip(wanted, got, strict=True))
    if wanted == got:
        return True
    if isinstance(wanted, str) and isinstance(got, str):
        try:
            first, second = datetime.fromisoformat(wanted), datetime.fromisoformat(got)
        except ValueError:
            return False
        return first.tzinfo is not None and second.tzinfo is not None and first == second
    return False


def _show(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, sort_keys=True, default=str)
