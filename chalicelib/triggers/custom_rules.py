"""Custom order rules declared in configuration: a condition over order, customer and product.

A rule that mentions `product` or `line` is checked once per order line (with that line's product
master); it fires if any line matches. Otherwise it is checked once for the order.
"""

from __future__ import annotations

from typing import Any

from chalicelib.triggers.config import CustomRule
from chalicelib.triggers.order_anomaly import Finding


def findings(
    rules: tuple[CustomRule, ...], order: dict[str, Any], customer: dict[str, Any] | None, products: dict[str, dict[str, Any] | None]
) -> list[Finding]:
    found = []
    for rule in rules:
        match = _match(rule, order, customer, products)
        if match is not None:
            found.append(
                Finding(
                    rule.name,
                    f"custom rule {rule.name!r} matched: {rule.source}",
                    {"condition": rule.source, **match},
                    event_type=rule.event_type,
                    severity=rule.severity,
                )
            )
    return found


def _match(
    rule: CustomRule, order: dict[str, Any], customer: dict[str, Any] | None, products: dict[str, dict[str, Any] | None]
) -> dict[str, Any] | None:
    env = {"order": order, "customer": customer or {}}
    if not ({"product", "line"} & rule.condition.names):
        return _evidence(order, customer) if rule.condition.evaluate(env) else None
    for line in order.get("lines") or []:
        product = products.get(line.get("sku")) or {}
        if rule.condition.evaluate({**env, "line": line, "product": product}):
            return {**_evidence(order, customer), "sku": line.get("sku")}
    return None


def _evidence(order: dict[str, Any], customer: dict[str, Any] | None) -> dict[str, Any]:
    return {"order_total": order.get("total"), "customer_grade": (customer or {}).get("grade")}
