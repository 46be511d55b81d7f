"""The AWS stand-in keeps DynamoDB's promises over HTTP: transactions all-or-nothing, conflicting writes serialised.

The tables are the real ones from infra/resources.py (their indexes and the events table's
stream), on the stand-in that ``make run`` and every test use (local/aws_standin.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from infra import resources

Snapshot = dict[str, Any]


def _client() -> Any:
    """A client that shows a 500 as an error instead of retrying it away."""
    return boto3.session.Session().client("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 1}))


def _table(logical_id: str) -> resources.Table:
    return next(t for t in resources.TABLES if t.logical_id == logical_id)


def _item(table: resources.Table, pk: str, sk: str, tag: str) -> dict[str, Any]:
    """An item carrying every key attribute of the table and of each of its indexes, so each index holds it."""
    item = {table.hash_key: {"S": pk}, "tag": {"S": tag}}
    if table.range_key:
        item[table.range_key] = {"S": sk}
    for index in table.indexes:
        for attribute in (index.hash_key, index.range_key):
            if attribute and attribute not in item:
                item[attribute] = {"S": f"{attribute}-{tag}"}
    return item


def _key(table: resources.Table, item: dict[str, Any]) -> dict[str, Any]:
    names = [table.hash_key] + ([table.range_key] if table.range_key else [])
    return {n: item[n] for n in names}


def _scan(ddb: Any, name: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page: dict[str, Any] = {}
    while True:
        response = ddb.scan(TableName=name, **kwargs, **page)
        items += response["Items"]
        if "LastEvaluatedKey" not in response:
            return sorted(items, key=repr)
        page = {"ExclusiveStartKey": response["LastEvaluatedKey"]}


def _stream_records(name: str) -> list[dict[str, Any]]:
    ddb = _client()
    arn = ddb.describe_table(TableName=name)["Table"].get("LatestStreamArn")
    if not arn:
        return []
    streams = boto3.session.Session().client("dynamodbstreams")
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            response = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += response["Records"]
            if not response["Records"]:
                break
            iterator = response.get("NextShardIterator")
    return [{k: r["dynamodb"].get(k) for k in ("Keys", "NewImage", "SequenceNumber")} | {"eventName": r["eventName"]} for r in records]


def snapshot() -> Snapshot:
    """Every table's items, every index's items (as each index returns them) and every stream's records."""
    ddb = _client()
    seen: Snapshot = {}
    for table in resources.TABLES:
        seen[table.name] = _scan(ddb, table.name)
        for index in table.indexes:
            seen[f"{table.name}/{index.name}"] = _scan(ddb, table.name, IndexName=index.name)
        seen[f"{table.name}/stream"] = _stream_records(table.name)
    return seen


@pytest.fixture()
def seeded(aws: Any) -> dict[str, list[dict[str, Any]]]:
    """Three items in each of the events (indexes + stream), audit (indexes) and state tables."""
    ddb = _client()
    stored: dict[str, list[dict[str, Any]]] = {}
    for logical_id in ("EventsTable", "AuditTable", "StateTable"):
        table = _table(logical_id)
        stored[logical_id] = [_item(table, f"seed#{n}", "a", f"old{n}") for n in range(3)]
        for item in stored[logical_id]:
            ddb.put_item(TableName=table.name, Item=item)
    return stored


def _mixed_transaction(seeded: dict[str, list[dict[str, Any]]], last: dict[str, Any]) -> list[dict[str, Any]]:
    """Creates, updates (one moving an item to another index key) and deletes on three tables, then ``last``."""
    events, audit, state = _table("EventsTable"), _table("AuditTable"), _table("StateTable")
    index_key = events.indexes[0].hash_key
    return [
        {"Put": {"TableName": events.name, "Item": _item(events, "new#1", "a", "new1"), "ConditionExpression": "attribute_not_exists(pk)"}},
        {
            "Update": {
                "TableName": events.name,
                "Key": _key(events, seeded["EventsTable"][0]),
                "UpdateExpression": "SET #k = :k, tag = :t",
                "ExpressionAttributeNames": {"#k": index_key},
                "ExpressionAttributeValues": {":k": {"S": "moved"}, ":t": {"S": "changed"}},
            }
        },
        {"Delete": {"TableName": events.name, "Key": _key(events, seeded["EventsTable"][1])}},
        {"Put": {"TableName": events.name, "Item": _item(events, seeded["EventsTable"][2]["pk"]["S"], "a", "overwritten")}},
        {"Put": {"TableName": audit.name, "Item": _item(audit, "new#2", "a", "new2")}},
        {
            "Update": {
                "TableName": audit.name,
                "Key": _key(audit, seeded["AuditTable"][0]),
                "UpdateExpression": "REMOVE #k",
                "ExpressionAttributeNames": {"#k": audit.indexes[0].hash_key},
            }
        },
        {"Delete": {"TableName": audit.name, "Key": _key(audit, seeded["AuditTable"][1])}},
        {"Delete": {"TableName": state.name, "Key": _key(state, seeded["StateTable"][0])}},
        {
            "Update": {
                "TableName": state.name,
                "Key": {"pk": {"S": "new#3"}, "sk": {"S": "a"}},
                "UpdateExpression": "SET tag = :t",
                "ExpressionAttributeValues": {":t": {"S": "created by update"}},
            }
        },
        last,
    ]


def _failing_last(seeded: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    state = _table("StateTable")
    existing = seeded["StateTable"][2]
    return {
        "Put": {
            "TableName": state.name,
            "Item": _item(state, existing["pk"]["S"], "a", "x"),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def test_a_cancelled_transaction_leaves_every_table_index_and_stream_unchanged(seeded: dict[str, list[dict[str, Any]]]) -> None:
    before = snapshot()
    actions = _mixed_transaction(seeded, _failing_last(seeded))
    with pytest.raises(ClientError) as cancelled:
        _client().transact_write_items(TransactItems=actions)
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None"] * (len(actions) - 1) + ["ConditionalCheckFailed"]
    assert snapshot() == before


def test_a_transaction_refused_midway_by_a_validation_error_is_undone_too(seeded: dict[str, list[dict[str, Any]]]) -> None:
    before = snapshot()
    state = _table("StateTable")
    too_long = {"Put": {"TableName": state.name, "Item": _item(state, "k" * 2100, "a", "too long a hash key")}}
    with pytest.raises(ClientError) as refused:
        _client().transact_write_items(TransactItems=_mixed_transaction(seeded, too_long))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert snapshot() == before


def test_a_committed_transaction_writes_every_item_index_entry_and_stream_record(seeded: dict[str, list[dict[str, Any]]]) -> None:
    events, audit, state = _table("EventsTable"), _table("AuditTable"), _table("StateTable")
    before = snapshot()
    passing = {
        "ConditionCheck": {
            "TableName": state.name,
            "Key": _key(state, seeded["StateTable"][2]),
            "ConditionExpression": "attribute_exists(pk)",
        }
    }
    _client().transact_write_items(TransactItems=_mixed_transaction(seeded, passing))
    after = snapshot()

    tags = {name: {i["pk"]["S"]: i["tag"]["S"] for i in after[name]} for name in (events.name, audit.name, state.name)}
    assert tags[events.name] == {"new#1": "new1", "seed#0": "changed", "seed#2": "overwritten"}
    assert tags[audit.name] == {"new#2": "new2", "seed#0": "old0", "seed#2": "old2"}
    assert tags[state.name] == {"new#3": "created by update", "seed#1": "old1", "seed#2": "old2"}

    moved_index = f"{events.name}/{events.indexes[0].name}"
    assert {i["pk"]["S"]: i[events.indexes[0].hash_key]["S"] for i in after[moved_index]}["seed#0"] == "moved"
    dropped_index = f"{audit.name}/{audit.indexes[0].name}"  # the update removed seed#0's key of this index
    assert sorted(i["pk"]["S"] for i in after[dropped_index]) == ["new#2", "seed#2"]

    stream = f"{events.name}/stream"
    added = after[stream][len(before[stream]) :]
    assert after[stream][: len(before[stream])] == before[stream]
    assert [(r["eventName"], r["Keys"]["pk"]["S"]) for r in added] == [
        ("INSERT", "new#1"),
        ("MODIFY", "seed#0"),
        ("REMOVE", "seed#1"),
        ("MODIFY", "seed#2"),
    ]


def _race(n: int, attempt: Callable[[Any, int], None]) -> tuple[list[int], list[str]]:
    """``n`` threads call ``attempt(client, thread)`` at the same moment; returns the winners and the error codes."""
    clients = [_client() for _ in range(n)]
    start = threading.Barrier(n)
    winners: list[int] = []
    errors: list[str] = []

    def run(number: int) -> None:
        start.wait()
        try:
            attempt(clients[number], number)
            winners.append(number)
        except ClientError as exc:
            errors.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return winners, errors


def test_concurrent_conditional_transactions_on_one_item_exactly_one_wins(aws: Any) -> None:
    state, audit = _table("StateTable"), _table("AuditTable")

    def create(client: Any, number: int) -> None:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": audit.name, "Item": _item(audit, f"loser-check#{number}", "a", str(number))}},
                {
                    "Put": {
                        "TableName": state.name,
                        "Item": _item(state, "contended", "a", str(number)),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    for round_ in range(3):
        _client().delete_item(TableName=state.name, Key={"pk": {"S": "contended"}, "sk": {"S": "a"}})
        for item in _scan(_client(), audit.name):
            _client().delete_item(TableName=audit.name, Key=_key(audit, item))
        winners, errors = _race(8, create)
        assert len(winners) == 1, (round_, winners, errors)
        assert errors == ["TransactionCanceledException"] * 7
        stored = _client().get_item(TableName=state.name, Key={"pk": {"S": "contended"}, "sk": {"S": "a"}})["Item"]
        assert stored["tag"]["S"] == str(winners[0])
        assert [i["pk"]["S"] for i in _scan(_client(), audit.name)] == [f"loser-check#{winners[0]}"]  # the losers' other writes undone


def test_concurrent_versioned_updates_exactly_one_wins_per_version(aws: Any) -> None:
    state = _table("StateTable")
    key = {"pk": {"S": "counter"}, "sk": {"S": "a"}}
    _client().put_item(TableName=state.name, Item=dict(key, version={"N": "0"}))

    for version in range(4):

        def bump(client: Any, number: int, version: int = version) -> None:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": state.name,
                            "Key": key,
                            "UpdateExpression": "SET version = :next, winner = :who",
                            "ConditionExpression": "version = :read",
                            "ExpressionAttributeValues": {
                                ":read": {"N": str(version)},
                                ":next": {"N": str(version + 1)},
                                ":who": {"N": str(number)},
                            },
                        }
                    }
                ]
            )

        winners, errors = _race(6, bump)
        assert len(winners) == 1 and errors == ["TransactionCanceledException"] * 5, (version, winners, errors)
        stored = _client().get_item(TableName=state.name, Key=key)["Item"]
        assert stored["version"]["N"] == str(version + 1) and stored["winner"]["N"] == str(winners[0])


def test_the_make_run_process_serialises_conflicting_writes_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """``make run`` starts this module as a process (local/run.py): the same guarantees hold there."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    from local.aws_standin import FAKE_CREDENTIALS
    from local.run import wait_for_port

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "-m", "local.aws_standin", "-p", str(port)], cwd=root, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port)
        for name, value in FAKE_CREDENTIALS.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        resources.create_all(boto3.session.Session())
        test_concurrent_conditional_transactions_on_one_item_exactly_one_wins(None)
    finally:
        process.terminate()
        process.wait(timeout=10)
