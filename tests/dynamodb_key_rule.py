"""DynamoDB's key size rule, checked on every request the app makes.

DynamoDB refuses (ValidationException) an item whose partition key is over 2,048 bytes or whose
sort key is over 1,024 bytes, a table's keys and every global secondary index's alike, and a
key over those sizes in a read. moto checks only some of these requests, so a test that sends
long keys registers ``KeyRule`` on the app's DynamoDB client and asserts it saw no breach.
"""

from __future__ import annotations

from typing import Any

from infra.resources import TABLES

HASH_KEY_BYTES, RANGE_KEY_BYTES = 2048, 1024


def _key_attributes(table_name: str) -> list[tuple[str, int]]:
    """(attribute, byte limit) of every key of a table and its indexes."""
    table = next((t for t in TABLES if t.name == table_name), None)
    if table is None:
        return [("pk", HASH_KEY_BYTES), ("sk", RANGE_KEY_BYTES)]
    found = [(table.hash_key, HASH_KEY_BYTES)] + ([(table.range_key, RANGE_KEY_BYTES)] if table.range_key else [])
    for index in table.indexes:
        found.append((index.hash_key, HASH_KEY_BYTES))
        if index.range_key:
            found.append((index.range_key, RANGE_KEY_BYTES))
    return found


def _size(value: dict[str, Any]) -> int:
    if "S" in value:
        return len(str(value["S"]).encode("utf-8", "surrogatepass"))
    if "B" in value:
        return len(value["B"])
    return 0


def breaches(table: str, item: dict[str, Any]) -> list[str]:
    """Each key attribute of ``item`` (a DynamoDB-typed item or key) over its limit."""
    return [
        f"{table}.{name}: {_size(item[name])} bytes > {limit}"
        for name, limit in _key_attributes(table)
        if isinstance(item.get(name), dict) and _size(item[name]) > limit
    ]


def request_breaches(operation: str, params: dict[str, Any]) -> list[str]:
    """Every key over DynamoDB's limits in one request (items written, keys read or updated)."""
    found: list[str] = []
    table = str(params.get("TableName", ""))
    for name in ("Item", "Key", "ExclusiveStartKey"):
        if name in params:
            found += breaches(table, params[name])
    for action in params.get("TransactItems", []):
        for body in action.values():
            found += breaches(str(body.get("TableName", "")), body.get("Item") or body.get("Key") or {})
    for requested, body in (params.get("RequestItems") or {}).items():
        if isinstance(body, dict):  # BatchGetItem
            for key in body.get("Keys", []):
                found += breaches(requested, key)
        else:  # BatchWriteItem
            for request in body:
                for write in request.values():
                    found += breaches(requested, write.get("Item") or write.get("Key") or {})
    return [f"{operation}: {breach}" for breach in found]


class KeyRule:
    """Collects every breach of the rule in the requests of one DynamoDB client."""

    def __init__(self) -> None:
        self.breaches: list[str] = []

    def check(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.breaches += request_breaches(model.name, params)

    def install(self, client: Any) -> KeyRule:
        client.meta.events.register("before-parameter-build.dynamodb", self.check)
        return self

    def uninstall(self, client: Any) -> None:
        client.meta.events.unregister("before-parameter-build.dynamodb", self.check)
