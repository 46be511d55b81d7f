"""An operator's unmerge under faults: a crash or an AWS error at every boundary, then the operator tries again.

After the reference workload (C-2's customer merged into C-7's through a shared tax number) an
operator separates C-2 again, and C-2's next update (same tax number) arrives. Whatever fails on the
way, once the operator's retry has answered 200 the store must hold exactly what the fault-free run
holds: both golden records, the cross-references, the audit chains (one `unmerged` entry on each,
never two), the events, and C-2 still apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from tests.faults import workload
from tests.faults.harness import Crash, Fault, arm, chains_intact, client_error, disarm, snapshot, throttled
from tests.faults.scenarios import commit_cancelled, is_commit
from tests.stack import demo_body

MEMBER = "demo_crm/customer/C-2"
C2_LATER = demo_body("C-2", "Silver", "2026-11-06T08:00:00+08:00", tax_id="91310000MA1FL8XQ3K")

FAULTS: dict[str, Callable[[], Fault]] = {
    "crash before the read": lambda: Fault("dynamodb", "BatchGetItem", Crash("before unmerge read")),
    "read throttled": lambda: Fault("dynamodb", "BatchGetItem", throttled("BatchGetItem"), times=3),
    "crash before the commit": lambda: Fault("dynamodb", "TransactWriteItems", Crash("before unmerge commit"), match=is_commit),
    "commit cancelled (a writer got there first)": lambda: Fault(
        "dynamodb", "TransactWriteItems", commit_cancelled("ConditionalCheckFailed"), match=is_commit, times=2
    ),
    "commit throttled": lambda: Fault("dynamodb", "TransactWriteItems", throttled("TransactWriteItems"), match=is_commit, times=3),
    "committed, an error reply (500)": lambda: Fault(
        "dynamodb", "TransactWriteItems", client_error("InternalServerError", "TransactWriteItems"), when="after", match=is_commit
    ),
    "committed, crash before the reply": lambda: Fault(
        "dynamodb", "TransactWriteItems", Crash("after unmerge commit"), when="after", match=is_commit
    ),
}

_reference: dict[str, Any] = {}


def merged_entity(harness: Any) -> str:
    status, shown = harness.get(f"/identity?source={quote(MEMBER)}")
    assert status == 200 and len(shown["members"]) == 2, shown
    return str(shown["entity"])


def unmerge_until_answered(harness: Any, entity: str, attempts: int = 4) -> tuple[list[Any], dict[str, Any]]:
    """The operator's loop: a crash or a 5xx is tried again; a 2xx or 4xx is the answer."""
    seen: list[Any] = []
    for _ in range(attempts):
        try:
            status, body = harness.post_admin(f"/identity/unmerge?entity={quote(entity)}", {"member": MEMBER}, actor="ops@example.com")
        except Crash as crash:
            seen.append(f"crash: {crash}")
            continue
        seen.append(status)
        if status < 500:
            assert status == 200, (seen, body)
            return seen, body
    raise AssertionError(f"the unmerge never answered: {seen}")


def run(harness: Any, fault: Fault | None = None) -> tuple[list[Any], dict[str, Any]]:
    workload.run(harness)
    entity = merged_entity(harness)
    if fault:
        arm(fault)
    try:
        seen, answer = unmerge_until_answered(harness, entity)
    finally:
        if fault:
            disarm(fault)
    assert harness.post("demo_crm", C2_LATER) == 202
    harness.drain()
    harness.dispatch()
    return seen, answer


@pytest.fixture()
def unmerged_reference(harness: Any) -> dict[str, Any]:
    if "snapshot" not in _reference:
        seen, answer = run(harness)
        assert seen == [200] and "already" not in answer, (seen, answer)
        _reference.update(snapshot=snapshot(), answer=answer)
        harness.install()
    return _reference


def test_the_fault_free_unmerge_separates_c2_and_keeps_it_apart(harness: Any, unmerged_reference: dict[str, Any]) -> None:
    snap = unmerged_reference["snapshot"]
    answer = unmerged_reference["answer"]
    source, moved = answer["from"], answer["to"]
    assert snap["golden"][(source, "golden")]["sources"].keys() == {"demo_crm/customer/C-7"}
    assert snap["golden"][(moved, "golden")]["sources"].keys() == {MEMBER}
    assert snap["trails"][source].count("unmerged") == 1 and snap["trails"][moved].count("unmerged_from") == 1


@pytest.mark.parametrize("boundary", list(FAULTS))
def test_unmerge_fault_at(harness: Any, unmerged_reference: dict[str, Any], boundary: str) -> None:
    fault = FAULTS[boundary]()
    seen, answer = run(harness, fault)
    assert fault.fired >= 1, "the fault was never injected: the scenario proves nothing"
    assert {k: v for k, v in answer.items() if k != "already"} == unmerged_reference["answer"]
    reference = unmerged_reference["snapshot"]
    snap = snapshot()
    assert snap["golden"] == reference["golden"], seen
    assert snap["inputs"] == reference["inputs"]
    assert snap["events"] == reference["events"]
    assert snap["trails"] == reference["trails"], "one unmerged entry on each chain, as in the fault-free run"
    assert chains_intact() == {}
