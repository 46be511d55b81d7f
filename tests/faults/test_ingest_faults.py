"""Fault injection at the ingest step boundaries (scenarios and checks: tests/faults/scenarios.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.faults import workload
from tests.faults.scenarios import FakeHttp, assert_like_reference, check, of_step

SCENARIOS = of_step("ingest")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.boundary for s in SCENARIOS])
def test_fault_at_ingest_boundary(harness, reference, scenario):
    check(harness, reference, scenario)


def test_partially_refused_enqueue_is_retried_not_lost(harness, reference):
    """SQS takes the batch call but refuses its entries (``Failed``): the door retries them before answering."""
    from chalicelib.runtime import aws

    refusals = []

    def refuse(params: dict[str, Any], **_: Any) -> Any:
        if refusals:
            return None
        body = json.loads(params["body"])
        refusals.append(len(body["Entries"]))
        failed = [{"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"} for e in body["Entries"]]
        return FakeHttp(200), {"Successful": [], "Failed": failed, "ResponseMetadata": {"HTTPStatusCode": 200}}

    def before_phase(index: int) -> None:
        if index == 2:
            aws.client("sqs").meta.events.register("before-call.sqs.SendMessageBatch", refuse)

    workload.run(harness, before_phase=before_phase)
    aws.client("sqs").meta.events.unregister("before-call.sqs.SendMessageBatch", refuse)
    assert refusals == [1]
    assert_like_reference(harness, reference)
