"""The inbound queues (SQS FIFO): one message per record, grouped by source entity for order.

Two lanes feed the same processor: the webhook lane (records vendors push) and the bulk lane
(scheduled sync pages and backfills), so a replayed history never queues ahead of a webhook.
Per-entity order across the lanes is kept by the processor's stale check (source time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.domain.inbound import InboundRecord
from chalicelib.errors import EnqueueError, RecordTooLarge
from chalicelib.runtime import aws

BATCH = 10
MAX_RECEIVES = 5  # a message received this often and still failing moves to its lane's dead-letter queue
MAX_MESSAGE_BYTES = 1_048_576  # SQS: one message, and one batch request's messages together (1 MiB)


@dataclass(frozen=True)
class Lane:
    """One FIFO queue the processor drains and its dead-letter queue, named by environment variables."""

    name: str
    queue_env: str
    dead_letter_env: str


WEBHOOK_LANE = Lane("webhook", "INBOUND_QUEUE_URL", "INBOUND_DLQ_URL")
BULK_LANE = Lane("bulk", "BULK_QUEUE_URL", "BULK_DLQ_URL")
LANES = (WEBHOOK_LANE, BULK_LANE)  # in the order a worker drains them


def group_id(record: InboundRecord) -> str:
    """Per-entity ordering: updates to one source record share a message group."""
    hint = record.entity_hint or record.dedupe_key
    return hashlib.sha256(f"{record.connector}\x1f{record.object}\x1f{hint}".encode()).hexdigest()[:64]


def dedupe_id(record: InboundRecord) -> str:
    return hashlib.sha256(record.dedupe_key.encode()).hexdigest()


def message_bytes(record: InboundRecord) -> int:
    """The size of the record's queue message (SQS limits messages by their UTF-8 bytes)."""
    return len(record.to_message().encode("utf-8"))


def batches(records: Iterable[InboundRecord]) -> list[list[dict[str, str]]]:
    """SendMessageBatch entries: at most 10 per request and 1 MiB together; raises RecordTooLarge for one over 1 MiB."""
    out: list[list[dict[str, str]]] = []
    size = 0
    for record in records:
        body = record.to_message()
        length = len(body.encode("utf-8"))
        if length > MAX_MESSAGE_BYTES:
            raise RecordTooLarge(f"a record of {length} bytes once queued; the queue carries at most {MAX_MESSAGE_BYTES} per record")
        if not out or len(out[-1]) == BATCH or size + length > MAX_MESSAGE_BYTES:
            out.append([])
            size = 0
        entry = {
            "Id": str(len(out[-1])),
            "MessageBody": body,
            "MessageGroupId": group_id(record),
            "MessageDeduplicationId": dedupe_id(record),
        }
        out[-1].append(entry)
        size += length
    return out


def send(records: Iterable[InboundRecord], queue_url: str) -> None:
    """Durably enqueue records; returns only when SQS has accepted every one of them.

    Raises RecordTooLarge, before anything is sent, when a record cannot travel through SQS at all.
    """
    client = aws.client("sqs")
    for entries in batches(records):
        for _ in range(3):
            response = client.send_message_batch(QueueUrl=queue_url, Entries=entries)
            failed = {f["Id"] for f in response.get("Failed", [])}
            if not failed:
                break
            entries = [e for e in entries if e["Id"] in failed]
        else:
            raise EnqueueError(f"{len(entries)} record(s) could not be queued")


def redrive(dead_letter_url: str, queue_url: str, limit: int = 1000) -> int:
    """Move messages from a dead-letter queue back to its lane's queue (oldest first).

    Each message keeps its group (so per-entity order holds) and gets a fresh
    deduplication id (SQS would drop a resend within 5 minutes otherwise); the
    processor's own dedupe keys still make a second application impossible.
    It is deleted from the dead-letter queue only after the send succeeded.
    """
    import uuid

    client = aws.client("sqs")
    moved = 0
    while moved < limit:
        messages = client.receive_message(
            QueueUrl=dead_letter_url,
            MaxNumberOfMessages=min(BATCH, limit - moved),
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            group = message.get("Attributes", {}).get("MessageGroupId") or "redriven"
            client.send_message(
                QueueUrl=queue_url, MessageBody=message["Body"], MessageGroupId=group, MessageDeduplicationId=f"redrive-{uuid.uuid4().hex}"
            )
            client.delete_message(QueueUrl=dead_letter_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def depth(queue_url: str) -> int:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    values = attributes["Attributes"]
    return int(values.get("ApproximateNumberOfMessages", 0)) + int(values.get("ApproximateNumberOfMessagesNotVisible", 0))


def peek(dead_letter_url: str, limit: int = 100) -> list[tuple[str, str]]:
    """(message id, body) of up to ``limit`` waiting messages, left where they are (visible again at once)."""
    client = aws.client("sqs")
    seen: dict[str, str] = {}
    for _ in range(max(1, limit // BATCH) * 2):
        messages = client.receive_message(
            QueueUrl=dead_letter_url, MaxNumberOfMessages=min(BATCH, limit), VisibilityTimeout=0, WaitTimeSeconds=0
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update((m["MessageId"], m["Body"]) for m in fresh)
        if len(seen) >= limit:
            break
    return list(seen.items())[:limit]
