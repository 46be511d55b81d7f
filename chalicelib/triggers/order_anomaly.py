"""`order.anomaly_detected` (SPEC §2.2): the four built-in order rules.

Amounts are compared like with like: an order's total only with the customer's previous orders in
the same currency, or, when the integrator gives a rate table, all converted into one currency.
An order that cannot be compared is not judged, and an audit note says why.

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

from chalicelib.triggers.config import AmountSpikeConfig, OrderAnomalyConfig
from chalicelib.triggers.order_history import OrderFacts, is_open
from chalicelib.triggers.outcome import AuditNote

EVENT_TYPE = "order.anomaly_detected"


@dataclass(frozen=True)
class Finding:
    rule: str
    reason: str
    evidence: dict[str, Any]
    event_type: str = EVENT_TYPE
    severity: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Comparison:
    """The order's total and its previous orders' totals in one currency, newest first."""

    total: Decimal | None  # None: the order's own currency cannot be compared
    previous: list[Decimal]
    compared_in: str | None
    rates: dict[str, Decimal]  # the rates used (convert mode only)
    left_out: dict[str, int]  # currency (or "no currency") -> previous orders not comparable
    prior_count: int  # previous orders in any currency


def _currency_name(currency: str | None) -> str:
    return currency or "no currency"


def _compare(facts: OrderFacts, history: dict[str, dict[str, Any]], config: AmountSpikeConfig) -> _Comparison:
    """Like with like: each currency on its own, or every order converted by the integrator's rate table."""
    prior = sorted(
        (
            (e["placed_at"], oid, e)
            for oid, e in history.items()
            if oid != facts.order_id and e.get("total") is not None and e["placed_at"] < facts.placed_at
        ),
        reverse=True,
        key=lambda item: (item[0], item[1]),
    )
    target = config.convert_to

    def rate(currency: str | None) -> Decimal | None:
        if target is None:
            return Decimal(1) if currency == facts.currency else None
        if currency is None:
            return None
        return Decimal(1) if currency == target else config.rates.get(currency)

    own = rate(facts.currency)
    previous: list[Decimal] = []
    used: dict[str, Decimal] = {}
    left_out: dict[str, int] = {}
    for _, _, entry in prior:
        currency = entry.get("currency")
        factor = rate(currency)
        if factor is None:
            left_out[_currency_name(currency)] = left_out.get(_currency_name(currency), 0) + 1
        elif len(previous) < config.window:
            previous.append(Decimal(entry["total"]) * factor)
            if target is not None and currency != target:
                used[str(currency)] = factor
    if own is not None and target is not None and facts.currency != target:
        used[str(facts.currency)] = own
    total = facts.total * own if own is not None and facts.total is not None else None
    return _Comparison(total, previous, target or facts.currency, used, left_out, len(prior))


def amount_spike(facts: OrderFacts, history: dict[str, dict[str, Any]], config: OrderAnomalyConfig) -> Finding | None:
    """Total above factor × median of the customer's previous `window` orders, in the same currency."""
    rule = config.amount_spike
    if not rule.enabled or facts.total is None:
        return None
    seen = _compare(facts, history, rule)
    if seen.total is None or len(seen.previous) < rule.min_history:
        return None
    median = statistics.median(seen.previous)
    threshold = rule.factor * median
    if seen.total <= threshold:
        return None
    evidence: dict[str, Any] = {
        "total": facts.total,
        "currency": facts.currency,
        "median": median,
        "factor": rule.factor,
        "threshold": threshold,
        "history_count": len(seen.previous),
        "window": rule.window,
    }
    amount = f"order total {facts.total}"
    if rule.convert_to is not None:
        evidence |= {"compared_in": rule.convert_to, "converted_total": seen.total, "rates": seen.rates}
        if facts.currency != rule.convert_to:
            amount += f" {facts.currency} ({seen.total} {rule.convert_to} at {seen.rates[str(facts.currency)]})"
        rates = ", ".join(f"{currency} {value}" for currency, value in sorted(seen.rates.items()))
        amount_in = f" in {rule.convert_to}" + (f" (rates: {rates})" if rates else "")
    else:
        amount_in = f" in {_currency_name(facts.currency)}"
    return Finding(
        "amount_spike",
        f"{amount} is above {rule.factor} x the median {median} of the customer's previous {len(seen.previous)} orders{amount_in}",
        evidence,
    )


def amount_spike_not_judged(facts: OrderFacts, history: dict[str, dict[str, Any]], config: OrderAnomalyConfig) -> AuditNote | None:
    """Say why an order with enough history was not judged: its currency, or its history's, cannot be compared."""
    rule = config.amount_spike
    if not config.enabled or not rule.enabled or facts.total is None:
        return None
    seen = _compare(facts, history, rule)
    if seen.prior_count < rule.min_history or (seen.total is not None and len(seen.previous) >= rule.min_history):
        return None  # too little history in any currency, or judged
    currency = _currency_name(facts.currency)
    others = sum(seen.left_out.values())
    listed = ", ".join(f"{count} in {name}" for name, count in sorted(seen.left_out.items()))
    if rule.convert_to is None:
        why = (
            f"the customer's previous orders in {currency} are too few ({len(seen.previous)} < {rule.min_history}) and {listed} "
            f"cannot be compared with it; a rate table under order_anomaly.amount_spike.convert would compare them"
        )
    elif seen.total is None:
        why = f"no rate for {currency} in order_anomaly.amount_spike.convert (orders are compared in {rule.convert_to})"
    else:
        why = (
            f"too few previous orders convertible to {rule.convert_to} ({len(seen.previous)} < {rule.min_history}); "
            f"no rate in order_anomaly.amount_spike.convert for {listed}"
        )
    return AuditNote(
        "rule_not_judged",
        f"amount_spike not judged for order {facts.order_id}: {why}",
        {"rule": "amount_spike", "order_id": facts.order_id, "currency": facts.currency, "other_currencies": others},
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
