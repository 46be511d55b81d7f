"""One request budget per target API, shared by every job and concurrent Lambda that calls it.

A token bucket (``capacity`` requests of burst, refilled at ``rate`` per second)
lives in the state table (chalicelib.store.sync_state.DynamoBucketStore). Taking a token
is one conditional UpdateItem on a version number: when another caller got there
first, DynamoDB hands back the fresh item and we try again, so a backfill and a
schedule together can never spend more than the bucket holds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

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


class RateBudget:
    """Blocks until the shared bucket grants a token, or raises BudgetExhausted before the deadline."""

    def __init__(
        self,
        api: str,
        *,
        rate: float,
        capacity: float | None = None,
        store: BucketStore,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        deadline: Callable[[], float] | None = None,
        deadline_margin: float = 5.0,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.api, self.rate = api, rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self.store: BucketStore = store
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
