"""One request budget per target API, shared by every job and concurrent Lambda that calls it.

A token bucket (``capacity`` requests of burst, refilled at ``rate`` per second)
lives in the state table at ``pk="ratebudget#<api>", sk="bucket"``. Taking a token
is one conditional UpdateItem on a version number: when another caller got there
first, DynamoDB hands back the fresh item and we try again, so a backfill and a
schedule together can never spend more than the bucket holds.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.errors import BudgetExhausted


@dataclass(frozen=True)
class BucketState:
    tokens: float
    updated: float  # epoch seconds (wall clock: shared between Lambdas)
    version: int


def refill(state: BucketState | None, *, capacity: float, rate: float, now: float) -> float:
    """Tokens available at ``now``: a missing bucket starts full."""
    if state is None:
        return capacity
    return min(capacity, state.tokens + max(0.0, now - state.updated) * rate)


class BucketStore(Protocol):
    def take(self, api: str, *, capacity: float, rate: float, cost: float, now: float) -> float:
        """Spend ``cost`` tokens and return 0, or spend nothing and return the seconds to wait."""


class MemoryBucketStore:
    """A process-local bucket: unit tests and benchmarks that must not measure DynamoDB."""

    def __init__(self) -> None:
        self._states: dict[str, BucketState] = {}
        self._lock = threading.Lock()

    def take(self, api: str, *, capacity: float, rate: float, cost: float, now: float) -> float:
        with self._lock:
            state = self._states.get(api)
            tokens = refill(state, capacity=capacity, rate=rate, now=now)
            if tokens < cost:
                return (cost - tokens) / rate
            self._states[api] = BucketState(tokens - cost, now, (state.version + 1) if state else 1)
            return 0.0


class DynamoBucketStore:
    """The shared bucket in the state table, updated with optimistic concurrency."""

    def __init__(self, table: str | None = None, *, dynamodb: Any = None, max_conflicts: int = 50):
        self.table = table or os.environ["STATE_TABLE"]
        self._dynamodb = dynamodb
        self.max_conflicts = max_conflicts
        self._known: dict[str, BucketState | None] = {}
        self.writes = 0

    @property
    def dynamodb(self) -> Any:
        if self._dynamodb is None:
            from chalicelib.runtime.aws import client

            self._dynamodb = client("dynamodb")
        return self._dynamodb

    def take(self, api: str, *, capacity: float, rate: float, cost: float, now: float) -> float:
        key = {"pk": {"S": f"ratebudget#{api}"}, "sk": {"S": "bucket"}}
        state = self._known.get(api) if api in self._known else self._read(key)
        for _ in range(self.max_conflicts):
            tokens = refill(state, capacity=capacity, rate=rate, now=now)
            if tokens < cost:  # a stale view only overestimates tokens, so this wait is a lower bound
                self._known[api] = state
                return (cost - tokens) / rate
            fresh = BucketState(tokens - cost, max(now, state.updated if state else now), (state.version + 1) if state else 1)
            if self._write(key, fresh, state):
                self._known[api] = fresh
                return 0.0
            state = self._read(key)
        raise BudgetExhausted(f"rate budget {api!r}: {self.max_conflicts} conflicting updates in a row")

    def _read(self, key: dict[str, Any]) -> BucketState | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        return _state(item)

    def _write(self, key: dict[str, Any], fresh: BucketState, seen: BucketState | None) -> bool:
        self.writes += 1
        values = {":t": {"N": _num(fresh.tokens)}, ":u": {"N": _num(fresh.updated)}, ":v": {"N": str(fresh.version)}}
        if seen is None:
            condition = "attribute_not_exists(pk)"
        else:
            condition = "version = :seen"
            values[":seen"] = {"N": str(seen.version)}
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET tokens = :t, updated = :u, version = :v",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
            return True
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False


def _num(value: float) -> str:
    return str(Decimal(repr(value)).quantize(Decimal("0.000001")))


def _state(item: dict[str, Any] | None) -> BucketState | None:
    if not item:
        return None
    return BucketState(float(item["tokens"]["N"]), float(item["updated"]["N"]), int(item["version"]["N"]))


class RateBudget:
    """Blocks until the shared bucket grants a token, or raises BudgetExhausted before the deadline."""

    def __init__(
        self,
        api: str,
        *,
        rate: float,
        capacity: float | None = None,
        store: BucketStore | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        deadline: Callable[[], float] | None = None,
        deadline_margin: float = 5.0,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.api, self.rate = api, rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self.store: BucketStore = store if store is not None else DynamoBucketStore()
        self.clock, self.sleep, self.deadline, self.deadline_margin = clock, sleep, deadline, deadline_margin
        self.waited = 0.0

    def acquire(self, cost: float = 1.0) -> None:
        while True:
            wait = self.store.take(self.api, capacity=self.capacity, rate=self.rate, cost=cost, now=self.clock())
            if wait <= 0:
                return
            if self.deadline is not None and wait > self.deadline() - self.deadline_margin:
                raise BudgetExhausted(f"rate budget {self.api!r}: next token in {wait:.1f}s, after the deadline")
            self.waited += wait
            self.sleep(wait)
