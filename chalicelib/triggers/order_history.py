"""A customer's order history, kept in one state item for the anomaly rules.

The item at ``orders_key(customer_id)``::

    {"customer_id": str,
     "orders": {order_id: {"total": Decimal, "currency": str | None, "status": str | None,
                           "placed_at": iso, "lines": [[sku, quantity], ...]}}}   # lines sorted: a multiset

An entry stored before orders carried their currency has no ``currency`` key: the amount rule
treats it as a currency of its own (it is compared with nothing).

Only the newest ``history_limit`` orders by placed time are kept, plus every open one (the credit
rule needs all open orders), so the item stays far below DynamoDB's 400 KB.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.canonical import OrderLine
from chalicelib.domain.golden import iso

Entry = dict[str, Any]


@dataclass(frozen=True)
class OrderFacts:
    """What the rules compare, derived from the golden order."""

    order_id: str
    customer_id: str | None
    total: Decimal | None
    currency: str | None
    status: str | None
    placed_at: str
    lines: list[OrderLine]

    def signature(self) -> list[list[Any]]:
        return sorted([line.sku, line.quantity] for line in self.lines)

    def entry(self) -> Entry:
        return {
            "total": self.total,
            "currency": self.currency,
            "status": self.status,
            "placed_at": self.placed_at,
            "lines": self.signature(),
        }


def order_facts(order_id: str, fields: dict[str, Any], first_seen: str) -> OrderFacts:
    lines = [OrderLine.model_validate(line) for line in fields.get("lines") or []]
    total = fields.get("total")
    if total is None and lines:
        total = sum((line.net_amount for line in lines), Decimal(0))
    status, currency = fields.get("status"), fields.get("currency")
    return OrderFacts(
        order_id=order_id,
        customer_id=fields.get("customer_id"),
        total=Decimal(total) if total is not None else None,
        currency=currency.strip().upper() if isinstance(currency, str) and currency.strip() else None,
        status=status.strip().lower() if isinstance(status, str) else None,
        placed_at=_utc_text(fields.get("placed_at")) or first_seen,
        lines=lines,
    )


def _utc_text(value: Any) -> str | None:
    """Placed times compare as text, so they are normalised to UTC ISO first."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return iso(moment)


def is_open(status: str | None, closed: frozenset[str]) -> bool:
    return (status or "").lower() not in closed


def with_order(item: dict[str, Any] | None, customer_id: str, facts: OrderFacts, limit: int, closed: frozenset[str]) -> dict[str, Any]:
    """The history with this order's entry upserted and old closed orders pruned."""
    orders = dict((item or {}).get("orders", {}))
    orders[facts.order_id] = facts.entry()
    return {"customer_id": customer_id, "orders": _pruned(orders, limit, closed)}


def without_order(item: dict[str, Any] | None, order_id: str) -> dict[str, Any] | None:
    if not item or order_id not in item.get("orders", {}):
        return item
    orders = {k: v for k, v in item["orders"].items() if k != order_id}
    return {**item, "orders": orders}


def _pruned(orders: dict[str, Entry], limit: int, closed: frozenset[str]) -> dict[str, Entry]:
    if len(orders) <= limit:
        return orders
    newest = sorted(orders, key=lambda oid: (orders[oid]["placed_at"], oid), reverse=True)[:limit]
    keep = set(newest) | {oid for oid, e in orders.items() if is_open(e.get("status"), closed)}
    return {oid: e for oid, e in orders.items() if oid in keep}
