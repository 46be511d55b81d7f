"""The accuracy traffic through the real processor and DynamoDB (moto over HTTP), not a model of it.

Each generated delivery enters where a mapped record does (``Processor.apply_canonical``):
dedupe item, one batched state read, golden merge and triggers, one transaction with the
outbox. The events are then read back from the events table, as dispatch would see them.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.events import CloudEvent


def drive(traffic: Any, trigger_config: Any) -> tuple[list[CloudEvent], dict[str, Any]]:
    """Requires boto3 to point at a stand-in with the tables (tests' ``aws`` fixture, or ``standin``)."""
    from chalicelib.configuration import Configuration
    from chalicelib.dispatch.subscribers import DEFAULT
    from chalicelib.domain.inbound import InboundRecord
    from chalicelib.mapping import compile_documents
    from chalicelib.pipeline.processor import Processor
    from chalicelib.runtime.settings import PROJECT_ROOT, get_settings

    config = Configuration(connectors={}, mappings=compile_documents([]), triggers=trigger_config, root=PROJECT_ROOT, subscribers=DEFAULT)
    processor = Processor(config, get_settings())
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
        outcome = processor.apply_canonical(inbound, record, delivery.entity_id)
        stats[outcome.status] += 1
    events = read_events(get_settings().events_table)
    return events, {
        "stale": stats["stale"],
        "deduplicated": stats["duplicate"],
        "quarantined": stats["quarantined"],
        "applied": stats["applied"],
        "repeated event ids": 0,
    }


def read_events(table: str) -> list[CloudEvent]:
    from chalicelib.runtime import aws

    events, start = [], None
    while True:
        kwargs: dict[str, Any] = {"TableName": table}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = aws.client("dynamodb").scan(**kwargs)
        events += [CloudEvent.model_validate(json.loads(item["event"]["S"])) for item in page.get("Items", [])]
        start = page.get("LastEvaluatedKey")
        if not start:
            return events
