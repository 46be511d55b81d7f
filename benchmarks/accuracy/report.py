"""Precision and recall of every trigger and rule on seeded, labelled traffic.

    .venv/bin/python -m benchmarks.accuracy.report --seed 7 --customers 2000

Drives the generated deliveries through a driver (in memory by default) exactly as the pipeline
does, compares the events that came out with the independent expectation, and prints one line per
trigger/rule.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from benchmarks.accuracy.config import bench_config
from benchmarks.accuracy.expectation import Key, expected_events
from benchmarks.accuracy.generator import Traffic, generate
from benchmarks.accuracy.memory_driver import drive
from chalicelib.domain.events import CloudEvent

RULES = (
    "grade_changed",
    "order_anomaly/amount_spike",
    "order_anomaly/below_floor_price",
    "order_anomaly/duplicate_order",
    "order_anomaly/credit_limit_exceeded",
    "order_anomaly/big_order_grade_d",
    "rebate/deviation_detected",
    "rebate/deviation_resolved",
)


@dataclass
class Score:
    rule: str
    expected: int
    emitted: int
    matched: int

    @property
    def precision(self) -> float:
        return self.matched / self.emitted if self.emitted else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else 1.0

    def line(self) -> str:
        return (
            f"{self.rule:<40} expected {self.expected:>6}  emitted {self.emitted:>6}  "
            f"precision {self.precision:.3f}  recall {self.recall:.3f}"
        )


def event_key(event: CloudEvent) -> Key:
    """The logical identity of an event, comparable with the expectation's keys."""
    data = event.data
    if event.type == "customer.grade_changed":
        return ("grade_changed", event.subject, data["previous"], data["current"], event.time)
    if event.type.startswith("rebate."):
        return (
            f"rebate/{event.type.split('.', 1)[1]}",
            data["distributor"],
            data["period"],
            data["policy"],
            Decimal(data["expected"]),
            Decimal(data["settled"]),
        )
    return (f"order_anomaly/{data['rule']}", data["order_id"])


def score(expected: list[Key], emitted: list[Key]) -> list[Score]:
    want, got = Counter(expected), Counter(emitted)
    rules = list(RULES) + sorted({k[0] for k in want | got} - set(RULES))
    scores = []
    for rule in rules:
        w = Counter({k: n for k, n in want.items() if k[0] == rule})
        g = Counter({k: n for k, n in got.items() if k[0] == rule})
        scores.append(Score(rule, sum(w.values()), sum(g.values()), sum((w & g).values())))
    return scores


Driver = Callable[[Traffic], tuple[list[CloudEvent], dict[str, Any]]]


def memory_driver(traffic: Traffic) -> tuple[list[CloudEvent], dict[str, Any]]:
    return drive(traffic, bench_config(traffic.sell_in_distributors, traffic.sell_in_skus))


def run(seed: int, customers: int, driver: Driver = memory_driver) -> tuple[list[Score], dict[str, Any]]:
    started = time.perf_counter()
    traffic = generate(seed, customers)
    generated = time.perf_counter()
    events, stats = driver(traffic)
    driven = time.perf_counter()
    expected = expected_events(traffic.deliveries, traffic.sell_in_distributors, traffic.sell_in_skus)
    detections = Counter(k for k in expected if k[0] == "rebate/deviation_detected")
    info = {
        **traffic.counts,
        "deviations re-opened with the pair reported before": sum(n - 1 for n in detections.values()),
        **stats,
        "deliveries": len(traffic.deliveries),
        "generate_s": round(generated - started, 2),
        "drive_s": round(driven - generated, 2),
        "records_per_s": round(len(traffic.deliveries) / max(driven - generated, 1e-9)),
    }
    return score(expected, [event_key(e) for e in events]), info


def custom_rule_cost(repeat: int = 20000) -> tuple[float, float]:
    """µs per evaluation of the configured custom rule, and of the same check written in Python."""
    rule = bench_config(["d"], ["s"]).custom_rules[0]
    env = {"order": {"total": Decimal("25000.00"), "status": "open"}, "customer": {"grade": "D"}}
    started = time.perf_counter()
    for _ in range(repeat):
        rule.condition.evaluate(env)
    configured = time.perf_counter() - started
    limit = Decimal(20000)
    started = time.perf_counter()
    for _ in range(repeat):
        env["customer"].get("grade") == "D" and env["order"].get("total") > limit  # noqa: B015
    hand = time.perf_counter() - started
    return configured / repeat * 1e6, hand / repeat * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--verbose", action="store_true", help="also print the traffic and driver counts")
    parser.add_argument(
        "--driver",
        choices=["memory", "pipeline"],
        default="memory",
        help="pipeline: the real processor on a moto server (slow: keep --customers small, e.g. 20)",
    )
    args = parser.parse_args(argv)
    driver: Driver = memory_driver
    standin = None
    if args.driver == "pipeline":
        from benchmarks.accuracy.pipeline_driver import drive
        from local.aws_standin import AwsStandIn

        standin = AwsStandIn()
        standin.activate()
        driver = lambda traffic: drive(traffic, bench_config(traffic.sell_in_distributors, traffic.sell_in_skus))  # noqa: E731
    try:
        scores, info = run(args.seed, args.customers, driver)
    finally:
        if standin is not None:
            standin.stop()
    print(
        f"trigger accuracy: seed {args.seed}, {args.customers} customers, {info['deliveries']} deliveries "
        f"({info['records_per_s']} records/s through the {'in-memory' if args.driver == 'memory' else 'DynamoDB (moto)'} driver)"
    )
    for s in scores:
        print(s.line())
    if args.verbose:
        for name, value in sorted(info.items()):
            print(f"  {name}: {value}")
    print(f"{'events with a repeated id (outbox dropped)':<40} {info['repeated event ids']}")
    configured, hand = custom_rule_cost()
    print(f"{'custom rule evaluation':<40} {configured:.2f} us (hand-written Python {hand:.2f} us, ratio {configured / hand:.1f}x)")
    exact = all(s.precision == 1.0 and s.recall == 1.0 for s in scores) and info["repeated event ids"] == 0
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
