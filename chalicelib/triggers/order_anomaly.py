"""`order.anomaly_detected` (SPEC §2.2): the four built-in order rules.

Each rule is a small pure function from the order's facts and the state it needs to a Finding
(rule, reason, evidence) or None. The caller evaluates them only when an order is first seen or
its lines/total change, and emits at most one event per (order, rule), ever.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.triggers.config import OrderAnomalyConfig
from chalicelib.triggers.order_history import OrderFacts, is_open

EVENT_TYPE = "order.anomaly_detected"


@dataclass(frozen=True)
class Finding:
    rule: str
    reason: str
    evidence: dict[str, Any]
    event_type: str = EVENT_TYPE
    severity: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def amount_spike(facts: OrderFacts, history: dict[str, dict[str, Any]], config: OrderAnomalyConfig) -> Finding | None:
    """Total above factor × median of the customer's previous `window` distinct orders."""
    rule = config.amount_spike
    if not rule.enabled or facts.total is None:
        return None
    previous = sorted(
        (
            (e["placed_at"], oid, e["total"])
            for oid, e in history.items()
            if oid != facts.order_id and e.get("total") is not None and e["placed_at"] < facts.placed_at
        ),
        reverse=True,
    )[: rule.window]
    if len(previous) < rule.min_history:
        return None
    median = statistics.median(Decimal(total) for _, _, total in previous)
    threshold = rule.factor * median
    if facts.total <= threshold:
        return None
    return Finding(
        "amount_spike",
        f"order total {facts.total} is above {rule.factor} x the median {median} of the customer's previous {len(previous)} orders",
        {
            "total": facts.total,
            "median": median,
            "factor": rule.factor,
            "threshold": threshold,
            "history_count": len(previous),
            "window": rule.window,
        },
    )


def below_floor_price(facts: OrderFacts, floor_prices: dict[str, Decimal | None], config: OrderAnomalyConfig) -> Finding | None:
    """Any line whose net unit price (after the line discount) is below the product's floor price."""
    if not config.below_floor_price.enabled:
        return None
    offending = []
    for line in facts.lines:
        floor = floor_prices.get(line.sku)
        if floor is not None and line.net_unit_price < Decimal(floor):
            offending.append(
                {"sku": line.sku, "line_id": line.line_id, "net_unit_price": line.net_unit_price, "floor_price": Decimal(floor)}
            )
    if not offending:
        return None
    first = offending[0]
    return Finding(
        "below_floor_price",
        f"{len(offending)} line(s) below floor price, e.g. {first['sku']} at {first['net_unit_price']} < {first['floor_price']}",
        {"lines": offending},
    )


def duplicate_order(facts: OrderFacts, history: dict[str, dict[str, Any]], config: OrderAnomalyConfig) -> Finding | None:
    """Another order, same customer, same (sku, quantity) multiset and total, placed within the window before."""
    rule = config.duplicate_order
    if not rule.enabled or facts.total is None or not facts.lines:
        return None
    placed = datetime.fromisoformat(facts.placed_at)
    signature = facts.signature()
    for oid, entry in sorted(history.items()):
        if oid == facts.order_id or entry.get("total") is None or Decimal(entry["total"]) != facts.total:
            continue
        gap = placed - datetime.fromisoformat(entry["placed_at"])
        if gap.total_seconds() < 0 or gap > rule.window:
            continue
        if sorted([sku, Decimal(qty)] for sku, qty in entry["lines"]) == signature:
            return Finding(
                "duplicate_order",
                f"same lines and total as order {oid} placed {gap} before",
                {
                    "duplicate_of": oid,
                    "total": facts.total,
                    "gap_seconds": Decimal(int(gap.total_seconds())),
                    "window_seconds": Decimal(int(rule.window.total_seconds())),
                },
            )
    return None


def credit_limit_exceeded(
    facts: OrderFacts, history: dict[str, dict[str, Any]], credit_limit: Decimal | None, config: OrderAnomalyConfig
) -> Finding | None:
    """Open orders (not paid/cancelled) including this one sum above the customer's credit limit."""
    rule = config.credit_limit_exceeded
    if not rule.enabled or credit_limit is None or facts.total is None:
        return None
    closed = rule.closed_statuses
    open_totals = [
        Decimal(e["total"])
        for oid, e in history.items()
        if oid != facts.order_id and e.get("total") is not None and is_open(e.get("status"), closed)
    ]
    if is_open(facts.status, closed):
        open_totals.append(facts.total)
    exposure = sum(open_totals, Decimal(0))
    if exposure <= Decimal(credit_limit):
        return None
    return Finding(
        "credit_limit_exceeded",
        f"open orders total {exposure} exceeds credit limit {credit_limit}",
        {"open_total": exposure, "credit_limit": Decimal(credit_limit), "open_orders": len(open_totals), "order_total": facts.total},
    )


def builtin_findings(
    facts: OrderFacts,
    history: dict[str, dict[str, Any]],
    floor_prices: dict[str, Decimal | None],
    credit_limit: Decimal | None,
    config: OrderAnomalyConfig,
) -> list[Finding]:
    if not config.enabled:
        return []
    found = [
        amount_spike(facts, history, config),
        below_floor_price(facts, floor_prices, config),
        duplicate_order(facts, history, config),
        credit_limit_exceeded(facts, history, credit_limit, config),
    ]
    return [f for f in found if f is not None]
