"""Timer lateness: how long after its firing time (due + grace) a deadline fires, on the local stand-in.

N Salesforce leads arrive through the real processor over ten minutes (each arms the shipped
``lead_not_contacted`` deadline: due 15 minutes later, 5 minutes of grace), into the local AWS
stand-in (``make run``'s, on a free port). The clock is simulated: the ``fire_timers`` schedule
runs at every whole minute, as EventBridge's ``rate(1 minute)`` does, through the real poller
(the timers-due index, one read and one transaction per deadline). A deadline's lateness is the
simulated time from due + grace to its commit: the wait for a run (or, for a deadline coming due
in a run's first seconds, for that run's second sweep: chalicelib/pipeline/timers.py) plus the
real time the run worked to reach the commit.

Baseline, in the same run: a poller that sweeps once at every whole minute in no time (the
schedule's granularity alone). Prints one line: p50 / p99 / max lateness, the ratio of the p99 to
the baseline's p99, and the issue's bar (fired within one minute of due + grace).
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_core import start_standin  # noqa: E402 - the local stand-in on a free port, as make run starts it

LEADS = 400
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
ARRIVALS = timedelta(minutes=10)  # leads arrive spread over this span (seeded)
SEED = 7


def lead(n: int, created: datetime) -> dict[str, Any]:
    when = created.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return {"attributes": {"type": "Lead"}, "Id": f"00QBENCH{n:010d}", "Name": f"Lead {n}", "Company": f"Company {n}",
            "Status": "Open - Not Contacted", "OwnerId": "005Hs00000ABCDeIAH", "CreatedDate": when, "LastModifiedDate": when}  # fmt: skip


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def main() -> None:
    config = Path(tempfile.mkdtemp(prefix="bench-timers-"))
    standin, endpoint = start_standin()
    try:
        measured, ideal, runs = run(endpoint, config)
    finally:
        standin.terminate()
        standin.wait(timeout=10)
        shutil.rmtree(config, ignore_errors=True)
    p50, p99, p99_ideal = percentile(measured, 50), percentile(measured, 99), percentile(ideal, 99)
    met = max(measured) <= 60
    print(
        f"timer lateness: p50 {p50:.1f} s, p99 {p99:.1f} s, max {max(measured):.1f} s after due + grace for {len(measured)} deadlines "
        f"(local stand-in, poller every simulated minute, {runs} runs, "
        f"longest run {max(RUN_SECONDS):.2f} s real, first commit after {max(QUERY_SECONDS):.2f} s, "
        f"{sum(1 for s in SLEPT_SECONDS if s)} runs waited for a deadline about to come due, "
        f"{max(SLEPT_SECONDS):.1f} s at most) vs a one-sweep-a-minute poller in no time: p99 {p99_ideal:.1f} s — "
        f"ratio {p99 / p99_ideal:.2f} — done-when fired within 60 s: {'met' if met else 'NOT met'}"
    )


RUN_SECONDS: list[float] = []  # real seconds each poller run worked
QUERY_SECONDS: list[float] = []  # real seconds from a run's start to its first commit
SLEPT_SECONDS: list[float] = []  # simulated seconds each run waited for a deadline about to come due


class Clock:
    """The simulated wall clock of the poller's runs: the minute's tick, plus the real time the run has worked, plus what it slept."""

    def start(self, tick: datetime) -> None:
        self.tick, self.began, self.slept = tick, time.perf_counter(), 0.0

    def __call__(self) -> datetime:
        return self.tick + timedelta(seconds=self.real_seconds() + self.slept)

    def real_seconds(self) -> float:
        return time.perf_counter() - self.began

    def sleep(self, seconds: float) -> None:
        self.slept += seconds


def _next_minute(at: datetime) -> datetime:
    """When a poller sweeping at every whole minute, in no time, would fire a deadline due ``at``."""
    whole = at.replace(second=0, microsecond=0)
    return whole if whole == at else whole + timedelta(minutes=1)


def run(endpoint: str, config: Path) -> tuple[list[float], list[float], int]:
    import boto3

    from local.run import FAKE_CREDENTIALS

    os.environ.update(FAKE_CREDENTIALS)
    os.environ.update(AWS_ENDPOINT_URL=endpoint, SALESBRIDGE_PII_KEY="bench-pii-key", SALESBRIDGE_CONFIG_DIR=str(config))
    shutil.copytree(ROOT / "mappings", config / "mappings")
    shutil.copytree(ROOT / "connectors", config / "connectors")
    from infra import resources

    os.environ.update(resources.create_all(boto3.session.Session()))

    from chalicelib.configuration import current
    from chalicelib.domain.inbound import InboundRecord, event_dedupe_key
    from chalicelib.pipeline.processor import Processor, processing_config
    from chalicelib.pipeline.timers import run_minute
    from chalicelib.runtime import aws
    from chalicelib.runtime.settings import get_settings
    from chalicelib.store.dynamo_store import DynamoStore
    from chalicelib.store.timer_index import DynamoTimerIndex

    settings = get_settings()
    config_now = current()
    arrival = {"now": T0}
    processor = Processor(processing_config(config_now), DynamoStore(settings), clock=lambda: arrival["now"])
    rng = random.Random(SEED)
    created = sorted(T0 + timedelta(seconds=rng.uniform(0, ARRIVALS.total_seconds())) for _ in range(LEADS))
    for n, at in enumerate(created):
        arrival["now"] = at + timedelta(seconds=1)  # delivered a second after it was created
        payload = lead(n, at)
        inbound = InboundRecord(connector="salesforce", object="Lead", payload=payload, received_at=arrival["now"],
                                dedupe_key=event_dedupe_key("salesforce", f"{payload['Id']}@{payload['LastModifiedDate']}"))  # fmt: skip
        outcome = processor.process(inbound)
        assert outcome.status == "applied", outcome

    rule = next(r for r in config_now.rules.rules if r.name == "lead_not_contacted")
    expected = sorted(at.replace(microsecond=0) + rule.within + rule.grace for at in created)  # type: ignore[attr-defined]  # whole seconds, as sent
    commits: list[tuple[datetime, float]] = []  # each commit's simulated time and the run's real seconds until then
    ddb = aws.client("dynamodb")
    clock = Clock()

    def committed(http_response: Any, **_: Any) -> None:
        if getattr(http_response, "status_code", 500) < 300:
            commits.append((clock(), clock.real_seconds()))

    ddb.meta.events.register("after-call.dynamodb.TransactWriteItems", committed)
    measured: list[float] = []
    fired_times: list[datetime] = []
    store, index = DynamoStore(settings), DynamoTimerIndex(settings)
    tick = T0 + timedelta(minutes=1)
    runs = 0
    while len(measured) < LEADS and tick < T0 + timedelta(hours=1):
        commits.clear()
        clock.start(tick)
        result = run_minute(config_now.rules, store, index, clock, sleep=clock.sleep)
        QUERY_SECONDS.append(commits[0][1] if commits else 0.0)
        RUN_SECONDS.append(clock.real_seconds())
        SLEPT_SECONDS.append(clock.slept)
        runs += 1
        assert result.conflicts == 0 and len(commits) == len(result.fired), (result.view(), len(commits))
        for fire_at, (committed_at, _) in zip(result.fire_times, commits, strict=True):
            fired_times.append(fire_at)
            measured.append((committed_at - fire_at).total_seconds())
        tick += timedelta(minutes=1)
    ddb.meta.events.unregister("after-call.dynamodb.TransactWriteItems", committed)
    assert len(measured) == LEADS, f"{len(measured)} of {LEADS} deadlines fired"
    drift = max(abs((a - b).total_seconds()) for a, b in zip(sorted(fired_times), expected, strict=True))
    assert drift < 0.001, f"the overdue events' times are not due + grace of the leads sent (off by {drift} s)"
    ideal = [(_next_minute(at) - at).total_seconds() for at in expected]
    return measured, ideal, runs


if __name__ == "__main__":
    main()
