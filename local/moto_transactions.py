"""TransactWriteItems for moto's DynamoDB at a cost proportional to the items it touches.

moto (5.x) backs up every table a transaction touches with ``copy.deepcopy`` before it
writes, and puts the copies back when the transaction is cancelled, so every transaction
costs time in proportion to everything stored: 16 ms for three items on an empty table,
170 ms at 5,000 items. ``JournaledTransactions`` keeps a rollback journal instead: the
prior state of each item the transaction writes, and how long each written table's stream
was. On cancellation exactly those items are put back (created items removed, updated and
deleted items restored) and the stream records the transaction added are dropped. moto
computes its secondary indexes from the table's items at query time, so they follow.

Everything else is moto's own behaviour, step for step: per-item condition checks, the
cancellation reasons, ``ReturnValuesOnConditionCheckFailure``, the errors that abort the
whole request. The class is self-contained (moto's models only) so it can be offered to
moto as the body of ``DynamoDBBackend.transact_write_items``.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamShard, Table

ItemKey = tuple[str, DynamoType, DynamoType | None]
Outcome = tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]
WRITES = ("Put", "Update", "Delete")


class ItemJournal:
    """What a transaction's writes replaced: each touched item as it was, and each stream's length."""

    def __init__(self) -> None:
        self._items: dict[ItemKey, tuple[Table, Item | None]] = {}
        self._streams: dict[str, tuple[StreamShard, list[Any], int]] = {}

    def remember(self, table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> None:
        """Record the item's state before its first write in this transaction."""
        key = (table.name, hash_key, range_key)
        if key not in self._items:
            self._items[key] = (table, copy.deepcopy(_stored(table, hash_key, range_key)))
        shard = table.stream_shard
        if shard is not None and table.name not in self._streams:
            self._streams[table.name] = (shard, shard.items, len(shard.items))

    def rollback(self) -> None:
        """Put back every remembered item as it was and forget the stream records written since."""
        for (_, hash_key, range_key), (table, before) in self._items.items():
            _restore(table, hash_key, range_key, before)
        for shard, records, length in self._streams.values():
            if shard.items is records:  # a Lambda event source mapping may have consumed them already
                del records[length:]


def _stored(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    """The stored item, read without ``Table.get_item``'s side effect of adding an empty hash bucket."""
    if range_key is None:
        found = table.items.get(hash_key)
        return found if isinstance(found, Item) else None
    bucket = table.items.get(hash_key)
    return bucket.get(range_key) if isinstance(bucket, dict) else None


def _restore(table: Table, hash_key: DynamoType, range_key: DynamoType | None, before: Item | None) -> None:
    """Write the item's earlier state straight into the table (no stream record: nothing happened)."""
    if range_key is None:
        if before is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = before  # type: ignore[assignment]  # moto keeps hash-only items in the same dict
        return
    bucket = table.items[hash_key]
    if before is None:
        bucket.pop(range_key, None)
        if not bucket:
            del table.items[hash_key]
    else:
        bucket[range_key] = before


def _key_values(table: Table, key: dict[str, Any]) -> tuple[DynamoType, DynamoType | None]:
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return DynamoType(key[table.hash_key_attr]), range_key


class JournaledTransactions:
    """The journaled ``transact_write_items``, installed on moto's DynamoDB backend class (process-wide)."""

    moto_transact_write_items = DynamoDBBackend.transact_write_items  # moto's own: kept to uninstall and to compare with

    @classmethod
    def install(cls) -> None:
        DynamoDBBackend.transact_write_items = cls.transact_write_items  # type: ignore[method-assign,assignment]

    @classmethod
    def uninstall(cls) -> None:
        DynamoDBBackend.transact_write_items = cls.moto_transact_write_items  # type: ignore[method-assign]

    @staticmethod
    def transact_write_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        journal = ItemJournal()
        targets: set[tuple[str, str]] = set()
        outcomes: list[Outcome] = []
        for action in transact_items:
            if len(action) > 1:
                raise TransactWriteSingleOpException
            try:
                outcomes.append(_apply(backend, action, journal, targets))
            except (MultipleTransactionsException, MockValidationException):
                journal.rollback()
                raise
        if any(code is not None for code, _, _ in outcomes):
            journal.rollback()
            raise TransactionCanceledException(outcomes)


def _apply(backend: DynamoDBBackend, action: dict[str, Any], journal: ItemJournal, targets: set[tuple[str, str]]) -> Outcome:
    """One action of the transaction: its condition, then its write. Returns its cancellation reason, if any."""
    old_image: dict[str, Any] | None = None
    try:
        op_type, op = next(iter(action.items()))
        if op_type not in {"ConditionCheck", *WRITES}:
            raise ValueError("Unsupported transaction operation")
        table_name = op["TableName"]
        table = backend.get_table(table_name)
        if op_type == "Put":
            attrs = op["Item"]
            key = {table.hash_key_attr: attrs[table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = attrs[table.range_key_attr]
        else:
            key = op["Key"]
        target = (str(table_name), str(dict(sorted(key.items()))))
        if target in targets:
            raise MultipleTransactionsException()
        targets.add(target)

        condition = op.get("ConditionExpression")
        names = op.get("ExpressionAttributeNames")
        values = op.get("ExpressionAttributeValues")
        current = backend.get_item(table_name, key)
        if condition is not None and not get_filter_expression(condition, names, values).expr(current):
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                old_image = current.to_json()["Attributes"]
            raise ConditionalCheckFailed(item=old_image)

        if op_type in WRITES:
            journal.remember(table, *_key_values(table, key))
        # The condition held just above, on this item, with no other request in between: not checked twice.
        expressions = {"expression_attribute_names": names, "expression_attribute_values": values}
        if op_type == "Put":
            backend.put_item(table_name, op["Item"], **expressions)
        elif op_type == "Delete":
            backend.delete_item(table_name, key, **expressions)
        elif op_type == "Update":
            backend.update_item(table_name, key, update_expression=op["UpdateExpression"], **expressions)
        return (None, None, None)
    except (MultipleTransactionsException, MockValidationException):
        raise
    except ConditionalCheckFailed as exc:
        return ("ConditionalCheckFailed", str(exc.message), old_image)
    except Exception as exc:  # noqa: BLE001 - moto reports any other failure as this item's cancellation reason
        return (type(exc).__name__, str(exc), old_image)
