"""Over HTTP, the stand-in's SQS answers exactly as moto's own server does, for every SQS call salesbridge makes.

The stand-in (local/aws_standin.py, with ``LeanQueueScans`` and the request lookups installed)
runs in this process; moto as it ships runs in a child process (``python -m moto.server``),
so none of the stand-in's patches reach it. Both receive the same calls, in lock step, through
boto3: the queues as infra/resources.py makes them (a FIFO lane with its dead-letter queue, a
standard queue like the dispatch failure queue), then fixed scenarios and seeded random
sequences of what the door, the sync, the worker, ``dlq redrive`` and the dispatch re-drive
do: batch sends with duplicates, receives that let messages come back until the dead-letter
queue takes them, batch and single deletes (stale and bogus handles among them), visibility
changes and attribute reads. Every answer, stripped of what differs by nature (message ids,
receipt handles, timestamps, the endpoint in queue URLs), must be the same.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.aws_standin import AwsStandIn

FIFO, DLQ, STANDARD = "lane.fifo", "lane-dlq.fifo", "failures"
MAX_RECEIVES = 2  # a low redrive threshold, so the sequences reach the dead-letter queue
# Every visibility is 0 (visible again a millisecond later) or longer than any sequence runs: a
# timeout running out between the two servers' turns would make them differ by timing alone.
LONG = 900
ANSWERED_ATTRIBUTES = ("MessageGroupId", "MessageDeduplicationId", "ApproximateReceiveCount")
QUEUE_ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "ContentBasedDeduplication",
    "FifoQueue",
    "RedrivePolicy",
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "QueueArn",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def plain_moto() -> Iterator[str]:
    """moto's own server, unpatched, in a child process."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            pytest.fail("moto's server did not start")
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def standin() -> Iterator[str]:
    server = AwsStandIn()
    yield server.endpoint
    server.stop()


@dataclass
class Side:
    """One server, its queues, and the receipt handles it has handed out (in order)."""

    endpoint: str
    sqs: Any = None
    urls: dict[str, str] = field(default_factory=dict)
    handles: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        httpx.post(f"{self.endpoint}/moto-api/reset")
        self.sqs = boto3.client(
            "sqs",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}),
        )
        fifo = {"FifoQueue": "true", "ContentBasedDeduplication": "false", "VisibilityTimeout": str(LONG)}
        self.urls[DLQ] = self.sqs.create_queue(QueueName=DLQ, Attributes=fifo)["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=self.urls[DLQ], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)})
        self.urls[FIFO] = self.sqs.create_queue(QueueName=FIFO, Attributes={**fifo, "RedrivePolicy": redrive})["QueueUrl"]
        self.urls[STANDARD] = self.sqs.create_queue(QueueName=STANDARD, Attributes={"VisibilityTimeout": str(LONG)})["QueueUrl"]
        self.handles = {name: [] for name in self.urls}

    def call(self, op: tuple[Any, ...]) -> Any:
        """One operation, answered in a form that leaves out what differs by nature."""
        try:
            return _apply(self, op)
        except ClientError as error:
            return ("error", error.response["Error"]["Code"])


def _apply(side: Side, op: tuple[Any, ...]) -> Any:
    kind, queue = op[0], op[1]
    url, sqs = side.urls[queue], side.sqs
    fifo = queue != STANDARD
    if kind == "send_batch":  # the door, the sync: SendMessageBatch, ids per record, a group per entity
        entries = []
        for i, (body, group) in enumerate(op[2]):
            entry: dict[str, Any] = {"Id": str(i), "MessageBody": f"record-{body}"}
            if fifo:
                entry.update(MessageGroupId=f"entity-{group}", MessageDeduplicationId=f"dedupe-{body}")
            entries.append(entry)
        answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        return ("sent", sorted(s["Id"] for s in answer.get("Successful", [])), sorted(f["Id"] for f in answer.get("Failed", [])))
    if kind == "send":  # dlq redrive: one message back to its lane, its group kept, a fresh dedupe id
        body, group, dedupe = op[2], op[3], op[4]
        extra = {"MessageGroupId": f"entity-{group}", "MessageDeduplicationId": dedupe} if fifo else {}
        answer = sqs.send_message(QueueUrl=url, MessageBody=f"record-{body}", **extra)
        return ("sent", answer["MD5OfMessageBody"])
    if kind == "receive":  # the worker (queue default visibility), redrive (its own), 0 s: the message comes back
        count, visibility = op[2], op[3]
        extra = {} if visibility is None else {"VisibilityTimeout": visibility}
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=count, WaitTimeSeconds=0, AttributeNames=["All"], **extra)
        received = messages.get("Messages", [])
        side.handles[queue].extend(m["ReceiptHandle"] for m in received)
        return [
            (m["Body"], m["MD5OfBody"], {k: v for k, v in m.get("Attributes", {}).items() if k in ANSWERED_ATTRIBUTES}) for m in received
        ]
    if kind == "delete_batch":  # the worker: what the handler did not report as failed
        picks = [_handle(side, queue, n) for n in op[2]]
        entries = [{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(picks)]
        answer = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        failed = sorted((f["Id"], f["Code"]) for f in answer.get("Failed", []))
        return ("deleted", sorted(s["Id"] for s in answer.get("Successful", [])), failed)
    if kind == "delete":  # dlq redrive, the dispatch re-drive
        sqs.delete_message(QueueUrl=url, ReceiptHandle=_handle(side, queue, op[2]))
        return "deleted"
    if kind == "visibility":  # the worker: a failed message visible again soon
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=_handle(side, queue, op[2]), VisibilityTimeout=op[3])
        return "changed"
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=QUEUE_ATTRIBUTES)["Attributes"]
    return ("attributes", attributes)


def _handle(side: Side, queue: str, n: int) -> str:
    """The n-th receipt handle this queue handed out; past the end, one no queue ever issued."""
    handles = side.handles[queue]
    return handles[n] if n < len(handles) else "AQEB-not-a-receipt-handle"


def run_both(standin: str, plain_moto: str, ops: list[tuple[Any, ...]]) -> None:
    ours, theirs = Side(standin), Side(plain_moto)
    for step, op in enumerate(ops):
        expected = theirs.call(op)
        answered = ours.call(op)
        assert answered == expected, f"step {step}: {op}"
        time.sleep(0.002)  # a message received with visibility 0 is visible again one millisecond later, on both
    for queue in ours.urls:
        assert ours.call(("attributes", queue)) == theirs.call(("attributes", queue)), queue


def random_ops(seed: int, length: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    ops: list[tuple[Any, ...]] = []
    for _ in range(length):
        queue = rng.choice([FIFO, FIFO, FIFO, DLQ, STANDARD])
        kind = rng.choice(
            ["send_batch", "send_batch", "send", "receive", "receive", "receive", "delete_batch", "delete", "visibility", "attributes"]
        )
        if kind == "send_batch":
            bodies = rng.sample(range(12), rng.randint(1, 10))  # the same body twice within 5 minutes: a duplicate
            ops.append((kind, queue, [(b, rng.randint(0, 3)) for b in bodies]))
        elif kind == "send":
            ops.append((kind, queue, rng.randint(0, 11), rng.randint(0, 3), f"redrive-{rng.randint(0, 5)}"))
        elif kind == "receive":
            ops.append((kind, queue, rng.randint(1, 10), rng.choice([None, 0, 0, LONG])))
        elif kind == "delete_batch":
            ops.append((kind, queue, rng.sample(range(30), rng.randint(1, 10))))
        elif kind == "delete":
            ops.append((kind, queue, rng.randint(0, 30)))
        elif kind == "visibility":
            ops.append((kind, queue, rng.randint(0, 30), rng.choice([0, LONG])))
        else:
            ops.append((kind, queue))
    return ops


def test_a_lane_batch_is_received_deleted_and_redriven_as_moto_does(standin: str, plain_moto: str) -> None:
    ops: list[tuple[Any, ...]] = [
        ("send_batch", FIFO, [(1, 0), (2, 0), (3, 1), (4, 2)]),
        ("send_batch", FIFO, [(1, 0), (5, 1)]),  # 1 again: dropped by FIFO deduplication
        ("attributes", FIFO),
        ("receive", FIFO, 10, None),  # one message per group in flight at a time
        ("attributes", FIFO),
        ("delete_batch", FIFO, [0, 2]),
        ("visibility", FIFO, 1, 0),  # the handler reported it failed: visible again
        ("receive", FIFO, 10, 0),
        ("receive", FIFO, 10, 0),
        ("receive", FIFO, 10, 0),  # past maxReceiveCount: moved to the dead-letter queue
        ("attributes", FIFO),
        ("attributes", DLQ),
        ("receive", DLQ, 10, LONG),  # dlq redrive: take, send back with a fresh dedupe id, delete
        ("send", FIFO, 2, 0, "redrive-a"),
        ("delete", DLQ, 0),
        ("delete", DLQ, 0),  # already deleted
        ("delete", DLQ, 99),  # never issued
        ("delete_batch", FIFO, [0, 99]),  # a stale handle and a bogus one
        ("attributes", DLQ),
        ("send_batch", STANDARD, [(7, 0), (8, 0), (9, 0)]),  # the dispatch failure queue: standard
        ("receive", STANDARD, 10, LONG),
        ("delete", STANDARD, 1),
        ("attributes", STANDARD),
    ]
    run_both(standin, plain_moto, ops)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_of_the_calls_salesbridge_makes_answer_as_moto_does(standin: str, plain_moto: str, seed: int) -> None:
    run_both(standin, plain_moto, random_ops(seed, 120))
