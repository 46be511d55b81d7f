"""The reliable core's cost: 100 mixed records through the real SQS handler logic and processor.

The batch: new customers, grade changes (events fire), duplicates (the same input again), stale
(older) updates, and orders through a JSON ERP mapping (two of them near-duplicates: an anomaly
fires). It runs against a moto server this script starts on a free loopback port.

Prints one line per measure, each with its ratio:
  (a) DynamoDB requests per processed record, counted exactly with botocore's ``before-call``
      hooks — ratio to the floor of 1 — and on the hot path (records that change state: one
      batched read + one transaction; the issue's bar is ≤ 2);
  (b) write units per record, computed exactly from the item sizes per DynamoDB's rules (item size =
      attribute name lengths + value sizes; PutItem 1 WCU per started KB, transactions 2 per started
      KB per item) — ratio to 1;
  (c) records/second through the processor vs a bare PutItem loop of as many items, on the same
      moto server and table size, in the same run (moto's transactions slow down as tables grow);
  (d) the rules step: requests and write units per record of 100 sales records (leads, calls,
      opportunity changes, page views) without the rules files and with them, in the same run,
      and the requests and write units of each deadline the timers fire.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.capacity import item_size  # noqa: E402 - DynamoDB's item size rules, in one place
from benchmarks.standin import start_standin  # noqa: E402

FIXTURES = ROOT / "tests" / "faults" / "fixtures"  # the test-only ERP connector and its order mapping

BATCH = 100


# ---------------------------------------------------------------------------- DynamoDB's size rules
def write_units(operation: str, params: dict[str, Any]) -> int:
    if operation == "PutItem":
        return math.ceil(item_size(params["Item"]) / 1024)
    if operation == "TransactWriteItems":
        units = 0
        for action in params["TransactItems"]:
            ((kind, body),) = action.items()
            if kind == "Put":
                size = item_size(body["Item"])
            elif kind == "Update":
                size = item_size(_updated_item(body))
            else:  # ConditionCheck / Delete: billed on the item's size, at least 1 KB
                size = 1
            units += 2 * math.ceil(max(size, 1) / 1024)
        return units
    if operation == "BatchWriteItem":
        return sum(
            math.ceil(item_size(r["PutRequest"]["Item"]) / 1024) for rs in params["RequestItems"].values() for r in rs if "PutRequest" in r
        )
    return 0


BATCH_WRITE = "BatchWriteItem"  # the raw input copies of a queue batch, written together after its records


def record_requests(calls: list[tuple[str, dict[str, Any]]]) -> int:
    """The requests a record makes itself: its batch's one write of raw copies is reported apart (0.1 per record in batches of 10)."""
    return sum(1 for op, _ in calls if op != BATCH_WRITE)


def _updated_item(update: dict[str, Any]) -> dict[str, Any]:
    """The item an Update writes (billed on its size after the update): read it back."""
    from chalicelib.runtime import aws

    item = aws.client("dynamodb").get_item(TableName=update["TableName"], Key=update["Key"]).get("Item") or dict(update["Key"])
    return item


# ---------------------------------------------------------------------------- the batch
def demo_customer(cid: str, tier: str, at: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id or f"evt-{cid}-{at}",
        "customer": {
            "id": cid,
            "name": f"Customer {cid}",
            "tier": tier,
            "email": f"{cid.lower()}@example.com",
            "credit_limit": "50000.00",
            "updated_at": at,
        },
    }


def erp_order(oid: str, customer: str, placed: str, total: str, sku: str) -> dict[str, Any]:
    order = {
        "id": oid,
        "number": f"SO-{oid}",
        "customer": customer,
        "placed_at": placed,
        "updated_at": placed,
        "status": "open",
        "currency": "CNY",
        "total": total,
        "lines": [{"id": "1", "sku": sku, "qty": "1", "price": total}],
    }
    return {"event_id": f"erp-{oid}", "order": order}


def batch() -> list[tuple[str, str, dict[str, Any], str]]:
    """(connector, object, payload, kind) × 100."""
    t1, t2, t0 = "2026-11-01T08:00:00+08:00", "2026-11-02T08:00:00+08:00", "2026-10-30T08:00:00+08:00"
    out: list[tuple[str, str, dict[str, Any], str]] = []
    for n in range(40):
        out.append(("demo_crm", "customer", demo_customer(f"C-{n}", "Gold", t1), "new customer"))
    for n in range(25):
        out.append(("demo_crm", "customer", demo_customer(f"C-{n}", "Platinum" if n % 2 else "Silver", t2), "grade change"))
    for n in range(10):
        out.append(("demo_crm", "customer", demo_customer(f"C-{n}", "Platinum" if n % 2 else "Silver", t2), "duplicate"))
    for n in range(10):
        out.append(("demo_crm", "customer", demo_customer(f"C-{30 + n}", "Bronze", t0), "stale"))
    for n in range(15):
        minute = n if n != 14 else 13  # O-14 repeats O-13's lines and total a minute later: duplicate_order
        total = "100.00" if n >= 13 else f"{100 + n}.00"
        customer = "C-3" if n >= 13 else f"C-{n % 5}"
        out.append(
            (
                "demo_erp",
                "order",
                erp_order(f"O-{n}", customer, f"2026-11-03T10:{minute:02d}:00+08:00", total, "SKU-A" if n >= 13 else f"SKU-{n}"),
                "order",
            )
        )
    assert len(out) == BATCH
    return out


def queue_message(message_id: str, connector: str, obj: str, payload: dict[str, Any], receipt_id: str) -> Any:
    """A record of the batch as the SQS handler receives it (grouped by its customer or order)."""
    from chalicelib.domain.inbound import InboundRecord, event_dedupe_key
    from chalicelib.pipeline.batch import QueueMessage
    from chalicelib.runtime.queue import group_id

    inbound = InboundRecord(
        connector=connector,
        object=obj,
        payload=payload,
        dedupe_key=event_dedupe_key(connector, payload["event_id"]),
        received_at=datetime.now(UTC),
        receipt_id=receipt_id,
        entity_hint=str(payload.get("customer", payload.get("order", {})).get("id")),
    )
    return QueueMessage(message_id, inbound.to_message(), group_id(inbound))


def through_the_processor(
    processor: Any,
    spec: list[tuple[str, str, dict[str, Any], str]],
    calls: list[tuple[str, dict[str, Any]]],
    meter: Any = None,
    units_each: list[int] | None = None,
) -> tuple[list[tuple[str, str, list[tuple[str, dict[str, Any]]]]], float]:
    """Each record in a batch of its own, so its DynamoDB requests (gathered in ``calls`` by the hook) are known exactly.

    With ``meter`` and ``units_each``: each record's write units with indexes are appended to ``units_each``.
    """
    from chalicelib.pipeline.batch import process_batch

    messages = [
        (queue_message(f"m-{i}", connector, obj, payload, f"rcp_bench_{kind}_{i}"), kind)
        for i, (connector, obj, payload, kind) in enumerate(spec)
    ]
    per_record: list[tuple[str, str, list[tuple[str, dict[str, Any]]]]] = []
    started = time.perf_counter()
    for message, kind in messages:
        calls.clear()
        before = meter.units.total_writes if meter is not None else 0
        response, outcomes = process_batch([message], processor)
        if meter is not None and units_each is not None:
            units_each.append(meter.units.total_writes - before)
        assert not response["batchItemFailures"], response
        per_record.append((kind, outcomes[0].status, list(calls)))
    return per_record, time.perf_counter() - started


# ---------------------------------------------------------------------------- the run
def main() -> None:
    config = Path(tempfile.mkdtemp(prefix="bench-core-"))
    standin, endpoint = start_standin()
    try:
        run(endpoint, config)
        rules_step(config)
        throughput_as_the_store_grows()
    finally:
        standin.terminate()
        standin.wait(timeout=10)
        shutil.rmtree(config, ignore_errors=True)


def run(endpoint: str, config: Path) -> None:
    import boto3

    from local.run import FAKE_CREDENTIALS

    os.environ.update(FAKE_CREDENTIALS)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint, SALESBRIDGE_PII_KEY="bench-pii-key", DEMO_CRM_WEBHOOK_SECRET="bench", SALESBRIDGE_CONFIG_DIR=str(config)
    )
    shutil.copytree(ROOT / "mappings", config / "mappings")
    shutil.copytree(ROOT / "connectors", config / "connectors")
    shutil.copy(FIXTURES / "demo_erp.yaml", config / "connectors")
    shutil.copy(FIXTURES / "demo_erp_order.yaml", config / "mappings")
    from infra import resources

    os.environ.update(resources.create_all(boto3.session.Session()))

    from chalicelib.configuration import current
    from chalicelib.pipeline.processor import Processor
    from chalicelib.runtime import aws
    from chalicelib.runtime.settings import get_settings

    settings = get_settings()
    processor = Processor.of(current(), settings)
    ddb = aws.client("dynamodb")
    calls: list[tuple[str, dict[str, Any]]] = []

    counter_writes: list[str] = []

    def count(params: dict[str, Any], model: Any, **_: Any) -> None:
        if params.get("TableName") == settings.stats_table:
            counter_writes.append(model.name)  # the overview's counters: one per batch, not per record (reported apart)
            return
        calls.append((model.name, params))

    ddb.meta.events.register("before-parameter-build.dynamodb.*", count)
    meter = attach_capacity_meter(ddb)

    units_each: list[int] = []
    per_record, elapsed = through_the_processor(processor, batch(), calls, meter, units_each)
    elapsed -= meter.lookup_seconds  # the meter's own reads are not the processor's
    ddb.meta.events.unregister("before-parameter-build.dynamodb.*", count)
    meter.detach(ddb)
    records = per_record

    statuses = Counter(status for _, status, _ in per_record)
    # The raw input copies are one BatchWriteItem per batch (after its records): apart from the per-record requests,
    # their write units in the per-record units.
    raw_batches = sum(1 for _, _, c in per_record for op, _ in c if op == BATCH_WRITE)
    requests = [record_requests(c) for _, _, c in per_record]
    hot = [record_requests(c) for _, status, c in per_record if status == "applied"]
    ops = Counter(op for _, _, c in per_record for op, _ in c if op != BATCH_WRITE)
    units = [sum(write_units(op, p) for op, p in c) for _, _, c in per_record]
    by_table: Counter[str] = Counter()
    for _, _, c in per_record:
        for op, p in c:
            for action in p.get("TransactItems", []) if op == "TransactWriteItems" else []:
                ((_, body),) = action.items()
                by_table[body["TableName"].removeprefix("salesbridge-")] += write_units(op, {"TransactItems": [action]})
            for table, puts in p.get("RequestItems", {}).items() if op == BATCH_WRITE else []:
                by_table[table.removeprefix("salesbridge-")] += write_units(op, {"RequestItems": {table: puts}})
    hot_units = [u for u, (_, status, _) in zip(units, per_record, strict=True) if status == "applied"]
    events = ddb.scan(TableName=settings.events_table, Select="COUNT")["Count"]

    # The floor: a bare PutItem loop of as many items, same server, same table size.
    state_items = ddb.scan(TableName=settings.state_table, Select="COUNT")["Count"]
    sample = ddb.scan(TableName=settings.state_table, Limit=1)["Items"][0]
    floor_started = time.perf_counter()
    for n in range(BATCH):
        ddb.put_item(TableName=settings.state_table, Item=dict(sample, pk={"S": f"bench#{n}"}, sk={"S": "golden"}))
    floor_elapsed = time.perf_counter() - floor_started

    mix = ", ".join(f"{v} {k}" for k, v in sorted(statuses.items()))
    mean_requests = sum(requests) / BATCH
    print(
        f"core dynamodb requests/record: {mean_requests:.2f} over {BATCH} records ({mix}; {events} events; "
        f"{', '.join(f'{k} {v}' for k, v in sorted(ops.items()))}) — ratio to the floor of 1: {mean_requests:.2f}"
    )
    print(
        f"core overview counters: {len(counter_writes)} UpdateItem for {len(records)} one-record batches — one per batch and "
        f"connector, so 0.1 per record in full batches of 10; not counted in the per-record figures"
    )
    print(
        f"core raw input copies: {raw_batches} BatchWriteItem for {len(records)} one-record batches — one per batch, written after "
        f"its records, so 0.1 per record in full batches of 10; not counted in the per-record requests, their units are"
    )
    print(
        f"core hot-path dynamodb requests/record (state changed, n={len(hot)}): max {max(hot)}, mean {statistics.mean(hot):.2f} — "
        f"ratio to the floor of 1: {max(hot):.2f} — done-when ≤ 2: {'met' if max(hot) <= 2 else 'NOT met'}"
    )
    mean_units = sum(units) / BATCH
    print(
        f"core write units/record: {mean_units:.2f} (hot path mean {statistics.mean(hot_units):.2f}, max {max(hot_units)}; "
        f"transactions bill 2 per started KB per item; by table {', '.join(f'{k} {v / BATCH:.1f}' for k, v in by_table.most_common())}) "
        f"— ratio to the floor of 1: {mean_units:.2f}"
    )
    print_units_with_indexes(meter)
    print_units_by_kind(per_record, units_each)
    rate, floor_rate = BATCH / elapsed, BATCH / floor_elapsed
    print(
        f"core throughput: {rate:.0f} records/s through the processor vs {floor_rate:.0f} bare PutItem/s "
        f"(same moto server, state table at {state_items} items) — ratio {rate / floor_rate:.2f}"
    )
    with_match_keys(processor, ddb, calls, count, mean_requests, meter.units.total_writes / BATCH)


# ---------------------------------------------------------------------------- with match keys (mappings/identity.yaml)
def keyed_batch() -> list[tuple[str, str, dict[str, Any], str]]:
    """100 CRM customers that carry tax numbers: new ones, others joining them by the key, merges of two customers."""
    t1, t2 = "2026-11-01T08:00:00+08:00", "2026-11-02T08:00:00+08:00"

    def tax(n: int, spaced: bool = False) -> str:
        number = f"9131000{n:04d}MA1FL8XQ"
        return f"{number[:4]} {number[4:8]} {number[8:].lower()}" if spaced else number

    def keyed(cid: str, tier: str, at: str, tax_id: str | None) -> dict[str, Any]:
        payload = demo_customer(cid, tier, at)
        if tax_id:
            payload["customer"]["tax_id"] = tax_id
        return payload

    out = [("demo_crm", "customer", keyed(f"K-{n}", "Gold", t1, tax(n)), "new, keyed") for n in range(40)]
    out += [("demo_crm", "customer", keyed(f"J-{n}", "Silver", t1, tax(n, spaced=True)), "joins by key") for n in range(20)]
    out += [("demo_crm", "customer", keyed(f"L-{n}", "Bronze", t1, None), "new, no key") for n in range(20)]
    out += [("demo_crm", "customer", keyed(f"L-{n}", "Bronze", t2, tax(20 + n)), "merges two") for n in range(20)]
    assert len(out) == BATCH
    return out


def with_match_keys(processor: Any, ddb: Any, calls: list[Any], count: Any, base_requests: float, base_units: float) -> None:
    """Requests and write units per record when every record carries a match key, beside the batch without."""
    ddb.meta.events.register("before-parameter-build.dynamodb.*", count)
    meter = attach_capacity_meter(ddb)
    per_record, _ = through_the_processor(processor, keyed_batch(), calls)
    ddb.meta.events.unregister("before-parameter-build.dynamodb.*", count)
    meter.detach(ddb)
    statuses = Counter(status for _, status, _ in per_record)
    assert statuses == {"applied": BATCH}, statuses
    requests = sum(record_requests(c) for _, _, c in per_record) / BATCH
    units = meter.units.total_writes / BATCH
    kinds = {kind: [record_requests(c) for k, _, c in per_record if k == kind] for kind in dict.fromkeys(k for k, _, _ in per_record)}
    by_kind = ", ".join(f"{kind} {statistics.mean(n):.1f}" for kind, n in kinds.items())
    print(
        f"core with match keys: {requests:.2f} dynamodb requests/record ({by_kind}) and {units:.2f} write units/record incl. "
        f"indexes, vs {base_requests:.2f} and {base_units:.2f} for the batch without keys — ratio {requests / base_requests:.2f} "
        f"requests, {units / base_units:.2f} write units"
    )


# ---------------------------------------------------------------------------- the rules step: before and after
RULES_T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def sales_batch(tag: str) -> list[tuple[str, str, dict[str, Any], datetime]]:
    """(connector, object, payload, source time) × 100: what the shipped rules read (mappings/rules/sales.yaml).

    30 new leads (each arms the speed-to-lead deadline), calls on 20 of them (cancelling it), 20
    opportunities created in qualification and 10 of them moved to negotiation (the stage gate),
    20 pricing-page views of 5 customers (the window).
    """
    from datetime import timedelta

    def sf(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")

    out: list[tuple[str, str, dict[str, Any], datetime]] = []
    for n in range(30):
        at = RULES_T0 + timedelta(minutes=n)
        out.append(("salesforce", "Lead", {"Id": f"00Q{tag}{n:012d}", "Name": f"Lead {n}", "Company": f"Company {n}",
                    "Status": "Open - Not Contacted", "OwnerId": "005Hs00000ABCDeIAH", "CreatedDate": sf(at),
                    "LastModifiedDate": sf(at)}, at))  # fmt: skip
    for n in range(20):
        at = RULES_T0 + timedelta(minutes=n + 5)
        out.append(("salesforce", "Task", {"Id": f"00T{tag}{n:012d}", "Subject": "Call", "TaskSubtype": "Call", "Status": "Completed",
                    "WhoId": f"00Q{tag}{n:012d}", "OwnerId": "005Hs00000ABCDeIAH", "CreatedDate": sf(at), "CompletedDateTime": sf(at),
                    "LastModifiedDate": sf(at)}, at))  # fmt: skip
    for n in range(30):
        at = RULES_T0 + timedelta(hours=1, minutes=n)
        stage = "Qualification" if n < 20 else "Negotiation/Review"
        out.append(("salesforce", "Opportunity", {"Id": f"006{tag}{n % 20:012d}", "Name": f"Deal {n % 20}", "StageName": stage,
                    "Amount": "75000", "CurrencyIsoCode": "USD", "OwnerId": "005Hs00000ABCDeIAH", "CloseDate": "2026-12-30",
                    "LastModifiedDate": sf(at)}, at))  # fmt: skip
    for n in range(20):
        at = RULES_T0 + timedelta(hours=2, minutes=n * 7)
        out.append(("web_events", "event", {"event_id": f"ev-{tag}-{n}", "event": "page_view", "page": "/pricing", "visitor": f"v-{n % 5}",
                    "customer_id": f"C-{n % 5}", "occurred_at": at.isoformat()}, at))  # fmt: skip
    assert len(out) == BATCH
    return out


def rules_step(config: Path) -> None:
    """The DynamoDB requests and write units per record that the rules step adds: the same sales records
    through the processor without the rules files and with them, in this run; then what firing costs."""
    from datetime import timedelta

    without = config.parent / (config.name + "-without-rules")
    shutil.copytree(config, without)
    shutil.rmtree(without / "mappings" / "rules")
    try:
        before = sales_cost(without, "N")
        after = sales_cost(config, "R")
    finally:
        shutil.rmtree(without, ignore_errors=True)
    (req0, wcu0, all0, ev0), (req1, wcu1, all1, ev1) = before, after
    print(
        f"core rules step: {req0:.2f} → {req1:.2f} dynamodb requests/record (+{req1 - req0:.2f}), write units/record {wcu0:.2f} → "
        f"{wcu1:.2f} (+{wcu1 - wcu0:.2f}; incl. indexes {all0:.2f} → {all1:.2f}, +{all1 - all0:.2f}) over {BATCH} sales records "
        f"(30 leads, 20 calls, 30 opportunity changes, 20 page views; {ev0} → {ev1} events) without → with the rules files "
        f"— ratio {req1 / req0:.2f} requests, {all1 / all0:.2f} write units"
    )
    fired, requests, units, idle = timers_cost(RULES_T0 + timedelta(days=1))
    print(
        f"core rules timers: {fired} deadlines fired at {requests / max(fired, 1):.2f} dynamodb requests and {units / max(fired, 1):.2f} "
        f"write units (incl. indexes) each; an idle minute costs {idle} requests (one query per timers-due shard) — ratio to the floor "
        f"of 2 requests per firing: {requests / max(fired, 1) / 2:.2f}"
    )


def sales_cost(config: Path, tag: str) -> tuple[float, float, float, int]:
    """Mean requests, write units (base tables) and write units with indexes per record of the sales batch under ``config``."""
    from datetime import timedelta

    from chalicelib import configuration as loader
    from chalicelib.configuration import current
    from chalicelib.domain.inbound import InboundRecord, event_dedupe_key
    from chalicelib.pipeline.batch import QueueMessage, process_batch
    from chalicelib.pipeline.processor import Processor, processing_config
    from chalicelib.runtime import aws
    from chalicelib.runtime.queue import group_id
    from chalicelib.runtime.settings import get_settings, reset_settings
    from chalicelib.store.dynamo_store import DynamoStore

    os.environ["SALESBRIDGE_CONFIG_DIR"] = str(config)
    reset_settings()
    loader.reset()
    settings = get_settings()
    assert bool(current().rules.rules) == (config / "mappings" / "rules").exists(), "the rules files loaded are not the ones meant"
    clock = {"now": RULES_T0}
    processor = Processor(processing_config(current()), DynamoStore(settings), clock=lambda: clock["now"])
    ddb = aws.client("dynamodb")
    events_before = ddb.scan(TableName=settings.events_table, Select="COUNT")["Count"]
    calls: list[tuple[str, dict[str, Any]]] = []

    def count(params: dict[str, Any], model: Any, **_: Any) -> None:
        if params.get("TableName") != settings.stats_table:
            calls.append((model.name, params))

    ddb.meta.events.register("before-parameter-build.dynamodb.*", count)
    meter = attach_capacity_meter(ddb)
    stats_units = 0
    try:
        for i, (connector, obj, payload, at) in enumerate(sales_batch(tag)):
            clock["now"] = at + timedelta(seconds=1)
            source_id = str(payload.get("Id", payload.get("event_id")))
            inbound = InboundRecord(
                connector=connector,
                object=obj,
                payload=payload,
                received_at=clock["now"],
                receipt_id=f"rcp_rules_{tag}_{i}",
                dedupe_key=event_dedupe_key(connector, f"{source_id}@{at.isoformat()}"),
                entity_hint=source_id,
            )
            before_stats = meter.units.by_table[settings.stats_table]
            response, outcomes = process_batch([QueueMessage(f"r-{tag}-{i}", inbound.to_message(), group_id(inbound))], processor)
            assert not response["batchItemFailures"] and outcomes[0].status == "applied", (response, outcomes)
            stats_units += meter.units.by_table[settings.stats_table] - before_stats
    finally:
        ddb.meta.events.unregister("before-parameter-build.dynamodb.*", count)
        meter.detach(ddb)
    events = ddb.scan(TableName=settings.events_table, Select="COUNT")["Count"] - events_before
    expected = 15 if current().rules.rules else 0  # 10 stage gates skipped, 5 pricing-page windows crossed
    assert events == expected, f"{events} events from the sales records, not {expected}"
    units = sum(write_units(op, p) for op, p in calls)
    return record_requests(calls) / BATCH, units / BATCH, (meter.units.total_writes - stats_units) / BATCH, events


def timers_cost(now: datetime) -> tuple[int, int, int, int]:
    """Run the schedule's poller once when every pending deadline is due, then once idle: (fired, requests, write units, idle requests)."""
    from chalicelib.configuration import current
    from chalicelib.pipeline.timers import fire_due_timers
    from chalicelib.runtime import aws
    from chalicelib.runtime.settings import get_settings
    from chalicelib.store.dynamo_store import DynamoStore
    from chalicelib.store.timer_index import DynamoTimerIndex

    settings = get_settings()
    ddb = aws.client("dynamodb")
    calls: list[str] = []

    def count(model: Any, **_: Any) -> None:
        calls.append(model.name)

    ddb.meta.events.register("before-parameter-build.dynamodb.*", count)
    meter = attach_capacity_meter(ddb)
    try:
        run = fire_due_timers(current().rules, DynamoStore(settings), DynamoTimerIndex(settings), now)
        fired, requests, units = len(run.fired), len(calls), meter.units.total_writes
        calls.clear()
        fire_due_timers(current().rules, DynamoStore(settings), DynamoTimerIndex(settings), now)
        idle = len(calls)
    finally:
        ddb.meta.events.unregister("before-parameter-build.dynamodb.*", count)
        meter.detach(ddb)
    queries = 16  # the shards' queries are in ``requests`` too: a firing's own cost excludes them
    return fired, requests - queries, units, idle


# ---------------------------------------------------------------------------- request units with the indexes (benchmarks/capacity.py)
def attach_capacity_meter(ddb: Any) -> Any:
    """The shared accounting (benchmarks/capacity.py) on the pipeline's client; items before a write read by another client."""
    import boto3

    from benchmarks.capacity import CapacityMeter, lookup_with

    meter = CapacityMeter(lookup_with(boto3.session.Session().client("dynamodb")))
    meter.attach(ddb)
    return meter


def print_units_with_indexes(meter: Any) -> None:
    units = meter.units
    per_record = units.total_writes / BATCH
    indexes = ", ".join(f"{k.removeprefix('salesbridge-')} {v / BATCH:.1f}" for k, v in units.by_index.most_common() if v)
    print(
        f"core write units/record incl. indexes: {per_record:.2f} (base tables {units.writes / BATCH:.2f} + global secondary "
        f"indexes {units.index_writes / BATCH:.2f}: {indexes or 'none'}; read units/record {units.reads / BATCH:.2f}; "
        f"benchmarks/capacity.py) — ratio to the floor of 1: {per_record:.2f} — done-when ≤ 5: {'met' if per_record <= 5 else 'NOT met'}"
    )


def print_units_by_kind(per_record: list[tuple[str, str, Any]], units_each: list[int]) -> None:
    """Write units with indexes per kind of record in the batch: where the mean comes from (docs/cost.md, the floor)."""
    by_kind: dict[str, list[int]] = {}
    for (kind, _, _), units in zip(per_record, units_each, strict=True):
        by_kind.setdefault(kind, []).append(units)
    kinds = ", ".join(f"{kind} {statistics.mean(u):.1f} (n={len(u)})" for kind, u in by_kind.items())
    mean = sum(units_each) / len(units_each)
    print(f"core write units/record incl. indexes by kind: {kinds}; mean {mean:.2f} — ratio to the floor of 1: {mean:.2f}")


# ---------------------------------------------------------------------------- the stand-in, and throughput as the store grows
SCALE_SIZES = (1_000, 100_000)
SCALE_RECORDS = 300  # per size: new customers, grade changes, duplicates and orders, in SQS batches of 10
SEED_BATCH = 25  # BatchWriteItem's limit
SEED_THREADS = 4  # the stand-in applies one DynamoDB request at a time; the clients' own work overlaps


def scale_batch(phase: str) -> list[tuple[str, str, dict[str, Any]]]:
    """SCALE_RECORDS records about entities of their own (ids prefixed by ``phase``): (connector, object, payload)."""
    t1, t2 = "2026-11-01T08:00:00+08:00", "2026-11-02T08:00:00+08:00"
    n_new = SCALE_RECORDS // 2
    out = [("demo_crm", "customer", demo_customer(f"{phase}-C-{n}", "Gold", t1)) for n in range(n_new)]
    out += [("demo_crm", "customer", demo_customer(f"{phase}-C-{n}", "Platinum", t2)) for n in range(SCALE_RECORDS // 5)]
    out += [("demo_crm", "customer", demo_customer(f"{phase}-C-{n}", "Gold", t1)) for n in range(SCALE_RECORDS // 10)]  # duplicates
    while len(out) < SCALE_RECORDS:
        n = len(out)
        order = erp_order(f"{phase}-O-{n}", f"{phase}-C-{n % n_new}", "2026-11-03T10:00:00+08:00", "120.00", "SKU-A")
        out.append(("demo_erp", "order", order))
    return out


def scale_messages(phase: str) -> list[Any]:
    """The batch as the SQS handler receives it."""
    return [
        queue_message(f"m-{phase}-{i}", connector, obj, payload, f"rcp_scale_{phase}_{i}")
        for i, (connector, obj, payload) in enumerate(scale_batch(phase))
    ]


def stored_items(endpoint: str) -> int:
    """Items in every table, counted by paginated scans (only while the store is small)."""
    import boto3

    from infra import resources

    ddb = boto3.session.Session().client("dynamodb", endpoint_url=endpoint)
    total = 0
    for table in resources.TABLES:
        page: dict[str, Any] = {}
        while True:
            response = ddb.scan(TableName=table.name, Select="COUNT", **page)
            total += response["Count"]
            if "LastEvaluatedKey" not in response:
                break
            page = {"ExclusiveStartKey": response["LastEvaluatedKey"]}
    return total


def seed_golden_records(endpoint: str, samples: list[dict[str, Any]], count: int, tag: str) -> None:
    """Store ``count`` golden records, cloned from real ones, by BatchWriteItem from a few threads."""
    import threading

    import boto3

    from chalicelib.runtime.settings import get_settings

    table = get_settings().state_table

    def write(first: int) -> None:
        ddb = boto3.session.Session().client("dynamodb", endpoint_url=endpoint)
        for start in range(first * SEED_BATCH, count, SEED_BATCH * SEED_THREADS):
            puts = [
                {"PutRequest": {"Item": dict(samples[n % len(samples)], pk={"S": f"customer#seed-{tag}-{n}"})}}
                for n in range(start, min(start + SEED_BATCH, count))
            ]
            request: dict[str, Any] = {table: puts}
            while request:
                request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    threads = [threading.Thread(target=write, args=(k,)) for k in range(SEED_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def use_standin(endpoint: str) -> None:
    """Point the pipeline's clients at one stand-in; the client is made (and connected) here, outside any timing."""

    from chalicelib.runtime import aws

    os.environ["AWS_ENDPOINT_URL"] = endpoint
    aws.reset_clients()
    aws.client("dynamodb").list_tables(Limit=1)


def prepare_store(endpoint: str, size: int, processor: Any) -> None:
    """Fresh tables, a few real records, then golden records cloned from them up to ``size`` stored items."""
    import boto3

    from chalicelib.pipeline.batch import process_batch
    from chalicelib.runtime import aws
    from chalicelib.runtime.settings import get_settings
    from infra import resources

    use_standin(endpoint)
    resources.create_all(boto3.session.Session())
    for start in range(0, 30, 10):
        process_batch(scale_messages(f"real-{size}")[start : start + 10], processor)
    scan = aws.client("dynamodb").scan(
        TableName=get_settings().state_table, FilterExpression="sk = :g", ExpressionAttributeValues={":g": {"S": "golden"}}
    )
    seed_golden_records(endpoint, scan["Items"], size - stored_items(endpoint), tag=str(size))


def throughput_as_the_store_grows() -> None:
    """Processor records/s on two local stand-ins, one holding 1,000 items, one 100,000, measured batch by batch in turn.

    Taking turns, batch by batch, puts both under the same machine load (a shared 2-core box);
    the two stand-ins are separate processes, so each has its own heap, as ``make run`` would.
    """
    from chalicelib.configuration import current
    from chalicelib.pipeline.batch import process_batch
    from chalicelib.pipeline.processor import Processor
    from chalicelib.runtime.settings import get_settings

    processor = Processor.of(current(), get_settings())
    standins = [start_standin() for _ in SCALE_SIZES]
    try:
        seeding = time.perf_counter()
        for (_, endpoint), size in zip(standins, SCALE_SIZES, strict=True):
            prepare_store(endpoint, size, processor)
        seeding = time.perf_counter() - seeding
        messages = {size: scale_messages(f"at-{size}") for size in SCALE_SIZES}
        spent = dict.fromkeys(SCALE_SIZES, 0.0)
        for round_, start in enumerate(range(0, SCALE_RECORDS, 10)):
            turns = list(zip(standins, SCALE_SIZES, strict=True))
            for (_, endpoint), size in turns if round_ % 2 == 0 else reversed(turns):
                use_standin(endpoint)
                started = time.perf_counter()
                response, _ = process_batch(messages[size][start : start + 10], processor)
                spent[size] += time.perf_counter() - started
                assert not response["batchItemFailures"], response
    finally:
        for process, _ in standins:
            process.terminate()
            process.wait(timeout=30)
    low, high = (SCALE_RECORDS / spent[size] for size in SCALE_SIZES)
    ratio = high / low
    met = ratio >= 0.8 and high >= 50
    print(
        f"core throughput as the store grows: {low:.0f} records/s at {SCALE_SIZES[0]:,} stored items, {high:.0f} at "
        f"{SCALE_SIZES[1]:,} (two local stand-ins taking turns, {SCALE_RECORDS} records each; golden records seeded by "
        f"BatchWriteItem in {seeding:.0f} s) — ratio {ratio:.2f} — done-when ≥ 0.8 and ≥ 50 records/s at {SCALE_SIZES[1]:,}: "
        f"{'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
