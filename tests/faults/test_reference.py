"""The fault-free run every fault scenario is compared with: checked here in absolute terms."""

from __future__ import annotations

from collections import Counter

from tests.faults import workload
from tests.faults.harness import chains_intact, snapshot


def test_fault_free_run_accounts_for_every_input_and_fires_each_event_once(harness):
    workload.run(harness)
    snap = snapshot()
    assert Counter(snap["inputs"].values()) == workload.EXPECTED_INPUTS
    assert len(snap["inputs"]) == workload.ACCEPTED
    assert snap["rejected"] == ["bad_signature"]
    assert sorted(t for t, _, _ in snap["events"].values()) == workload.EXPECTED_EVENT_TYPES
    delivered = harness.tap()
    assert sorted(delivered) == sorted(snap["events"]) and len(delivered) == len(set(delivered))
    assert set(snap["delivery"].values()) == {"delivered"}
    assert [s for s, _, _ in snap["quarantine"].values()] == ["open"]
    assert chains_intact() == {}
    grades = {
        g["fields"]["name"] + ":" + g["id"]: g["fields"].get("grade")
        for (pk, sk), g in snap["golden"].items()
        if pk.startswith("customer#") and sk == "golden" and "alias_of" not in g
    }
    assert sorted(grades.values()) == ["C", "S"]  # C-1; C-7 with C-2 merged into it
    aliases = [g["alias_of"] for (pk, sk), g in snap["golden"].items() if sk == "golden" and "alias_of" in g]
    assert len(aliases) == 1 and aliases[0].startswith("cus_k0_")
