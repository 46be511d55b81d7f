"""Fault injection at the dispatch step boundaries (scenarios and checks: tests/faults/scenarios.py)."""

from __future__ import annotations

import pytest

from tests.faults import workload
from tests.faults.scenarios import assert_like_reference, check, of_step

SCENARIOS = of_step("dispatch")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.boundary for s in SCENARIOS])
def test_fault_at_dispatch_boundary(harness, reference, scenario):
    check(harness, reference, scenario)


def test_stream_redelivery_sends_nothing_again(harness, reference):
    workload.run(harness)
    harness.redeliver_stream()
    harness.redeliver_stream()
    assert_like_reference(harness, reference)
