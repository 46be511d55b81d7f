"""Fault injection at the process step boundaries (scenarios and checks: tests/faults/scenarios.py)."""

from __future__ import annotations

import pytest

from tests.faults.scenarios import check, of_step

SCENARIOS = of_step("process")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.boundary for s in SCENARIOS])
def test_fault_at_process_boundary(harness, reference, scenario):
    check(harness, reference, scenario)
