"""The journaled TransactWriteItems does exactly what moto's own does, on random transactions.

Pure model-level comparison (no server): two moto DynamoDB backends receive the same
random sequence of transactions, one through moto's ``transact_write_items`` (copies of
whole tables), one through ``JournaledTransactions`` (a journal of the touched items).
After each transaction both hold the same items and the same stream records, and
both answered the same way.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from moto.dynamodb.models import DynamoDBBackend

from local.moto_transactions import JournaledTransactions

TABLES = {
    # name: (hash key, range key or None); "ranged" has an index on "g" and a stream, "flat" has neither.
    "ranged": ("pk", "sk"),
    "flat": ("id", None),
}
KEYS = ["a", "b", "c"]
VALUES = ["1", "2"]


def backend() -> DynamoDBBackend:
    b = DynamoDBBackend(region_name="us-east-1", account_id="123456789012")
    b.create_table(
        "ranged",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        throughput=None,
        attr=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "g")],
        global_indexes=[
            {"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}
        ],
        indexes=None,
        streams={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        billing_mode="PAY_PER_REQUEST",
        sse_specification=None,
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )
    b.create_table(
        "flat",
        schema=[{"AttributeName": "id", "KeyType": "HASH"}],
        throughput=None,
        attr=[{"AttributeName": "id", "AttributeType": "S"}],
        global_indexes=None,
        indexes=None,
        streams=None,
        billing_mode="PAY_PER_REQUEST",
        sse_specification=None,
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )
    return b


def key_of(table: str, key: str) -> dict[str, Any]:
    hash_key, range_key = TABLES[table]
    return {hash_key: {"S": key}} | ({range_key: {"S": "r"}} if range_key else {})


conditions = st.sampled_from([None, "attribute_not_exists(v)", "attribute_exists(v)", "v = :one"])


@st.composite
def action(draw: st.DrawFn) -> dict[str, Any]:
    table, key, kind = (
        draw(st.sampled_from(list(TABLES))),
        draw(st.sampled_from(KEYS)),
        draw(st.sampled_from(["Put", "Update", "Delete", "ConditionCheck"])),
    )
    condition = draw(conditions) if kind != "ConditionCheck" else draw(conditions.filter(lambda c: c is not None))
    body: dict[str, Any] = {"TableName": table}
    value = {"S": draw(st.sampled_from(VALUES))}
    if kind == "Put":
        body["Item"] = key_of(table, key) | {"v": value, "g": value}
    else:
        body["Key"] = key_of(table, key)
    if kind == "Update":
        body["UpdateExpression"] = draw(st.sampled_from(["SET v = :val, g = :val", "REMOVE g", "SET w = :val"]))
        body["ExpressionAttributeValues"] = {":val": value}
    if condition:
        body["ConditionExpression"] = condition
        if ":one" in condition:
            body.setdefault("ExpressionAttributeValues", {})[":one"] = {"S": "1"}
    if kind in ("Put", "Update", "Delete") and draw(st.booleans()):
        body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {kind: body}


def outcome(b: DynamoDBBackend, transact: Any, actions: list[dict[str, Any]]) -> str:
    try:
        transact(b, actions)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - the answer itself is what is compared
        return f"{type(exc).__name__}: {getattr(exc, 'description', exc)}"


def state(b: DynamoDBBackend) -> dict[str, Any]:
    tables = {name: sorted(repr(item.to_json()) for item in b.get_table(name).all_items()) for name in TABLES}
    index = sorted(repr(i.to_json()) for i in b.get_table("ranged").has_idx_items("by-g"))
    shard = b.get_table("ranged").stream_shard
    assert shard is not None
    stream = [
        {k: v for k, v in r.to_json()["dynamodb"].items() if k not in ("ApproximateCreationDateTime", "SizeBytes")}
        | {"event": r.to_json()["eventName"]}
        for r in shard.items
    ]
    return {"tables": tables, "index": index, "stream": stream}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(action(), min_size=1, max_size=5), min_size=1, max_size=8))
def test_journaled_transactions_match_moto_on_random_transactions(transactions: list[list[dict[str, Any]]]) -> None:
    copied, journaled = backend(), backend()
    for actions in transactions:
        expected = outcome(copied, JournaledTransactions.moto_transact_write_items, actions)
        got = outcome(journaled, JournaledTransactions.transact_write_items, actions)
        assert got == expected, actions
        assert state(journaled) == state(copied), actions


def test_a_transaction_touches_only_its_own_items() -> None:
    """The cost does not grow with the table: no item other than the written ones is copied or replaced."""
    b = backend()
    table = b.get_table("ranged")
    for n in range(2000):
        table.put_item({"pk": {"S": f"k{n}"}, "sk": {"S": "r"}, "v": {"S": "1"}})
    untouched = table.items[next(iter(table.items))]
    transact = JournaledTransactions.transact_write_items
    transact(b, [{"Put": {"TableName": "ranged", "Item": {"pk": {"S": "new"}, "sk": {"S": "r"}}}}])
    assert b.get_table("ranged") is table and table.items[next(iter(table.items))] is untouched
