"""Where each stream's sync has got to: the highest (modified, id) position durably enqueued.

Kept in the state table at ``pk="watermark#<connector>#<stream>", sk="watermark"``.
Advancing is a conditional write (``order_key < :new``), so two overlapping runs
— a schedule and a backfill, or two Lambdas — can only ever move it forwards.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.connectors.base import Position


@dataclass(frozen=True)
class Watermark:
    position: Position
    run_id: str | None = None
    updated_at: datetime | None = None


class WatermarkStore(Protocol):
    def load(self, connector: str, stream: str) -> Watermark | None: ...

    def advance(self, connector: str, stream: str, position: Position, *, run_id: str) -> bool:
        """Store ``position`` if it is beyond the stored one; False when another run is already further."""


def watermark_key(connector: str, stream: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"watermark#{connector}#{stream}"}, "sk": {"S": "watermark"}}


class DynamoWatermarkStore:
    """The production store: one item per stream in the state table."""

    def __init__(self, table: str | None = None, *, dynamodb: Any = None):
        self.table = table or os.environ["STATE_TABLE"]
        self._dynamodb = dynamodb
        self.writes = 0

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            from chalicelib.runtime.aws import client

            self._dynamodb = client("dynamodb")
        return self._dynamodb

    def load(self, connector: str, stream: str) -> Watermark | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=watermark_key(connector, stream), ConsistentRead=True).get("Item")
        if not item:
            return None
        position = Position(datetime.fromisoformat(item["modified"]["S"]), item["record_id"]["S"])
        updated = datetime.fromisoformat(item["updated_at"]["S"]) if "updated_at" in item else None
        return Watermark(position, item.get("run_id", {}).get("S"), updated)

    def advance(self, connector: str, stream: str, position: Position, *, run_id: str) -> bool:
        self.writes += 1
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=watermark_key(connector, stream),
                UpdateExpression="SET modified = :m, record_id = :i, order_key = :k, run_id = :r, updated_at = :u",
                ConditionExpression="attribute_not_exists(pk) OR order_key < :k",
                ExpressionAttributeValues={
                    ":m": {"S": position.modified.astimezone(UTC).isoformat(timespec="microseconds")},
                    ":i": {"S": position.id},
                    ":k": {"S": position.sortable()},
                    ":r": {"S": run_id},
                    ":u": {"S": datetime.now(UTC).isoformat(timespec="microseconds")},
                },
            )
            return True
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False


class MemoryWatermarkStore:
    """The same contract in process memory (unit tests, benchmarks, dry runs)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Watermark] = {}
        self._lock = threading.Lock()
        self.writes = 0

    def load(self, connector: str, stream: str) -> Watermark | None:
        with self._lock:
            return self._items.get((connector, stream))

    def advance(self, connector: str, stream: str, position: Position, *, run_id: str) -> bool:
        with self._lock:
            self.writes += 1
            current = self._items.get((connector, stream))
            if current is not None and position.sortable() <= current.position.sortable():
                return False
            self._items[(connector, stream)] = Watermark(position, run_id, datetime.now(UTC))
            return True
