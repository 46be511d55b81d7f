"""moto's Item built in time linear in its attributes (moto 5.x checks the item size quadratically).

``Item.__init__`` stores each attribute through ``LimitedSizeDict.__setitem__``, which sums
the size of every attribute already stored before adding the next one: a 30-attribute golden
record costs 465 size computations on every write, most of a write's time in moto. The size
only grows while an item is built, so checking the total once, at the end, refuses exactly
the items moto refuses (over 405,000 bytes, moto's measured limit) with the same error.
``LinearItemSize`` replaces only the constructor; later updates keep moto's check.
Self-contained, so it can be offered to moto.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

ITEM_SIZE_LIMIT = 405_000  # moto's own limit (LimitedSizeDict)


class LinearItemSize:
    """Installs the linear ``Item.__init__`` (process-wide)."""

    moto_init = Item.__init__  # moto's own: kept to uninstall and to compare with

    @classmethod
    def install(cls) -> None:
        Item.__init__ = cls.init  # type: ignore[method-assign,assignment]

    @classmethod
    def uninstall(cls) -> None:
        Item.__init__ = cls.moto_init  # type: ignore[method-assign]

    @staticmethod
    def init(item: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
        item.hash_key = hash_key
        item.range_key = range_key
        values = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(len(key.encode("utf-8")) + value.size() for key, value in values.items()) > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        item.attrs = LimitedSizeDict(values)  # dict.update underneath: no per-key check
