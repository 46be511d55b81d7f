"""Plain-dict <-> DynamoDB item conversion and the few batched calls the pipeline makes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib.runtime import aws

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

Key = tuple[str, str]


def _plain(value: Any) -> Any:
    """Make a value storable: datetimes become ISO text, floats are refused (money is Decimal)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_plain(v)) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def key_of(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def batch_get(table: str, keys: Iterable[Key]) -> dict[Key, dict[str, Any] | None]:
    """Read up to 100 items in (normally) one request; unprocessed keys are retried."""
    return batch_get_tables({table: list(keys)})[table]


def batch_get_tables(requests: dict[str, list[Key]]) -> dict[str, dict[Key, dict[str, Any] | None]]:
    """Read items of several tables in (normally) one BatchGetItem; absent items come back as None."""
    wanted = {table: list(dict.fromkeys(keys)) for table, keys in requests.items()}
    found: dict[str, dict[Key, dict[str, Any] | None]] = {t: dict.fromkeys(k) for t, k in wanted.items()}
    pending = [(table, key) for table, keys in wanted.items() for key in keys]
    client = aws.client("dynamodb")
    for start in range(0, len(pending), 100):
        request: dict[str, Any] = {}
        for table, (pk, sk) in pending[start : start + 100]:
            request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key_of(pk, sk))
        while request:
            response = client.batch_get_item(RequestItems=request)
            for table, items in response["Responses"].items():
                for item in items:
                    plain = from_item(item)
                    found[table][(plain["pk"], plain["sk"])] = plain
            request = response.get("UnprocessedKeys") or {}
    return found


def get(table: str, pk: str, sk: str) -> dict[str, Any] | None:
    item = aws.client("dynamodb").get_item(TableName=table, Key=key_of(pk, sk), ConsistentRead=True).get("Item")
    return from_item(item) if item else None


def query(table: str, **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    response = aws.client("dynamodb").query(TableName=table, **kwargs)
    return [from_item(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")


def query_all(table: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item a query matches, page after page (for partitions known to be small)."""
    found: list[dict[str, Any]] = []
    while True:
        items, after = query(table, **kwargs)
        found += items
        if not after:
            return found
        kwargs["ExclusiveStartKey"] = after
