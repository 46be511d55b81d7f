"""The request-unit accounting the benchmarks price DynamoDB with (benchmarks/capacity.py).

Size rules against the DynamoDB Developer Guide's own examples, then the meter on real
requests to the stand-in over HTTP: base writes, transactions, index writes, refused and
cancelled writes, reads of present and missing items.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from benchmarks.capacity import CapacityMeter, IndexShape, TableShape, item_size, lookup_with, number_size, read_units, write_units


def test_item_size_follows_dynamodb_rules() -> None:
    assert number_size("123") == 3 and number_size("1000") == 2 and number_size("0.001") == 2 and number_size("-12.5") == 3
    assert item_size({"a": {"S": "xyz"}}) == 4
    assert item_size({"name": {"S": "中"}}) == 4 + 3  # UTF-8 bytes
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size({"l": {"L": [{"N": "1"}, {"BOOL": True}]}}) == 1 + 3 + (2 + 1) + (1 + 1)
    assert write_units(1024) == 1 and write_units(1025) == 2 and write_units(0) == 1
    assert read_units(4096, True) == 1 and read_units(4097, True) == 2 and read_units(10, False) == 0.5


SHAPE = TableShape(
    "t",
    ("pk", "sk"),
    (IndexShape("all", ("kind", "at"), "ALL"), IndexShape("keys", ("owner",), "KEYS_ONLY")),
)


def units_of(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, int]:
    meter = CapacityMeter(lambda keys: [None] * len(keys), {"t": SHAPE})
    meter._write("t", old, new)
    return {"base": meter.units.writes, "all": meter.units.by_index["t/all"], "keys": meter.units.by_index["t/keys"]}


def test_index_writes_follow_what_each_index_holds() -> None:
    item = {"pk": {"S": "p"}, "sk": {"S": "s"}, "kind": {"S": "a"}, "at": {"S": "1"}, "owner": {"S": "o"}, "x": {"S": "1"}}
    assert units_of(None, item) == {"base": 1, "all": 1, "keys": 1}  # a new item enters both indexes
    assert units_of(item, item | {"x": {"S": "2"}}) == {"base": 1, "all": 1, "keys": 0}  # KEYS_ONLY does not hold x
    assert units_of(item, item | {"kind": {"S": "b"}}) == {"base": 1, "all": 2, "keys": 0}  # a moved key: delete + put
    assert units_of(item, {k: v for k, v in item.items() if k != "owner"}) == {"base": 1, "all": 1, "keys": 1}  # leaves "keys"
    assert units_of(item, None) == {"base": 1, "all": 1, "keys": 1}
    plain = {"pk": {"S": "p"}, "sk": {"S": "s"}, "x": {"S": "1"}}
    assert units_of(None, plain) == {"base": 1, "all": 0, "keys": 0}  # in no index
    big = item | {"x": {"S": "y" * 3000}}
    assert units_of(None, big) == {"base": 3, "all": 3, "keys": 1}


@pytest.fixture()
def metered(aws: Any) -> tuple[Any, CapacityMeter]:
    from infra import resources

    client = boto3.session.Session().client("dynamodb")
    meter = CapacityMeter(lookup_with(boto3.session.Session().client("dynamodb")))
    meter.attach(client)
    assert {t.name for t in resources.TABLES} <= set(meter.shapes)
    return client, meter


def _events_item(pk: str, **extra: Any) -> dict[str, Any]:
    """An item every index of the events table holds (the keys come from infra/resources.py)."""
    from infra import resources

    table = next(t for t in resources.TABLES if t.logical_id == "EventsTable")
    item = {"pk": {"S": pk}, "sk": {"S": "event"}, "status": {"S": "pending"}}
    for index in table.indexes:
        for name in (index.hash_key, index.range_key):
            if name:
                item[name] = {"S": f"{name}-value"}
    return item | extra


def test_the_meter_counts_real_requests_with_their_index_writes(metered: tuple[Any, CapacityMeter]) -> None:
    client, meter = metered
    events = meter.shapes["salesbridge-events"]
    indexes = len(events.indexes)
    client.put_item(TableName=events.name, Item=_events_item("e1"))
    assert (meter.units.writes, meter.units.index_writes) == (1, indexes)

    client.update_item(
        TableName=events.name,
        Key={"pk": {"S": "e1"}, "sk": {"S": "event"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "delivered"}},
    )
    assert (meter.units.writes, meter.units.index_writes) == (2, 2 * indexes)  # projected attribute changed: every index again

    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": events.name, "Item": _events_item("e2"), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": "salesbridge-state", "Item": {"pk": {"S": "s1"}, "sk": {"S": "golden"}}}},
        ]
    )
    assert (meter.units.writes, meter.units.index_writes) == (2 + 2 * 2, 3 * indexes)  # transactional ×2 on the base only

    with pytest.raises(ClientError):
        client.put_item(TableName=events.name, Item=_events_item("e1"), ConditionExpression="attribute_not_exists(pk)")
    assert (meter.units.writes, meter.units.index_writes) == (7, 3 * indexes)  # refused: the stored item's size, no index write

    with pytest.raises(ClientError):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "salesbridge-state", "Item": {"pk": {"S": "s2"}, "sk": {"S": "golden"}}}},
                {"Put": {"TableName": events.name, "Item": _events_item("e2"), "ConditionExpression": "attribute_not_exists(pk)"}},
            ]
        )
    assert (meter.units.writes, meter.units.index_writes) == (9, 3 * indexes)  # cancelled: the prepare phase, 1 per item

    found = client.batch_get_item(
        RequestItems={events.name: {"Keys": [{"pk": {"S": "e1"}, "sk": {"S": "event"}}, {"pk": {"S": "nope"}, "sk": {"S": "event"}}]}}
    )
    assert len(found["Responses"][events.name]) == 1
    assert meter.units.reads == 1.0  # eventually consistent: 0.5 for the item, 0.5 for the missing one
