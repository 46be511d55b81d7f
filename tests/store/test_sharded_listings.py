"""No hot index partition: index keys spread over their shards, and listings merge the shards without losing or repeating an item.

The index keys are made by the writers themselves (the outbox event, the quarantine record,
the audit chain); the listings run against the stand-in's tables as infra/resources.py
defines them, paged with small pages, filters and time bounds, and must return exactly
what a full sort of the stored items says.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.events import CloudEvent
from chalicelib.domain.inbound import InboundRecord
from chalicelib.domain.state import StateKey
from chalicelib.runtime import aws
from chalicelib.runtime.settings import get_settings
from chalicelib.store import audit, dynamo, keys, queries
from chalicelib.store.audit import AuditEntry, ChainHead
from chalicelib.store.dynamo_store import DynamoStore, event_item
from chalicelib.store.port import InputOutcome, Plan, Quarantined, Snapshot
from infra import resources

DAY = datetime(2026, 11, 3, tzinfo=UTC)


def an_event(n: int, event_type: str = "customer.grade_changed", at: datetime = DAY) -> CloudEvent:
    return CloudEvent(id=f"evt_{n:06d}", type=event_type, subject=f"customer#cus_{n % 7}", time=at + timedelta(seconds=n), data={"n": n})


def a_quarantine_item(n: int, connector: str = "demo_crm") -> dict[str, Any]:
    record = InboundRecord(connector=connector, object="customer", payload={"n": n}, dedupe_key=f"dk-{n}", received_at=DAY)
    plan = Plan(snapshot=Snapshot(), input=InputOutcome(record, "quarantined", None), quarantine=Quarantined("unknown_value", "no"))
    return DynamoStore(get_settings())._quarantine_item(plan)


def audit_items(chain: str, runs: list[tuple[str, int]], at: datetime) -> list[dict[str, Any]]:
    """The stored items of entries appended to one chain: each run is (correlation id, how many entries), appended together."""
    correlations = [correlation for correlation, count in runs for _ in range(count)]
    entries = [
        AuditEntry(action="applied", actor="t", correlation_id=correlation, at=at + timedelta(microseconds=i))
        for i, correlation in enumerate(correlations)
    ]
    items, _ = audit.chain(chain, entries, ChainHead(), retention_days=1)
    return audit.pack(chain, items)


def timer_shard(n: int) -> str:
    """The timer shard of one lead's rules item with a deadline pending, all due at the same minute."""
    item: dict[str, object] = {"next_fire_at": "2026-11-03T09:15:00+00:00"}
    return keys.timer_index(StateKey("rules", ("lead", f"lead_{n}")), item)[keys.TIMER_SHARD]


# ----------------------------------------------------------------------------- keys spread
def spread(values: list[str]) -> Counter[str]:
    counts = Counter(values)
    assert len(counts) == keys.INDEX_SHARDS, counts
    assert max(counts.values()) <= 2 * len(values) / keys.INDEX_SHARDS, counts  # no shard takes twice its share
    return counts


def test_every_index_key_spreads_writes_over_its_shards(aws: Any) -> None:
    """One event type, one connector, one day: still every shard, none taking twice its share."""
    events = [event_item(an_event(n), 30) for n in range(2000)]
    quarantined = [a_quarantine_item(n) for n in range(800)]
    day_entries = [item for n in range(800) for item in audit_items(f"customer#cus_{n}", [(f"corr-{n}", 2)], DAY)]
    runs = [i for i in day_entries if "day_shard" in i]
    assert len(runs) == len(day_entries) == 800, "one item and one index entry per run, not per entry"
    produced = {
        ("EventsTable", "time_shard"): spread([e["time_shard"] for e in events]),
        ("QuarantineTable", "time_shard"): spread([q["time_shard"] for q in quarantined]),
        ("QuarantineTable", "connector_shard"): spread([q["connector_shard"] for q in quarantined]),
        ("AuditTable", "day_shard"): spread([r["day_shard"] for r in runs]),
        ("StateTable", keys.TIMER_SHARD): spread([timer_shard(n) for n in range(800)]),
    }
    per_entity = {("EventsTable", "subject"), ("AuditTable", "correlation_id")}  # one key per entity or per input
    for table in resources.TABLES:
        for index in table.indexes:
            assert (table.logical_id, index.hash_key) in produced.keys() | per_entity, f"{table.logical_id}/{index.name}: which spread?"


# ----------------------------------------------------------------------------- listings merge the shards
def put_all(table: str, items: list[dict[str, Any]]) -> None:
    client = aws.client("dynamodb")
    for start in range(0, len(items), 25):
        client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": dynamo.to_item(i)}} for i in items[start : start + 25]]})


def every_page(fetch: Any, limit: int, per_item: int = 1) -> list[dict[str, Any]]:
    """Every page of a listing; ``per_item``: entries one listed item may bring (an audit run's)."""
    found: list[dict[str, Any]] = []
    cursor = None
    for _ in range(500):
        page, cursor = fetch(limit, cursor)
        assert len(page) <= limit * per_item
        found += page
        if cursor is None:
            return found
    raise AssertionError("the listing never ended")


@pytest.mark.parametrize("limit", [1, 7, 50])
def test_events_newest_first_by_status_type_and_time(aws: Any, limit: int) -> None:
    rng = random.Random(limit)
    items = []
    for n in range(120):
        item = event_item(an_event(n, rng.choice(["customer.grade_changed", "order.anomaly"])), 30)
        item["status"] = rng.choice(["pending", "delivered", "dead"])
        items.append(item)
    settings = get_settings()
    put_all(settings.events_table, items)
    newest_first = sorted(items, key=lambda i: i["time_id"], reverse=True)
    since = newest_first[90]["time_id"].split("#")[0]
    for wanted in (
        queries.EventFilter(),
        queries.EventFilter(status="dead"),
        queries.EventFilter(type="order.anomaly", status="pending"),
        queries.EventFilter(type="order.anomaly", since=since),
        queries.EventFilter(subject="customer#cus_3", status="delivered"),
    ):
        listed = every_page(lambda n, c, w=wanted: queries.events(settings, w, n, c), limit)
        expected = [
            i["pk"]
            for i in newest_first
            if (not wanted.status or i["status"] == wanted.status)
            and (not wanted.type or i["type"] == wanted.type)
            and (not wanted.subject or i["subject"] == wanted.subject)
            and (not wanted.since or i["time_id"] >= wanted.since)
        ]
        assert [i["pk"] for i in listed] == expected, wanted


def test_quarantine_newest_first_all_and_by_connector(aws: Any) -> None:
    items = [a_quarantine_item(n, "demo_crm" if n % 3 else "demo_erp") for n in range(90)]
    for n, item in enumerate(items):
        item["order_key"] = f"2026-11-03T10:{n // 60:02d}:{n % 60:02d}#{item['id']}"
        item["status"] = "open" if n % 4 else "replayed"
    settings = get_settings()
    put_all(settings.quarantine_table, items)
    newest_first = sorted(items, key=lambda i: i["order_key"], reverse=True)
    for connector, status in ((None, None), ("demo_erp", None), ("demo_crm", "open")):
        listed = every_page(lambda n, c, k=connector, s=status: queries.quarantined(settings, connector=k, status=s, limit=n, cursor=c), 4)
        expected = [
            i["id"] for i in newest_first if (not connector or i["connector"] == connector) and (not status or i["status"] == status)
        ]
        assert [i["id"] for i in listed] == expected


def test_a_days_audit_in_time_order_with_every_entry_of_every_run(aws: Any) -> None:
    items = []
    for n in range(40):
        at = DAY + timedelta(minutes=n)
        items += audit_items(f"customer#cus_{n}", [(f"corr-{n}", 1 + n % 3), (f"corr-{n}-b", 2)], at)
    items += audit_items("customer#cus_late", [("corr-next-day", 2)], DAY + timedelta(days=1))
    settings = get_settings()
    put_all(settings.audit_table, items)
    day = DAY.date().isoformat()
    entries = audit.unpack(items)
    in_order = sorted((i for i in entries if i["at"].startswith(day)), key=lambda i: (i["at"], i["pk"], i["sk"]))
    listed = every_page(lambda n, c: queries.audit_of_day(settings, day, None, None, n, c), 3, per_item=3)  # a page: up to 3 runs
    assert [(i["pk"], i["sk"]) for i in listed] == [(i["pk"], i["sk"]) for i in in_order]
    start, end = ((DAY + timedelta(minutes=m)).isoformat(timespec="microseconds") for m in (10, 20))
    bounded = every_page(lambda n, c: queries.audit_of_day(settings, day, start, end, n, c), 4, per_item=3)
    assert {i["pk"] for i in bounded} == {f"customer#cus_{n}" for n in range(10, 21)}
    assert [i["sk"] for i in audit.read_correlation(settings.audit_table, "corr-5")] == ["000000000001", "000000000002", "000000000003"]


def test_a_forged_cursor_is_refused(aws: Any) -> None:
    settings = get_settings()
    for forged in ("not-base64!", "eyJwayI6IHsiUyI6ICJ4In19", queries.encode_cursor("x", "0" * 16)[:-4]):
        with pytest.raises(queries.InvalidCursor):
            queries.events(settings, queries.EventFilter(), 10, forged)
