"""The accuracy traffic through the real processor and DynamoDB (moto over HTTP), not a model of it.

The same loop as the in-memory driver (memory_driver.drive_through), on the DynamoDB store.
The events are then read back from the events table, as dispatch would see them.
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks.accuracy.memory_driver import drive_through
from chalicelib.domain.events import CloudEvent
from chalicelib.triggers.config import TriggerConfig


def drive(traffic: Any, trigger_config: TriggerConfig) -> tuple[list[CloudEvent], dict[str, Any]]:
    """Requires boto3 to point at a stand-in with the tables (tests' ``aws`` fixture, or ``standin``)."""
    from chalicelib.runtime.settings import get_settings
    from chalicelib.store.dynamo_store import DynamoStore

    stats = drive_through(traffic, trigger_config, DynamoStore(get_settings()))
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
