from __future__ import annotations

import pytest

from tests.faults import workload
from tests.faults.harness import snapshot

_reference: dict[str, object] = {}


@pytest.fixture()
def reference(harness):
    """What the workload leaves behind without faults (computed once per test process, then a fresh stand-in)."""
    if "snapshot" not in _reference:
        workload.run(harness)
        _reference["snapshot"] = snapshot()
        _reference["tap"] = harness.tap()
        harness.install()
    return _reference["snapshot"]
