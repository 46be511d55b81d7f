"""The shared budget in DynamoDB (moto over HTTP): two callers together never exceed the bucket."""

from __future__ import annotations

import threading

import pytest

from chalicelib.connectors.rate_budget import MemoryBucketStore, RateBudget
from chalicelib.errors import BudgetExhausted
from chalicelib.runtime.settings import get_settings
from chalicelib.store.sync_state import DynamoBucketStore


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_two_clients_share_one_bucket(aws):
    t = FakeTime()
    a = RateBudget("hubspot-portal-1", rate=2.0, capacity=4, store=DynamoBucketStore(get_settings()), clock=lambda: t.now, sleep=t.sleep)
    b = RateBudget("hubspot-portal-1", rate=2.0, capacity=4, store=DynamoBucketStore(get_settings()), clock=lambda: t.now, sleep=t.sleep)
    for budget in (a, b, a, b):  # the burst of 4 is shared
        budget.acquire()
    assert t.slept == []
    b.acquire()  # the fifth must wait for a refill at 2/s
    assert t.slept == [pytest.approx(0.5)]
    a.acquire()
    assert t.slept == [pytest.approx(0.5), pytest.approx(0.5)]


def test_concurrent_callers_get_exactly_the_capacity(aws):
    frozen = 1_700_000_000.0
    granted = {"n": 0}
    lock = threading.Lock()

    def worker() -> None:
        budget = RateBudget(
            "shopify-store", rate=0.001, capacity=10, store=DynamoBucketStore(get_settings()), clock=lambda: frozen, deadline=lambda: 0.0
        )
        while True:
            try:
                budget.acquire()
            except BudgetExhausted:
                return
            with lock:
                granted["n"] += 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted["n"] == 10  # conditional writes: no token spent twice


def test_separate_apis_have_separate_budgets():
    t = FakeTime()
    store = MemoryBucketStore()
    one = RateBudget("a", rate=1, capacity=1, store=store, clock=lambda: t.now, sleep=t.sleep)
    two = RateBudget("b", rate=1, capacity=1, store=store, clock=lambda: t.now, sleep=t.sleep)
    one.acquire()
    two.acquire()
    assert t.slept == []
