"""The clock's side of deadlines: fire every deadline whose time (due + grace) has come.

Run every minute by the schedule (app.py ``fire_timers``; the local worker runs it too). The
timers index lists the rules items with a deadline due; each is read, and its due deadlines are
fired through the store's commit: the overdue event, the item's new state and the audit entries
(on the entity's rules chain) together or not at all, conditional on the item read. A deadline is
fired at most once: a second poller, a retry or a record that changed the item meanwhile finds it
no longer armed (or conflicts and re-reads). Restarts, redelivery and replays leave it as the
store holds it.

A deadline must fire within a minute of its time. One sweep a minute cannot promise that: a
deadline that comes due just after a sweep waits for the next run, a minute later, plus that
run's own start (a cold start, the schedule's jitter, the index queries). So a scheduled run
(``run_minute``) also lists what comes due in its first ``SETTLE_SECONDS``, waits for it, and
sweeps again: what the next run takes was due at least ``SETTLE_SECONDS`` after this run began,
which leaves the next run that long to start. A run with nothing about to come due ends at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
SETTLE_SECONDS = 5.0  # a scheduled run also fires what comes due this long after it began (see above)
TIME_TO_SPARE = 5.0  # seconds of the invocation kept in hand: a run stops firing, or does not wait, with fewer left


@dataclass
class TimerRun:
    due: int = 0  # rules items listed as due
    fired: list[str] = field(default_factory=list)  # event ids
    fire_times: list[datetime] = field(default_factory=list)  # each fired event's time (due + grace), in firing order
    conflicts: int = 0
    left: int = 0  # not reached before the deadline of this invocation
    sweeps: int = 0

    def view(self) -> dict[str, Any]:
        return {"due": self.due, "fired": len(self.fired), "conflicts": self.conflicts, "left": self.left, "events": self.fired}


def fire_due_timers(
    rules: RuleSet, store: Store, index: TimerIndex, now: datetime, *, seconds_left: Callable[[], float] | None = None
) -> TimerRun:
    """One sweep: fire every deadline due at ``now``, earliest first."""
    run = TimerRun()
    _sweep([key for _, key in index.due(now)], rules, store, now, run, seconds_left)
    return run


def run_minute(
    rules: RuleSet,
    store: Store,
    index: TimerIndex,
    clock: Callable[[], datetime],
    *,
    sleep: Callable[[float], None] = time.sleep,
    seconds_left: Callable[[], float] | None = None,
) -> TimerRun:
    """The schedule's run: a sweep now and, if a deadline comes due within SETTLE_SECONDS, another once it has."""
    started = clock()
    listed = index.due(started + timedelta(seconds=SETTLE_SECONDS))
    run = TimerRun()
    _sweep([key for at, key in listed if at <= started], rules, store, started, run, seconds_left)
    coming = [at for at, _ in listed if at > started]
    if not coming or run.left:
        return run
    wait = (max(coming) - clock()).total_seconds()
    if seconds_left is not None and seconds_left() < wait + TIME_TO_SPARE:
        return run  # the next run takes them
    if wait > 0:
        sleep(wait)
    now = clock()
    _sweep([key for _, key in index.due(now)], rules, store, now, run, seconds_left)
    return run


def _sweep(due: list[Any], rules: RuleSet, store: Store, now: datetime, run: TimerRun, seconds_left: Callable[[], float] | None) -> None:
    run.sweeps += 1
    run.due += len(due)
    for position, key in enumerate(due):
        if seconds_left is not None and seconds_left() < TIME_TO_SPARE:
            run.left = len(due) - position
            return
        _fire_one(key, rules, store, now, run)


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
        run.fire_times += [e.time for e in events]
        return


def run_scheduled(config: Any, settings: Any, seconds_left: Callable[[], float] | None = None) -> TimerRun:
    """The schedule's entry point: the loaded rules over DynamoDB, at the wall clock."""
    from chalicelib.runtime import clock
    from chalicelib.store.dynamo_store import DynamoStore
    from chalicelib.store.timer_index import DynamoTimerIndex

    return run_minute(config.rules, DynamoStore(settings), DynamoTimerIndex(settings), clock.now, seconds_left=seconds_left)


def lateness_of(item: dict[str, Any]) -> list[float]:
    """Seconds between each fired deadline's firing time and when the clock fired it (for the benchmark)."""
    return [
        (parse_time(s["fired_at"]) - parse_time(s["fire_at"])).total_seconds()
        for s in (item.get("deadlines") or {}).values()
        if s.get("fired_at")
    ]
