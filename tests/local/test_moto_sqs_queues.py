"""The stand-in's lean SQS scans behave exactly as moto's own, on random sequences of queue operations.

Two moto SQS backends (no server), one as moto ships it, one with LeanQueueScans installed for
the duration of each call, receive the same random sends (duplicates within the FIFO
deduplication window among them), receives, deletes (valid, repeated and bogus receipt handles)
and attribute reads. Every answer and the queues' contents must be the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from moto.sqs.models import SQSBackend

from local.moto_sqs_queues import LeanQueueScans

QUEUE = "q.fifo"


@contextmanager
def lean(enabled: bool) -> Iterator[None]:
    """moto's own code, or the lean scans (the test process may have them installed already)."""
    from moto.sqs.models import Queue

    installed = Queue.delete_message is not LeanQueueScans.moto_delete_message
    if enabled and not installed:
        LeanQueueScans.install()
    elif not enabled and installed:
        LeanQueueScans.uninstall()
    try:
        yield
    finally:
        if installed and not enabled:
            LeanQueueScans.install()
        elif enabled and not installed:
            LeanQueueScans.uninstall()


def backend(enabled: bool) -> SQSBackend:
    b = SQSBackend(region_name="us-east-1", account_id="123456789012")
    with lean(enabled):
        b.create_queue(QUEUE, FifoQueue="true", ContentBasedDeduplication="false", VisibilityTimeout="30")
    return b


operation = st.one_of(
    st.tuples(st.just("send"), st.integers(0, 5), st.integers(0, 2)),  # body / dedupe id, group
    st.tuples(st.just("batch"), st.lists(st.integers(0, 5), min_size=1, max_size=4, unique=True), st.integers(0, 2)),
    st.tuples(st.just("receive"), st.integers(1, 10)),
    st.tuples(st.just("delete"), st.integers(0, 4)),  # the k-th receipt handle handed out (again: already deleted)
    st.tuples(st.just("delete_bogus")),
    st.tuples(st.just("send_without_dedupe_id"), st.integers(0, 2)),  # refused: the queue has no content-based deduplication
    st.tuples(st.just("attributes")),
)


def apply(b: SQSBackend, enabled: bool, ops: list[tuple[Any, ...]]) -> list[Any]:
    handles: list[str] = []
    answers: list[Any] = []
    for op in ops:
        with lean(enabled):
            answers.append(_one(b, op, handles))
        queue = b.get_queue(QUEUE)
        answers.append(("queue", [(m.body, m.group_id, m.deduplication_id) for m in queue._messages], len(queue.pending_messages)))
    return answers


def _one(b: SQSBackend, op: tuple[Any, ...], handles: list[str]) -> Any:
    kind = op[0]
    try:
        if kind == "send":
            b.send_message(QUEUE, f"body-{op[1]}", deduplication_id=f"d-{op[1]}", group_id=f"g-{op[2]}")
            return "sent"
        if kind == "batch":
            entries = {
                str(i): {"Id": str(i), "MessageBody": f"body-{n}", "MessageDeduplicationId": f"d-{n}", "MessageGroupId": f"g-{op[2]}",
                         "MessageAttributes": {}, "DelaySeconds": None}
                for i, n in enumerate(op[1])
            }  # fmt: skip
            sent, failed = b.send_message_batch(QUEUE, entries)
            return ("batch", [m.body for m in sent], failed)
        if kind == "receive":
            received = b.receive_message(QUEUE, op[1], 0, 30)
            handles.extend(m.receipt_handle for m in received if m.receipt_handle)
            return ("received", [m.body for m in received])
        if kind == "delete":
            if op[1] >= len(handles):
                return "nothing to delete"
            b.delete_message(QUEUE, handles[op[1]])
            return "deleted"
        if kind == "send_without_dedupe_id":
            b.send_message(QUEUE, "body-x", group_id=f"g-{op[1]}")
            return "sent"
        if kind == "delete_bogus":
            b.delete_message(QUEUE, "not-a-receipt-handle")
            return "deleted"
        attributes = b.get_queue_attributes(
            QUEUE, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ContentBasedDeduplication", "RedrivePolicy"]
        )
        return ("attributes", attributes)
    except Exception as exc:  # noqa: BLE001 - the error itself is what is compared
        return ("error", type(exc).__name__, str(exc))


@settings(max_examples=100, deadline=None)
@given(st.lists(operation, min_size=1, max_size=25))
@example([("send", 1, 0), ("send", 1, 0), ("send", 2, 1), ("receive", 5), ("attributes",), ("delete", 0), ("delete", 0), ("receive", 5)])
@example([("batch", [0, 1, 2], 0), ("receive", 10), ("delete", 1), ("delete_bogus",), ("attributes",), ("receive", 10)])
@example([("send_without_dedupe_id", 0), ("send", 3, 0), ("receive", 1)])
def test_lean_queue_scans_answer_as_moto_does(ops: list[tuple[Any, ...]]) -> None:
    assert apply(backend(True), True, ops) == apply(backend(False), False, ops)


def test_the_send_and_receive_paths_read_single_attributes_only() -> None:
    """What makes them lean: no message is counted while messages are sent and received."""
    from moto.sqs.models import Queue

    b = backend(True)
    counted: list[str] = []
    original: Callable[[Queue], int] = Queue.approximate_number_of_messages.fget  # type: ignore[attr-defined]
    with lean(True):
        Queue.approximate_number_of_messages = property(lambda q: counted.append("counted") or original(q))  # type: ignore[method-assign,assignment]
        try:
            for n in range(20):
                b.send_message(QUEUE, f"body-{n}", deduplication_id=f"d-{n}", group_id=f"g-{n}")
            received = b.receive_message(QUEUE, 10, 0, 30)
            for m in received:
                b.delete_message(QUEUE, m.receipt_handle)
        finally:
            Queue.approximate_number_of_messages = property(original)  # type: ignore[method-assign,assignment]
    assert len(received) == 10 and counted == []
