"""Several workers on one entity at once; duplicate and out-of-order deliveries.

FIFO groups keep one source record's updates in order, but one canonical entity is reachable from
several groups (a customer's orders, a webhook racing a sync of the same record, a redelivery after a
visibility timeout while the first attempt still runs). Here threads call the real processor at the
same moment; optimistic concurrency must make the result equal to a one-at-a-time run.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from tests.faults.harness import chains_intact, snapshot
from tests.faults.workload import order_body
from tests.stack import demo_body

WORKERS = 6


def _processor() -> Any:
    from chalicelib.configuration import current
    from chalicelib.pipeline.processor import Processor
    from chalicelib.runtime.settings import get_settings

    return Processor.of(current(), get_settings())


def _records(harness: Any, connector: str, bodies: list[bytes]) -> list[Any]:
    return [r for body in bodies for r in harness._records_of(connector, body)]


CANCELLED: list[int] = []


def _count_cancelled(http_response: Any = None, **_: Any) -> None:
    if getattr(http_response, "status_code", 200) >= 400:
        CANCELLED.append(1)


def _all_at_once(records: list[Any]) -> list[Any]:
    """Each record on its own thread and its own processor, released together."""
    from chalicelib.runtime import aws

    CANCELLED.clear()
    aws.client("dynamodb").meta.events.register("after-call.dynamodb.TransactWriteItems", _count_cancelled)
    barrier = threading.Barrier(len(records))
    outcomes: list[Any] = [None] * len(records)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        processor = _processor()
        barrier.wait()
        for _ in range(5):  # what SQS redelivery would do after a RetryLater
            try:
                outcomes[i] = processor.process(records[i])
                return
            except Exception as exc:  # noqa: BLE001 - kept and re-raised below
                if type(exc).__name__ != "RetryLater":
                    errors.append(exc)
                    return
        errors.append(AssertionError("contention never settled"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(records))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    aws.client("dynamodb").meta.events.unregister("after-call.dynamodb.TransactWriteItems", _count_cancelled)
    assert not errors, errors
    return outcomes


def _one_at_a_time(records: list[Any]) -> list[Any]:
    processor = _processor()
    return [processor.process(r) for r in records]


def _customer_updates() -> list[bytes]:
    """Name changes an hour apart; only the newest also changes the tier (Gold -> Platinum)."""
    return [
        demo_body("C-1", "Platinum" if n == WORKERS else "Gold", f"2026-11-01T{8 + n:02d}:00:00+08:00", name=f"Acme v{n}")
        for n in range(1, WORKERS + 1)
    ]


def _run_customer(harness: Any, concurrently: bool) -> tuple[dict[str, Any], list[Any]]:
    harness.install()
    _one_at_a_time(_records(harness, "demo_crm", [demo_body("C-1", "Gold", "2026-11-01T08:00:00+08:00")]))
    records = _records(harness, "demo_crm", _customer_updates())
    outcomes = (_all_at_once if concurrently else _one_at_a_time)(records)
    return snapshot(), outcomes


def test_one_customer_updated_by_several_workers_at_once(harness):
    sequential, _ = _run_customer(harness, concurrently=False)
    concurrent, outcomes = _run_customer(harness, concurrently=True)
    assert CANCELLED, "no commit ever conflicted: the run was not concurrent"

    assert concurrent["golden"] == sequential["golden"]
    ((_, golden),) = [(k, v) for k, v in concurrent["golden"].items() if k[1] == "golden"]
    assert golden["fields"]["name"] == f"Acme v{WORKERS}" and golden["fields"]["grade"] == "S"
    # Every update accounted for: applied if it came before a newer one was stored, stale otherwise.
    statuses = Counter(o.status for o in outcomes)
    assert statuses["applied"] >= 1 and statuses["applied"] + statuses["stale"] == WORKERS, statuses
    assert Counter(concurrent["inputs"].values()) == Counter({"applied": 1 + statuses["applied"], "stale": statuses["stale"]})
    # The grade changed once (Gold -> Platinum): one event, the same one as in the sequential run.
    assert concurrent["events"] == sequential["events"] and len(concurrent["events"]) == 1
    (trail,) = [v for k, v in concurrent["trails"].items() if k.startswith("customer#")]
    assert trail.count("received") == WORKERS + 1 and trail.count("trigger_fired") == 1
    assert trail.count("applied") == 1 + statuses["applied"] and trail.count("stale_ignored") == statuses["stale"]
    assert chains_intact() == {}


def _orders() -> list[bytes]:
    return [
        order_body(
            f"O-{n}",
            placed_at=f"2026-11-03T{10 + n:02d}:00:00+08:00",
            total=f"{100 * n}.00",
            lines=[{"id": "1", "sku": f"SKU-{n}", "qty": "1", "price": f"{100 * n}.00"}],
        )
        for n in range(1, WORKERS + 1)
    ]


def _run_orders(harness: Any, concurrently: bool) -> tuple[dict[str, Any], list[Any]]:
    harness.install()
    _one_at_a_time(_records(harness, "demo_crm", [demo_body("C-1", "Gold", "2026-11-01T08:00:00+08:00")]))
    records = _records(harness, "demo_erp", _orders())
    outcomes = (_all_at_once if concurrently else _one_at_a_time)(records)
    return snapshot(), outcomes


def test_orders_of_one_customer_processed_by_several_workers_at_once(harness):
    """Different orders (different FIFO groups) all land in the customer's one order-history item."""
    sequential, _ = _run_orders(harness, concurrently=False)
    concurrent, outcomes = _run_orders(harness, concurrently=True)
    assert CANCELLED, "no commit ever conflicted: the run was not concurrent"
    assert [o.status for o in outcomes] == ["applied"] * WORKERS
    assert concurrent["golden"] == sequential["golden"]
    (history,) = [v for (pk, sk), v in concurrent["golden"].items() if sk == "orders"]
    assert len(_order_ids(history)) == WORKERS, "an order was lost from the customer's history"
    assert Counter(concurrent["inputs"].values()) == Counter({"applied": WORKERS + 1})
    assert concurrent["events"] == sequential["events"]
    assert chains_intact() == {}


def _order_ids(history: dict[str, Any]) -> set[str]:
    return set(history["orders"])


def test_the_same_input_processed_twice_at_once_applies_once(harness):
    """A redelivery while the first attempt is still running (visibility timeout shorter than the work)."""
    harness.install()
    _one_at_a_time(_records(harness, "demo_crm", [demo_body("C-1", "Gold", "2026-11-01T08:00:00+08:00")]))
    (record,) = _records(harness, "demo_crm", [demo_body("C-1", "Platinum", "2026-11-02T08:00:00+08:00")])
    outcomes = _all_at_once([record] * WORKERS)
    assert sorted(o.status for o in outcomes) == ["applied"] + ["duplicate"] * (WORKERS - 1)
    snap = snapshot()
    assert len(snap["events"]) == 1
    (trail,) = [v for k, v in snap["trails"].items() if k.startswith("customer#")]
    assert trail == ["received", "applied", "received", "applied", "trigger_fired"]
    assert chains_intact() == {}


def test_out_of_order_and_duplicate_deliveries_end_in_the_newest_state(harness):
    """Through the door: newest first, then older ones, then the newest again (same event id)."""
    times = ["2026-11-01T08:00:00+08:00", "2026-11-02T08:00:00+08:00", "2026-11-03T08:00:00+08:00"]
    tiers = ["Silver", "Gold", "Platinum"]
    bodies = [demo_body("C-1", tier, t, name=f"Acme {tier}") for tier, t in zip(tiers, times, strict=True)]

    for body in bodies:  # in order: the reference
        assert harness.post("demo_crm", body) == 202
        harness.drain()
    in_order = snapshot()
    assert sorted(t for t, _, _ in in_order["events"].values()) == ["customer.grade_changed"] * 2

    harness.install()
    for body in reversed(bodies):
        assert harness.post("demo_crm", body) == 202
        harness.drain()
    harness.enqueue_late_copy(bodies[-1])
    harness.enqueue_late_copy(bodies[0])
    harness.drain()
    reversed_run = snapshot()
    # Same fields, provenance and per-source times; ``first_seen`` is by design the first *applied*
    # source time, so it is the newest update's time when that one arrived first.
    without_first_seen = lambda golden: {k: {a: b for a, b in v.items() if a != "first_seen"} for k, v in golden.items()}  # noqa: E731
    assert without_first_seen(reversed_run["golden"]) == without_first_seen(in_order["golden"])
    assert Counter(reversed_run["inputs"].values()) == Counter({"applied": 1, "stale": 2})
    assert reversed_run["events"] == {}, "stale updates fire nothing"
    (trail,) = [v for k, v in reversed_run["trails"].items() if k.startswith("customer#")]
    assert trail == ["received", "applied", "received", "stale_ignored", "received", "stale_ignored"]
    assert chains_intact() == {}


def test_redelivered_input_keeps_its_one_outcome_after_a_mapping_change(harness):
    """A stale input redelivered after its mapping changed must stay stale, not become a second outcome."""
    from chalicelib.runtime.settings import get_settings
    from tests.faults.harness import reset_caches

    newest = demo_body("C-1", "Gold", "2026-11-02T08:00:00+08:00")
    older = demo_body("C-1", "Silver", "2026-11-01T08:00:00+08:00")
    for body in (newest, older):
        assert harness.post("demo_crm", body) == 202
        harness.drain()
    before = snapshot()
    assert Counter(before["inputs"].values()) == Counter({"applied": 1, "stale": 1})

    mapping = get_settings().config_dir / "mappings" / "demo_crm_customer.yaml"
    mapping.write_text(mapping.read_text().replace("Silver: B, ", ""))  # Silver is no longer a known tier
    reset_caches()
    harness.enqueue_late_copy(older)
    harness.enqueue_late_copy(newest)
    harness.drain()
    after = snapshot()
    assert after["inputs"] == before["inputs"]
    assert after["quarantine"] == {}
    assert after["trails"] == before["trails"]
    assert chains_intact() == {}


def _run_same_tax_number(harness: Any, concurrently: bool) -> tuple[dict[str, Any], list[Any]]:
    """New customers from several CRM records that share one tax number (written differently)."""
    harness.install()
    spellings = ["91310000MA1FL8XQ3K", "9131 0000 MA1F L8XQ3K", "91310000-ma1fl8xq3k"]
    bodies = [
        demo_body(f"C-{n}", "Gold", f"2026-11-01T{8 + n:02d}:00:00+08:00", tax_id=spellings[n % len(spellings)])
        for n in range(1, WORKERS + 1)
    ]
    records = _records(harness, "demo_crm", bodies)
    outcomes = (_all_at_once if concurrently else _one_at_a_time)(records)
    return snapshot(), outcomes


def test_records_of_one_new_customer_matched_by_several_workers_at_once(harness):
    """Every worker computes the same key-derived id: one commit wins, the others re-read and join it."""
    sequential, _ = _run_same_tax_number(harness, concurrently=False)
    concurrent, outcomes = _run_same_tax_number(harness, concurrently=True)
    assert CANCELLED, "no commit ever conflicted: the run was not concurrent"
    assert [o.status for o in outcomes] == ["applied"] * WORKERS
    assert concurrent["golden"] == sequential["golden"]
    customers = [g for (pk, sk), g in concurrent["golden"].items() if pk.startswith("customer#") and sk == "golden"]
    assert len(customers) == 1 and len(customers[0]["sources"]) == WORKERS
    assert customers[0]["id"].startswith("cus_k0_")
    assert chains_intact() == {}
