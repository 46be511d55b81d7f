"""Fault injection at the commit step boundaries (scenarios and checks: tests/faults/scenarios.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.faults import workload
from tests.faults.harness import Crash
from tests.faults.scenarios import assert_like_reference, check, of_step

SCENARIOS = of_step("commit")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.boundary for s in SCENARIOS])
def test_fault_at_commit_boundary(harness, reference, scenario):
    check(harness, reference, scenario)


def test_every_queue_message_redelivered_changes_nothing(harness, reference):
    """At-least-once to the extreme: every message of every batch is handled, then comes back once more."""
    from chalicelib.runtime import aws

    replayed: set[str] = set()

    def once_more(params: dict[str, Any], **_: Any) -> None:
        ids = {m["ReceiptHandle"]: m["MessageId"] for m in harness._received}
        fresh = {ids[e["ReceiptHandle"]] for e in params["Entries"]} - replayed
        replayed.update(fresh)
        if fresh:
            raise Crash("the platform lost the delete")

    aws.client("sqs").meta.events.register("before-parameter-build.sqs.DeleteMessageBatch", once_more)
    try:
        workload.run(harness)
    finally:
        aws.client("sqs").meta.events.unregister("before-parameter-build.sqs.DeleteMessageBatch", once_more)
    assert harness.crashes >= len(workload.PHASES)
    assert_like_reference(harness, reference)
