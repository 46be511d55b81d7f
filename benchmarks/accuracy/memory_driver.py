"""The accuracy traffic through the real processor, on either storage adapter.

Each generated delivery enters where a mapped record does (``Processor.apply_canonical``):
the input's dedupe mark, one batched state read, the evaluate step (consent, golden merge,
triggers), and one atomic commit with the outbox. The in-memory store makes it fast; the
DynamoDB store (pipeline_driver) runs the very same loop against moto.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.events import CloudEvent
from chalicelib.domain.inbound import InboundRecord
from chalicelib.mapping import compile_documents
from chalicelib.pipeline.evaluate import Rules
from chalicelib.pipeline.processor import ProcessingConfig, Processor
from chalicelib.store.memory_store import MemoryStore
from chalicelib.store.port import Store
from chalicelib.triggers.config import TriggerConfig

MAX_KEYS = 100  # one BatchGetItem


def drive_through(traffic: Any, trigger_config: TriggerConfig, store: Store) -> Counter[str]:
    processor = Processor(ProcessingConfig(compile_documents([]), Rules(trigger_config), b"accuracy-bench"), store)
    stats: Counter[str] = Counter()
    for delivery in traffic.deliveries:
        record = delivery.record
        inbound = InboundRecord(
            connector=record.source.system,
            object=record.entity,
            payload={},
            dedupe_key=delivery.dedupe_key,
            received_at=datetime.now(UTC),
            via="sync",
            entity_hint=delivery.entity_id,
        )
        stats[processor.apply_canonical(inbound, record, delivery.entity_id).status] += 1
    return stats


def drive(traffic: Any, trigger_config: TriggerConfig) -> tuple[list[CloudEvent], dict[str, Any]]:
    store = MemoryStore()
    stats = drive_through(traffic, trigger_config, store)
    if store.max_keys > MAX_KEYS:
        raise RuntimeError(f"{store.max_keys} state keys for one record: more than one BatchGetItem")
    return list(store.outbox.values()), {
        "delivered": len(traffic.deliveries),
        "applied": stats["applied"],
        "stale": stats["stale"],
        "deduplicated": stats["duplicate"],
        "quarantined": stats["quarantined"],
        "re-read": store.reads - len(traffic.deliveries),
        "max keys read": store.max_keys,
        "repeated event ids": store.events_refused,
    }
