"""A scheduled timers run fires what is due and what comes due in its first seconds, so nothing waits over a minute.

The shipped ``lead_not_contacted`` deadline (15 minutes, 5 of grace) armed through the real processor
on the in-memory store; the run's clock and sleep are the test's, so no test waits for real.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.configuration import load_configuration
from chalicelib.domain.canonical import CanonicalRecord, SourceRef
from chalicelib.domain.inbound import InboundRecord
from chalicelib.mapping import compile_documents
from chalicelib.pipeline.evaluate import Rules
from chalicelib.pipeline.processor import ProcessingConfig, Processor
from chalicelib.pipeline.timers import SETTLE_SECONDS, TIME_TO_SPARE, run_minute
from chalicelib.store.memory_store import MemoryStore
from chalicelib.store.timer_index import MemoryTimerIndex
from chalicelib.triggers.config import TriggerConfig

RULES = load_configuration(Path(__file__).resolve().parents[2]).rules
CREATED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FIRES_AT = CREATED + timedelta(minutes=20)  # due 15 minutes after the lead, plus 5 of grace


class Clock:
    """The run's wall clock: it moves only when the run sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def store_with_a_lead(*leads: str) -> MemoryStore:
    store = MemoryStore()
    config = ProcessingConfig(compile_documents([]), Rules(TriggerConfig(), rules=RULES), b"timer-runs")
    processor = Processor(config, store, actor="test", clock=lambda: CREATED)
    for number, lead in enumerate(leads):
        record = CanonicalRecord(
            entity="lead",
            source=SourceRef(system="salesforce", entity="lead", id=lead),
            source_time=CREATED,
            fields={"status": "Open - Not Contacted"},
            mapping="test",
            mapping_version="test",
        )
        inbound = InboundRecord(
            connector="salesforce", object="Lead", payload={}, dedupe_key=f"test:{number}", received_at=CREATED, via="replay"
        )
        processor.apply_canonical(inbound, record, lead)
    return store


def run_at(store: MemoryStore, clock: Clock, seconds_left: float | None = None):
    left = None if seconds_left is None else (lambda: seconds_left)
    return run_minute(RULES, store, MemoryTimerIndex(store), clock, sleep=clock.sleep, seconds_left=left)


def test_a_deadline_that_comes_due_seconds_after_the_run_starts_fires_in_that_run_on_time() -> None:
    store = store_with_a_lead("L1")
    clock = Clock(FIRES_AT - timedelta(seconds=3))
    run = run_at(store, clock)
    assert run.fire_times == [FIRES_AT] and len(run.fired) == 1
    assert clock.slept == [3.0] and run.sweeps == 2  # waited for it, no longer
    assert [e.type for e in store.outbox.values()] == ["lead.not_contacted"]


def test_a_run_with_nothing_about_to_come_due_ends_at_once() -> None:
    store = store_with_a_lead("L1")
    for start in (FIRES_AT - timedelta(seconds=SETTLE_SECONDS + 1), FIRES_AT - timedelta(minutes=10)):
        clock = Clock(start)
        run = run_at(store, clock)
        assert (run.fired, clock.slept, run.sweeps) == ([], [], 1)
    assert run_at(MemoryStore(), Clock(FIRES_AT)).sweeps == 1  # nothing armed at all


def test_what_is_due_fires_at_once_and_the_run_waits_only_for_what_is_coming() -> None:
    store = store_with_a_lead("L1")
    later = store_with_a_lead("L2")  # the same deadline, a store of its own: one due now, one two seconds on
    for key, value in later.states.items():
        if key.kind == "rules":
            value.item["next_fire_at"] = (FIRES_AT + timedelta(seconds=2)).isoformat(timespec="microseconds")
            for deadline in value.item["deadlines"].values():
                deadline["fire_at"] = value.item["next_fire_at"]
            store.states[key] = value
    clock = Clock(FIRES_AT)
    run = run_at(store, clock)
    assert clock.slept == [2.0] and run.sweeps == 2
    assert sorted(run.fire_times) == [FIRES_AT, FIRES_AT + timedelta(seconds=2)]


@pytest.mark.parametrize("seconds_left", [TIME_TO_SPARE + 2.9, TIME_TO_SPARE])
def test_a_run_short_of_time_leaves_what_is_coming_to_the_next_run(seconds_left: float) -> None:
    store = store_with_a_lead("L1")
    clock = Clock(FIRES_AT - timedelta(seconds=3))
    run = run_at(store, clock, seconds_left=seconds_left)
    assert (run.fired, clock.slept) == ([], [])
    later = run_at(store, Clock(FIRES_AT + timedelta(seconds=57)))  # the next minute's run
    assert later.fire_times == [FIRES_AT]
