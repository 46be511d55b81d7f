"""DynamoDB read and write request units, computed exactly from the requests a client sends.

One accounting for every benchmark. The rules (DynamoDB Developer Guide: item sizes,
read/write capacity, transactions, secondary indexes):

- Item size: the UTF-8 length of each attribute name plus its value (strings by UTF-8
  length, numbers 1 byte per 2 significant digits + 1, binary by length, booleans and
  nulls 1, lists and maps 3 + their elements + 1 per element).
- Writes: 1 unit per started KB. PutItem and UpdateItem bill the larger of the item
  before and after, DeleteItem the deleted item, at least 1. TransactWriteItems bills 2
  per started KB per item (prepare + commit), a ConditionCheck like a write of the item.
  A write refused by its condition bills the stored item's size, at least 1; a
  cancelled transaction is counted as its prepare phase (1 per started KB per item).
- Secondary indexes: every write that changes what an index holds is billed again on
  the index, 1 unit per started KB of the index entry (the projected item): an item
  entering or leaving the index is one index write, an item whose index key changes is
  two (delete + put), an item whose projected attributes change is one. The index is
  maintained outside the transaction, so index writes are standard writes.
- Reads: strongly consistent 1 unit per started 4 KB per item (0.5 if eventually
  consistent), at least one unit for an item that is not found; Query and Scan bill the
  total size read, rounded up to 4 KB.

Table keys and index key schemas and projections are read from infra/resources.py
(the CloudFormation definitions the deployed tables are created from). Items before a
write are read through a separate, uncounted client.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Item = dict[str, Any]
Lookup = Callable[[list[tuple[str, Item]]], list[Item | None]]  # (table, key) pairs -> the stored items, in order


# ---------------------------------------------------------------------------- item sizes
def value_size(value: dict[str, Any]) -> int:
    """Bytes of one AttributeValue as DynamoDB counts them."""
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return number_size(v)
    if kind == "B":
        return len(v) if isinstance(v, (bytes, bytearray)) else len(v.encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in v)
    if kind == "NS":
        return sum(number_size(n) for n in v)
    if kind == "BS":
        return sum(len(b) for b in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(value_size(x) + 1 for x in v)
    raise ValueError(kind)


def number_size(text: str) -> int:
    """1 byte per two significant digits (leading/trailing zeros trimmed), plus 1."""
    digits = Decimal(text).normalize().as_tuple().digits
    significant = str(int("".join(map(str, digits)) or "0")).rstrip("0") or "0"
    return math.ceil(len(significant) / 2) + 1


def item_size(item: Item) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


# ---------------------------------------------------------------------------- table shapes
@dataclass(frozen=True)
class IndexShape:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    included: frozenset[str] = frozenset()

    def holds(self, item: Item | None) -> bool:
        return item is not None and all(k in item for k in self.keys)

    def entry(self, item: Item, table_keys: tuple[str, ...]) -> Item:
        """The index entry for ``item``: what the index stores of it."""
        if self.projection == "ALL":
            return item
        wanted = set(table_keys) | set(self.keys) | (self.included if self.projection == "INCLUDE" else set())
        return {k: v for k, v in item.items() if k in wanted}


@dataclass(frozen=True)
class TableShape:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[IndexShape, ...] = ()

    def key_of(self, item: Item) -> Item:
        return {k: item[k] for k in self.keys}


def table_shapes() -> dict[str, TableShape]:
    """Every table's key and index definitions, by table name, from infra/resources.py."""
    from infra import resources

    definitions = resources.cloudformation_resources()
    shapes = {}
    for table in resources.TABLES:
        props = definitions[table.logical_id]["Properties"]
        indexes = tuple(
            IndexShape(
                index["IndexName"],
                tuple(k["AttributeName"] for k in index["KeySchema"]),
                index.get("Projection", {}).get("ProjectionType", "ALL"),
                frozenset(index.get("Projection", {}).get("NonKeyAttributes", ())),
            )
            for index in props.get("GlobalSecondaryIndexes", [])
        )
        shapes[table.name] = TableShape(table.name, tuple(k["AttributeName"] for k in props["KeySchema"]), indexes)
    return shapes


# ---------------------------------------------------------------------------- the meter
@dataclass
class Units:
    reads: float = 0.0
    writes: int = 0  # base tables
    index_writes: int = 0
    by_table: Counter[str] = field(default_factory=Counter)  # write units (base + indexes) per table
    by_index: Counter[str] = field(default_factory=Counter)  # "table/index" -> write units

    @property
    def total_writes(self) -> int:
        return self.writes + self.index_writes


class CapacityMeter:
    """Counts the request units of every DynamoDB request a botocore client makes.

    ``attach(client)`` registers hooks: before each write the stored items it touches are
    read (through ``lookup``, which must use another client), after it the units are added
    to ``units``, according to the outcome.
    """

    def __init__(self, lookup: Lookup, shapes: dict[str, TableShape] | None = None) -> None:
        self.lookup = lookup
        self.shapes = shapes if shapes is not None else table_shapes()
        self.units = Units()
        self.lookup_seconds = 0.0  # time spent reading stored items: callers timing the requests subtract it

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def detach(self, client: Any) -> None:
        client.meta.events.unregister("before-parameter-build.dynamodb", self._before)
        client.meta.events.unregister("after-call.dynamodb", self._after)

    # ------------------------------------------------------------------ hooks
    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context["capacity"] = (model.name, params, self._stored_before(model.name, params))

    def _after(self, http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "capacity" not in context:
            return
        operation, params, before = context.pop("capacity")
        ok = getattr(http_response, "status_code", 200) < 300
        error = parsed.get("Error", {}).get("Code", "") if not ok else ""
        if operation in ("GetItem", "BatchGetItem", "Query", "Scan"):
            if ok:
                self._reads(operation, params, parsed)
        elif operation == "TransactWriteItems":
            self._transaction(params, before, committed=ok, cancelled=error == "TransactionCanceledException")
        elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
            self._single_write(operation, params, before, ok=ok, refused=error == "ConditionalCheckFailedException")
        elif operation == "BatchWriteItem" and ok:
            self._batch_write(params, before, parsed)

    # ------------------------------------------------------------------ what was stored before the write
    def _stored_before(self, operation: str, params: dict[str, Any]) -> list[Item | None]:
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            return self._stored([(params["TableName"], params.get("Key") or params["Item"])])
        if operation == "TransactWriteItems":
            bodies = [next(iter(action.values())) for action in params["TransactItems"]]
            return self._stored([(body["TableName"], body.get("Key") or body["Item"]) for body in bodies])
        if operation == "BatchWriteItem":
            return self._stored(
                [
                    (table, request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"])
                    for table, requests in params["RequestItems"].items()
                    for request in requests
                ]
            )
        return []

    def _stored(self, items_or_keys: list[tuple[str, Item]]) -> list[Item | None]:
        """The stored items with these keys (one read for all of them)."""
        keys = []
        for table, item_or_key in items_or_keys:
            shape = self.shapes.get(table)
            keys.append((table, shape.key_of(item_or_key) if shape else item_or_key))
        started = time.perf_counter()
        try:
            return self.lookup(keys)
        finally:
            self.lookup_seconds += time.perf_counter() - started

    # ------------------------------------------------------------------ writes
    def _write(self, table: str, old: Item | None, new: Item | None, factor: int = 1) -> None:
        """A write that changed ``old`` into ``new`` (None: absent): base units × factor, then index units."""
        size = max(item_size(old) if old else 0, item_size(new) if new else 0)
        base = write_units(size) * factor
        self.units.writes += base
        self.units.by_table[table] += base
        shape = self.shapes.get(table)
        if shape is None:
            return
        for index in shape.indexes:
            units = self._index_write_units(shape, index, old, new)
            if units:
                self.units.index_writes += units
                self.units.by_table[table] += units
                self.units.by_index[f"{table}/{index.name}"] += units

    @staticmethod
    def _index_write_units(shape: TableShape, index: IndexShape, old: Item | None, new: Item | None) -> int:
        was, now = index.holds(old), index.holds(new)
        if not was and not now:
            return 0
        if was and not now:
            return write_units(item_size(index.entry(old, shape.keys)))  # type: ignore[arg-type]
        if now and not was:
            return write_units(item_size(index.entry(new, shape.keys)))  # type: ignore[arg-type]
        assert old is not None and new is not None
        before, after = index.entry(old, shape.keys), index.entry(new, shape.keys)
        if any(old[k] != new[k] for k in index.keys):
            return write_units(item_size(before)) + write_units(item_size(after))
        return write_units(item_size(after)) if before != after else 0

    def _refused(self, table: str, old: Item | None, factor: int = 1) -> None:
        units = write_units(item_size(old) if old else 0) * factor
        self.units.writes += units
        self.units.by_table[table] += units

    def _single_write(self, operation: str, params: dict[str, Any], before: list[Item | None], *, ok: bool, refused: bool) -> None:
        table, (old,) = params["TableName"], before
        if not ok:
            if refused:
                self._refused(table, old)
            return
        if operation == "PutItem":
            new: Item | None = params["Item"]
        elif operation == "DeleteItem":
            new = None
        else:
            (new,) = self._stored([(table, params["Key"])])
        self._write(table, old, new)

    def _transaction(self, params: dict[str, Any], before: list[Item | None], *, committed: bool, cancelled: bool) -> None:
        actions = [next(iter(action.items())) for action in params["TransactItems"]]
        updated = [(body["TableName"], body["Key"]) for kind, body in actions if kind == "Update"] if committed else []
        after = iter(self._stored(updated) if updated else [])
        for (kind, body), old in zip(actions, before, strict=True):
            table = body["TableName"]
            if not committed:
                if cancelled:
                    self._refused(table, old)
                continue
            if kind == "ConditionCheck":
                self._refused(table, old, factor=2)  # billed like a write of the item; nothing changes
            elif kind == "Put":
                self._write(table, old, body["Item"], factor=2)
            elif kind == "Delete":
                self._write(table, old, None, factor=2)
            else:
                self._write(table, old, next(after), factor=2)

    def _batch_write(self, params: dict[str, Any], before: list[Item | None], parsed: dict[str, Any]) -> None:
        requests = [(table, request) for table, rs in params["RequestItems"].items() for request in rs]
        unprocessed = {(t, repr(r)) for t, rs in (parsed.get("UnprocessedItems") or {}).items() for r in rs}
        for (table, request), old in zip(requests, before, strict=True):
            if (table, repr(request)) in unprocessed:
                continue
            self._write(table, old, request["PutRequest"]["Item"] if "PutRequest" in request else None)

    # ------------------------------------------------------------------ reads
    def _reads(self, operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        if operation == "GetItem":
            item = parsed.get("Item")
            self.units.reads += read_units(item_size(item) if item else 0, params.get("ConsistentRead", False))
        elif operation == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                found = parsed.get("Responses", {}).get(table, [])
                consistent = request.get("ConsistentRead", False)
                unprocessed = len((parsed.get("UnprocessedKeys") or {}).get(table, {}).get("Keys", []))
                missing = len(request["Keys"]) - len(found) - unprocessed
                self.units.reads += sum(read_units(item_size(i), consistent) for i in found) + missing * read_units(0, consistent)
        else:  # Query, Scan: the total size read, rounded up to 4 KB
            total = sum(item_size(i) for i in parsed.get("Items", []))
            self.units.reads += read_units(total, params.get("ConsistentRead", False))


def lookup_with(client: Any) -> Lookup:
    """A ``lookup`` for CapacityMeter through ``client`` (one that is not metered): consistent batch reads."""

    def identity(table: str, key: Item) -> tuple[str, str]:
        return table, json.dumps(key, sort_keys=True)

    def lookup(keys: list[tuple[str, Item]]) -> list[Item | None]:
        found: dict[tuple[str, str], Item] = {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {}
            for table, key in keys[start : start + 100]:
                request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
            names = {table: list(body["Keys"][0]) for table, body in request.items()}
            while request:
                response = client.batch_get_item(RequestItems=request)
                for table, items in response["Responses"].items():
                    found.update({identity(table, {n: item[n] for n in names[table]}): item for item in items})
                request = response.get("UnprocessedKeys") or {}
        return [found.get(identity(table, key)) for table, key in keys]

    return lookup
