"""Trigger accuracy through the real processor and DynamoDB: the same exact figures as the model.

Seed 24 with 4 customers is the smallest generated traffic that exercises every rule (194 deliveries);
moto copies its tables on every transaction, so the stand-in cannot take the large seed in a test.
"""

from __future__ import annotations

from benchmarks.accuracy.config import bench_config
from benchmarks.accuracy.pipeline_driver import drive
from benchmarks.accuracy.report import RULES, run


def test_precision_and_recall_are_exact_through_the_real_pipeline(aws):
    scores, info = run(
        seed=24, customers=4, driver=lambda traffic: drive(traffic, bench_config(traffic.sell_in_distributors, traffic.sell_in_skus))
    )
    assert [s.rule for s in scores] == list(RULES)
    for s in scores:
        assert s.expected > 0, f"{s.rule}: the traffic exercises nothing"
        assert (s.precision, s.recall) == (1.0, 1.0), s.line()
    assert info["stale"] > 0 and info["deduplicated"] > 0  # (unknown grades, i.e. quarantine, appear only in larger traffic)
