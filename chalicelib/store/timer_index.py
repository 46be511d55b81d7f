"""Which rules items have a deadline due: the sparse, sharded ``timers-due`` index of the state table.

A rules item with a deadline pending carries ``timer_shard`` and ``timer_due`` (chalicelib.store.keys,
written by DynamoStore from the item's ``next_fire_at``); the item drops out of the index when
nothing is pending. The poller queries every shard for ``timer_due <= now``: a fixed fan-out of
``len(TIMER_SHARDS)`` queries a minute, and no partition takes every timer's writes. The index is
eventually consistent and lists keys only: the poller reads each item (consistently) before
deciding anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.golden import iso, parse_time
from chalicelib.domain.state import StateKey
from chalicelib.runtime.settings import Settings
from chalicelib.store import dynamo, keys
from chalicelib.store.memory_store import MemoryStore

PAGE = 100


Listed = list[tuple[datetime, StateKey]]  # (when its next deadline fires, the rules item)


class TimerIndex(Protocol):
    def due(self, now: datetime, limit: int = 1000) -> Listed:
        """Rules items whose next deadline fires at or before ``now`` (at most ``limit``), earliest first.

        Earliest first across the shards: the deadlines that have waited longest are fired first,
        so a run's own duration adds least to the latest one's lateness. A time after the clock's
        ``now`` lists the deadlines about to come due as well.
        """
        ...


class DynamoTimerIndex:
    def __init__(self, settings: Settings):
        self.settings = settings

    def due(self, now: datetime, limit: int = 1000) -> Listed:
        found: list[tuple[str, StateKey]] = []
        for shard in keys.TIMER_SHARDS:
            start: dict[str, Any] | None = None
            while len(found) < limit:
                query: dict[str, Any] = {
                    "IndexName": keys.TIMER_INDEX,
                    "KeyConditionExpression": "#s = :s AND #d <= :now",
                    "ExpressionAttributeNames": {"#s": keys.TIMER_SHARD, "#d": keys.TIMER_DUE},
                    "ExpressionAttributeValues": {":s": {"S": shard}, ":now": {"S": iso(now)}},
                    "Limit": min(PAGE, limit - len(found)),
                }
                if start:
                    query["ExclusiveStartKey"] = start
                items, start = dynamo.query(self.settings.state_table, **query)
                for item in items:
                    key = keys.state_key_of(str(item["pk"]), str(item["sk"]))
                    if key is not None:
                        found.append((str(item[keys.TIMER_DUE]), key))
                if not start:
                    break
        return [(parse_time(at), key) for at, key in sorted(found, key=lambda pair: pair[0])][:limit]


class MemoryTimerIndex:
    """The same question asked of a MemoryStore (unit tests, rule examples, the accuracy benchmark)."""

    def __init__(self, store: MemoryStore):
        self.store = store

    def due(self, now: datetime, limit: int = 1000) -> Listed:
        moment = iso(now)
        due = sorted(
            (str(v.item["next_fire_at"]), key)
            for key, v in list(self.store.states.items())
            if key.kind == "rules" and v.item.get("next_fire_at") and str(v.item["next_fire_at"]) <= moment
        )
        return [(parse_time(at), key) for at, key in due[:limit]]
