"""Where each stream's sync has got to: the highest (modified, id) position durably enqueued.

Kept in the state table (chalicelib.store.sync_state.DynamoWatermarkStore).
Advancing is a conditional write (``order_key < :new``), so two overlapping runs
— a schedule and a backfill, or two Lambdas — can only ever move it forwards.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

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
