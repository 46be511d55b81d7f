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
from chalicelib.store import stats

log = logging.getLogger("salesbridge.pipeline")


@dataclass(frozen=True)
class QueueMessage:
    message_id: str
    body: str
    group_id: str


def messages_from_event(raw_event: dict[str, Any]) -> list[QueueMessage]:
    return [
        QueueMessage(r.get("messageId", ""), r.get("body", ""), r.get("attributes", {}).get("MessageGroupId", r.get("messageId", "")))
        for r in raw_event.get("Records", [])
    ]


def process_batch(
    messages: Iterable[QueueMessage], processor: Processor, stats_table: str | None = None
) -> tuple[dict[str, Any], list[RecordOutcome]]:
    """``stats_table``: where the overview's hourly counts go (None: not counted)."""
    failures: list[str] = []
    failed_groups: set[str] = set()
    outcomes: list[RecordOutcome] = []
    tally: list[tuple[str, str]] = []  # (connector, status) for the overview's counters
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
        except ValidationError:
            # Not one of our messages: leave it to the dead-letter queue, where it is kept.
            log.error("unreadable queue message %s", message.message_id)
            failures.append(message.message_id)
            failed_groups.add(message.group_id)
        except Exception:  # noqa: BLE001 - any failure: redeliver this message and its group's later ones
            log.exception("processing failed for message %s; it will be redelivered", message.message_id)
            observability.count("RecordsFailed")
            failures.append(message.message_id)
            failed_groups.add(message.group_id)
    if stats_table:
        stats.count_outcomes(stats_table, tally)  # approximate, outside the transactions: see stats.py
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}, outcomes
