"""The clock's side of deadlines: fire every deadline whose time (due + grace) has come.

Run every minute by the schedule (app.py ``fire_timers``; the local worker runs it too). The
timers index lists the rules items with a deadline due; each is read, and its due deadlines are
fired through the store's commit: the overdue event, the item's new state and the audit entries
(on the entity's rules chain) together or not at all, conditional on the item read. A deadline is
fired at most once: a second poller, a retry or a record that changed the item meanwhile finds it
no longer armed (or conflicts and re-reads). Restarts, redelivery and replays leave it as the
store holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.golden import parse_time
from chalicelib.errors import ConflictError, EventAlreadyStored
from chalicelib.rules import engine
from chalicelib.rules.model import RuleSet
from chalicelib.store import keys
from chalicelib.store.audit import AuditEntry
from chalicelib.store.port import ChainAppend, Plan, Store
from chalicelib.store.timer_index import TimerIndex

MAX_ATTEMPTS = 5
ACTOR = "timers"


@dataclass
class TimerRun:
    due: int = 0  # rules items listed as due
    fired: list[str] = field(default_factory=list)  # event ids
    lateness: list[float] = field(default_factory=list)  # seconds after due + grace, per fired deadline
    conflicts: int = 0
    left: int = 0  # not reached before the deadline of this invocation

    def view(self) -> dict[str, Any]:
        return {"due": self.due, "fired": len(self.fired), "conflicts": self.conflicts, "left": self.left, "events": self.fired}


def fire_due_timers(
    rules: RuleSet, store: Store, index: TimerIndex, now: datetime, *, seconds_left: Callable[[], float] | None = None
) -> TimerRun:
    run = TimerRun()
    due = index.due(now)
    run.due = len(due)
    for position, key in enumerate(due):
        if seconds_left is not None and seconds_left() < 5:
            run.left = len(due) - position
            break
        _fire_one(key, rules, store, now, run)
    return run


def _fire_one(key: Any, rules: RuleSet, store: Store, now: datetime, run: TimerRun) -> None:
    entity, entity_id = key.parts
    for _ in range(MAX_ATTEMPTS):
        snapshot = store.read([key])
        item = snapshot.states.get(key)
        if not item:
            return
        updated, events, notes = engine.fire_due(item, rules, (entity, entity_id), now)
        if not events and not notes:
            return  # already fired or met (the index lags the item)
        entries = [
            AuditEntry(
                action=note.kind, actor=ACTOR, correlation_id=f"timer:{entity}#{entity_id}", details={"message": note.message, **note.data}
            )
            for note in notes
        ]
        entries += [
            AuditEntry(
                action="trigger_fired",
                actor=ACTOR,
                correlation_id=event.correlationid or event.id,
                details={"event_id": event.id, "type": event.type, "subject": event.subject},
            )
            for event in events
        ]
        plan = Plan(snapshot, puts={key: updated}, audit=[ChainAppend(keys.rules_chain(entity, entity_id), entries)], events=events)
        try:
            store.commit(plan)
        except (ConflictError, EventAlreadyStored):
            run.conflicts += 1
            continue
        run.fired += [e.id for e in events]
        run.lateness += [(now - e.time).total_seconds() for e in events]
        return


def run_scheduled(config: Any, settings: Any, seconds_left: Callable[[], float] | None = None) -> TimerRun:
    """The schedule's entry point: the loaded rules over DynamoDB, at the wall clock."""
    from chalicelib.runtime import clock
    from chalicelib.store.dynamo_store import DynamoStore
    from chalicelib.store.timer_index import DynamoTimerIndex

    return fire_due_timers(config.rules, DynamoStore(settings), DynamoTimerIndex(settings), clock.now(), seconds_left=seconds_left)


def lateness_of(item: dict[str, Any]) -> list[float]:
    """Seconds between each fired deadline's firing time and when the clock fired it (for the benchmark)."""
    return [
        (parse_time(s["fired_at"]) - parse_time(s["fire_at"])).total_seconds()
        for s in (item.get("deadlines") or {}).values()
        if s.get("fired_at")
    ]
