"""Scenarios: a fault at every step boundary of ingest → process → commit → dispatch, and AWS's error replies.

Every scenario runs the reference workload with one fault armed for one phase and asserts:
the fault really happened; the final state equals the fault-free run (golden items minus
bookkeeping); every input is accounted for exactly as in that run (applied / stale / quarantined,
rejections in the audit table); each event reached the bus, by id, once (or, where the process died
between a send and its record, again under the same id for the receiver to drop); and every audit
chain verifies.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.faults import workload
from tests.faults.harness import Crash, Fault, arm, cancelled, chains_intact, client_error, disarm, snapshot, throttled

DISPATCH = 99  # "phase" of the dispatch step, after the last inbound phase
MERGE = workload.MERGE_PHASE


def _table_puts(params: dict[str, Any]) -> set[str]:
    return {a.get("Put", a.get("Update", {})).get("TableName") for a in params.get("TransactItems", [])}


def is_commit(params: dict[str, Any]) -> bool:
    """The pipeline's record commit (it always writes the state table)."""
    return os.environ["STATE_TABLE"] in _table_puts(params)


def is_quarantine_commit(params: dict[str, Any]) -> bool:
    return os.environ["QUARANTINE_TABLE"] in _table_puts(params)


def is_delivery_record(params: dict[str, Any]) -> bool:
    """The dispatcher's record of an attempt (an Update of the event item + its audit entries)."""
    first = (params.get("TransactItems") or [{}])[0]
    return first.get("Update", {}).get("TableName") == os.environ["EVENTS_TABLE"]


def is_audit_put(params: dict[str, Any]) -> bool:
    return params.get("TableName") == os.environ["AUDIT_TABLE"]


@dataclass
class Scenario:
    boundary: str
    phase: int
    make: Callable[[], Fault]
    resent_by_id: bool = False  # the process died between a send and its record: the receiver sees the id twice
    door_answers: tuple[int, ...] = ()  # answers the vendor must have seen besides 202/401


def commit_cancelled(reason: str) -> Callable[[dict[str, Any]], BaseException]:
    return lambda params: cancelled("TransactWriteItems", [reason], len(params["TransactItems"]))


SCENARIOS = [
    # ---------------------------------------------------------------- ingest
    Scenario("door: crash after verify, before enqueue", 1, lambda: Fault("sqs", "SendMessageBatch", Crash("before enqueue"))),
    Scenario(
        "door: SQS unavailable at enqueue (503, vendor retries)",
        1,
        lambda: Fault("sqs", "SendMessageBatch", client_error("ServiceUnavailable", "SendMessageBatch"), times=2),
        door_answers=(503,),
    ),
    Scenario(
        "door: crash after enqueue, before the 202", 1, lambda: Fault("sqs", "SendMessageBatch", Crash("after enqueue"), when="after")
    ),
    Scenario(
        "door: enqueued but the reply was lost (503, vendor retries)",
        3,
        lambda: Fault("sqs", "SendMessageBatch", client_error("InternalError", "SendMessageBatch"), when="after"),
        door_answers=(503,),
    ),
    Scenario(
        "door: audit of a refusal throttled (503 until it is audited)",
        0,
        lambda: Fault("dynamodb", "PutItem", throttled("PutItem"), match=is_audit_put),
        door_answers=(503,),
    ),
    # ---------------------------------------------------------------- process
    Scenario("process: crash after receive, before the state read", 1, lambda: Fault("dynamodb", "BatchGetItem", Crash("before read"))),
    Scenario("process: state read throttled", 3, lambda: Fault("dynamodb", "BatchGetItem", throttled("BatchGetItem"), times=2)),
    Scenario(
        "process: crash after the state read, before commit",
        1,
        lambda: Fault("dynamodb", "TransactWriteItems", Crash("before commit"), match=is_commit),
    ),
    Scenario(
        "process: crash mid-batch (second commit of the batch)",
        1,
        lambda: Fault("dynamodb", "TransactWriteItems", Crash("mid batch"), match=is_commit, skip=1),
    ),
    Scenario(
        "commit: throttled (ProvisionedThroughputExceeded)",
        1,
        lambda: Fault("dynamodb", "TransactWriteItems", throttled("TransactWriteItems"), match=is_commit, times=2),
    ),
    Scenario(
        "commit: ThrottlingException",
        3,
        lambda: Fault("dynamodb", "TransactWriteItems", client_error("ThrottlingException", "TransactWriteItems"), match=is_commit),
    ),
    Scenario(
        "commit: cancelled, ConditionalCheckFailed (a writer got there first)",
        1,
        lambda: Fault("dynamodb", "TransactWriteItems", commit_cancelled("ConditionalCheckFailed"), match=is_commit, times=3),
    ),
    Scenario(
        "commit: cancelled, TransactionConflict",
        3,
        lambda: Fault("dynamodb", "TransactWriteItems", commit_cancelled("TransactionConflict"), match=is_commit, times=2),
    ),
    Scenario(
        "commit: TransactionConflictException",
        1,
        lambda: Fault(
            "dynamodb", "TransactWriteItems", client_error("TransactionConflictException", "TransactWriteItems"), match=is_commit
        ),
    ),
    Scenario(
        "commit: conflicts that never settle (message redelivered)",
        1,
        lambda: Fault("dynamodb", "TransactWriteItems", commit_cancelled("TransactionConflict"), match=is_commit, times=8),
    ),
    Scenario(
        "commit: succeeded, crash before the reply",
        1,
        lambda: Fault("dynamodb", "TransactWriteItems", Crash("after commit"), when="after", match=is_commit),
    ),
    Scenario(
        "commit: succeeded, an error reply (500)",
        3,
        lambda: Fault(
            "dynamodb", "TransactWriteItems", client_error("InternalServerError", "TransactWriteItems"), when="after", match=is_commit
        ),
    ),
    Scenario(
        "quarantine: recorded, crash before the reply",
        0,
        lambda: Fault("dynamodb", "TransactWriteItems", Crash("after quarantine"), when="after", match=is_quarantine_commit),
    ),
    Scenario(
        "queue: crash after commit, before the SQS delete (batch redelivered)",
        1,
        lambda: Fault("sqs", "DeleteMessageBatch", Crash("before delete")),
    ),
    Scenario(
        "queue: crash after commit, before the SQS delete (orders)", 3, lambda: Fault("sqs", "DeleteMessageBatch", Crash("before delete"))
    ),
    Scenario(
        "queue: SQS delete failed after it happened", 2, lambda: Fault("sqs", "DeleteMessageBatch", Crash("after delete"), when="after")
    ),
    # ---------------------------------------------------------------- identity (C-2 merges into C-7's customer)
    Scenario("identity: crash before the identity read", MERGE, lambda: Fault("dynamodb", "BatchGetItem", Crash("before identity"))),
    Scenario(
        "identity: crash between the first read and the second (the merged customers' rebate bases)",
        MERGE,
        lambda: Fault("dynamodb", "BatchGetItem", Crash("before state"), skip=1),
    ),
    Scenario(
        "identity: merge commit cancelled (a writer got there first)",
        MERGE,
        lambda: Fault("dynamodb", "TransactWriteItems", commit_cancelled("ConditionalCheckFailed"), match=is_commit, times=2),
    ),
    Scenario(
        "identity: merge committed, crash before the reply",
        MERGE,
        lambda: Fault("dynamodb", "TransactWriteItems", Crash("after merge"), when="after", match=is_commit),
    ),
    Scenario(
        "identity: merge committed, crash before the SQS delete",
        MERGE,
        lambda: Fault("sqs", "DeleteMessageBatch", Crash("before delete")),
    ),
    # ---------------------------------------------------------------- dispatch
    Scenario("dispatch: crash before the send", DISPATCH, lambda: Fault("events", "PutEvents", Crash("before send"))),
    Scenario(
        "dispatch: EventBridge refuses a send",
        DISPATCH,
        lambda: Fault("events", "PutEvents", client_error("InternalException", "PutEvents"), times=2),
    ),
    Scenario(
        "dispatch: crash after the send, before recording it",
        DISPATCH,
        lambda: Fault("events", "PutEvents", Crash("after send"), when="after"),
        resent_by_id=True,
    ),
    Scenario(
        "dispatch: crash while recording the delivery",
        DISPATCH,
        lambda: Fault("dynamodb", "TransactWriteItems", Crash("record"), match=is_delivery_record),
        resent_by_id=True,
    ),
    Scenario(
        "dispatch: recording throttled",
        DISPATCH,
        lambda: Fault("dynamodb", "TransactWriteItems", throttled("TransactWriteItems"), match=is_delivery_record),
        resent_by_id=True,
    ),
    Scenario(
        "dispatch: recorded, crash before the stream checkpoint",
        DISPATCH,
        lambda: Fault("dynamodb", "TransactWriteItems", Crash("after record"), when="after", match=is_delivery_record),
    ),
]


def run_with(harness: Any, scenario: Scenario) -> Fault:
    fault = scenario.make()

    def before_phase(index: int) -> None:
        if index == scenario.phase:
            arm(fault)

    def after_phase(index: int) -> None:
        if index == scenario.phase:
            disarm(fault)
        if index == len(workload.PHASES) - 1 and scenario.phase == DISPATCH:
            arm(fault)

    if scenario.phase == 0:
        arm(fault)  # phase 0 includes the forged delivery sent before it
    workload.run(harness, before_phase=before_phase, after_phase=after_phase)
    disarm(fault)
    return fault


def assert_like_reference(harness: Any, reference: dict[str, Any], *, resent_by_id: bool = False) -> None:
    snap = snapshot()
    assert snap["golden"] == reference["golden"]
    assert snap["inputs"] == reference["inputs"], "every input accounted for, as in the fault-free run"
    assert Counter(snap["inputs"].values()) == workload.EXPECTED_INPUTS
    assert snap["rejected"] == reference["rejected"]
    assert snap["quarantine"] == reference["quarantine"]
    assert snap["events"] == reference["events"]
    assert set(snap["delivery"].values()) == {"delivered"}
    delivered = harness.tap()
    assert set(delivered) == set(reference["events"]), "every event reached the bus"
    if not resent_by_id:
        assert len(delivered) == len(set(delivered)), f"an event was delivered twice: {delivered}"
    for key, actions in reference["trails"].items():
        if key.startswith("event#"):
            assert snap["trails"][key][-1] == "delivered" and snap["trails"][key].count("delivered") == 1, snap["trails"][key]
            assert set(snap["trails"][key]) <= {"delivered", "delivery_failed"}
        else:
            assert snap["trails"][key] == actions, f"{key}: the audit trail differs from the fault-free run"
    assert set(snap["trails"]) == set(reference["trails"])
    assert chains_intact() == {}


def check(harness, reference, scenario: Scenario) -> None:
    fault = run_with(harness, scenario)
    assert fault.fired >= 1, "the fault was never injected: the scenario proves nothing"
    for answer in scenario.door_answers:
        assert answer in harness.statuses
    assert_like_reference(harness, reference, resent_by_id=scenario.resent_by_id)


def of_step(step: str) -> list[Scenario]:
    return [s for s in SCENARIOS if s.boundary.split(":")[0] in STEPS[step]]


STEPS = {"ingest": ("door",), "process": ("process", "quarantine", "identity"), "commit": ("commit", "queue"), "dispatch": ("dispatch",)}


class FakeHttp:
    def __init__(self, status_code: int):
        self.status_code = status_code
        self.headers: dict[str, str] = {}
        self.content = b""
        self.text = ""
