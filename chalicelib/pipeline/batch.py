"""The SQS handler's logic: process a batch, report only the failures (partial batch response).

FIFO order matters per message group: once a message of a group fails, the later
messages of that group in the batch are reported as failed too, so they are
redelivered after it instead of overtaking it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from chalicelib.domain.inbound import InboundRecord
from chalicelib.pipeline.processor import Processor
from chalicelib.pipeline.record_outcome import RecordOutcome
from chalicelib.runtime import observability
from chalicelib.runtime.queue import MAX_RECEIVES
from chalicelib.store import stats

log = logging.getLogger("salesbridge.pipeline")


@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    body: str
    group_id: str
    receive_count: int = 1  # SQS's ApproximateReceiveCount: at MAX_RECEIVES a failure sends it to the dead-letter queue


def messages_from_event(raw_event: dict[str, Any]) -> list[QueueMessage]:
    return [_message(r) for r in raw_event.get("Records", [])]


def _message(record: dict[str, Any]) -> QueueMessage:
    attributes = record.get("attributes") or {}
    count = str(attributes.get("ApproximateReceiveCount", "1"))
    return QueueMessage(
        record.get("messageId", ""),
        record.get("body", ""),
        attributes.get("MessageGroupId", record.get("messageId", "")),
        int(count) if count.isdigit() else 1,
    )


def process_batch(
    messages: Iterable[QueueMessage], processor: Processor, stats_table: str | None = None
) -> tuple[dict[str, Any], list[RecordOutcome]]:
    """``stats_table``: where the overview's hourly counts go (None: not counted)."""
    failures: list[str] = []
    outcomes: list[RecordOutcome] = []
    tally: list[tuple[str, str]] = []  # (connector, status) for the overview's counters
    failed_groups: set[str] = set()
    with processor.store.raw_copies_after():  # one write of the batch's raw input copies, after its records
        for message in messages:
            if message.group_id in failed_groups:
                failures.append(message.message_id)
                continue
            try:
                inbound = InboundRecord.from_message(message.body)
                with observability.record(inbound):
                    outcomes.append(processor.process(inbound))
                    observability.processed(inbound, outcomes[-1].status, entity=outcomes[-1].entity_key)
                tally.append((inbound.connector, outcomes[-1].status))
            except ValidationError as exc:
                # Not one of our messages: leave it to the dead-letter queue, where it is kept.
                log.error("unreadable queue message %s", message.message_id)
                failures.append(message.message_id)
                failed_groups.add(message.group_id)
                _account_if_last(processor, message, exc)
            except Exception as exc:  # noqa: BLE001 - any failure: redeliver this message and its group's later ones
                log.exception("processing failed for message %s; it will be redelivered", message.message_id)
                observability.count("RecordsFailed")
                failures.append(message.message_id)
                failed_groups.add(message.group_id)
                _account_if_last(processor, message, exc)
    if stats_table:
        stats.count_outcomes(stats_table, tally)  # approximate, outside the transactions: see stats.py
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}, outcomes


def _account_if_last(processor: Processor, message: QueueMessage, error: BaseException) -> None:
    """A message failing its last attempt goes to the dead-letter queue: the audit trail says which and why first."""
    if message.receive_count < MAX_RECEIVES:
        return
    try:
        processor.record_dead_letter(message.message_id, message.body, message.receive_count, error)
    except Exception:  # noqa: BLE001 - the message is kept in the dead-letter queue either way
        log.exception("could not audit dead-lettered message %s", message.message_id)
