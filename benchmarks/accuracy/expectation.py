"""The independent expectation: what an exact reading of SPEC §2 says must fire on this stream.

Deliberately written without the trigger modules — plain dicts and loops over the deliveries in the
order they arrive, so a mistake in the triggers cannot hide behind the same mistake here.
Parameters are the SPEC defaults and the benchmark's configuration (see config.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

LEVELS = ["D", "C", "B", "A", "S"]
SHANGHAI = ZoneInfo("Asia/Shanghai")
SPIKE_FACTOR, SPIKE_WINDOW, SPIKE_MIN = Decimal(3), 20, 5
DUPLICATE_WINDOW = timedelta(minutes=10)
CLOSED = {"paid", "cancelled"}
ABS_TOL, PCT_TOL = Decimal("1.00"), Decimal("0.005")
ST, SI = "st-monthly", "si-key-skus"
POLICY_TIERS = {
    ST: ("all_units", [(Decimal(0), Decimal("0.01")), (Decimal(20000), Decimal("0.02")), (Decimal(50000), Decimal("0.03"))]),
    SI: ("incremental", [(Decimal(0), Decimal("0.005")), (Decimal(30000), Decimal("0.015"))]),
}

Key = tuple[Any, ...]


def rebate_for(basis: Decimal, policy: str) -> Decimal:
    mode, tiers = POLICY_TIERS[policy]
    value = Decimal(0)
    if basis > 0:
        if mode == "all_units":
            rate = Decimal(0)
            for start, tier_rate in tiers:
                if basis >= start:
                    rate = tier_rate
            value = basis * rate
        else:
            for i, (start, tier_rate) in enumerate(tiers):
                end = tiers[i + 1][0] if i + 1 < len(tiers) else basis
                if basis > start:
                    value += (min(basis, end) - start) * tier_rate
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def net(line: dict[str, Any]) -> Decimal:
    return line["unit_price"] * line["quantity"] - line.get("discount", Decimal(0))


def month(moment) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m")


def median(values: list[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def basis_amount(entity: str, fields: dict[str, Any], policy: str, sell_in_skus: set[str]) -> Decimal:
    if entity == "order":
        if fields.get("status") == "cancelled":
            return Decimal(0)
        return sum((net(ln) for ln in fields["lines"] if ln["sku"] in sell_in_skus), Decimal(0))
    return sum((net(ln) for ln in fields["lines"]), Decimal(0))


def fair_rebates(deliveries: Iterable[Any], sell_in_distributors: list[str], sell_in_skus: list[str]) -> dict[Key, Decimal]:
    """The rebate each (distributor, period, policy) earns on the final versions of its sales."""
    final: dict[tuple[str, str], Any] = {}
    for d in deliveries:
        r = d.record
        if r.entity in ("pos_sale", "order") and r.source.system in ("pos", "erp"):
            key = (r.entity, d.entity_id)
            if key not in final or final[key].source_time < r.source_time:
                final[key] = r
    basis: dict[Key, Decimal] = {}
    skus, dists = set(sell_in_skus), set(sell_in_distributors)
    for (entity, _), r in final.items():
        if entity == "pos_sale":
            key = (r.fields["distributor_id"], month(r.fields["sold_at"]), ST)
        elif r.fields["customer_id"] in dists:
            key = (r.fields["customer_id"], month(r.fields["placed_at"]), SI)
        else:
            continue
        basis[key] = basis.get(key, Decimal(0)) + basis_amount(entity, r.fields, key[2], skus)
    return {key: rebate_for(amount, key[2]) for key, amount in basis.items()}


class Reference:
    """Replays the deliveries with the exact rules and records every event that must fire."""

    def __init__(self, sell_in_distributors: list[str], sell_in_skus: list[str]):
        self.si_dists, self.si_skus = set(sell_in_distributors), set(sell_in_skus)
        self.seen: set[str] = set()
        self.last: dict[tuple[str, str, str], Any] = {}
        self.grade: dict[str, str] = {}
        self.credit: dict[str, Decimal] = {}
        self.floor: dict[str, Decimal] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.history: dict[str, dict[str, dict[str, Any]]] = {}
        self.fired: set[tuple[str, str]] = set()
        self.contrib: dict[Key, dict[str, Decimal]] = {}
        self.settled: dict[Key, Decimal] = {}
        self.reported: dict[Key, tuple[Decimal, Decimal]] = {}
        self.open: dict[Key, bool] = {}
        self.expected: list[Key] = []

    def feed(self, delivery: Any) -> None:
        if delivery.dedupe_key in self.seen:
            return
        self.seen.add(delivery.dedupe_key)
        r, eid = delivery.record, delivery.entity_id
        if r.entity == "customer" and r.fields.get("grade") not in (None, *LEVELS):
            return  # quarantined: not applied
        who = (r.entity, eid, r.source.system)
        if who in self.last and r.source_time <= self.last[who]:
            return  # stale or duplicate
        self.last[who] = r.source_time
        getattr(self, f"_{r.entity}")(eid, r)

    def _customer(self, cid: str, r: Any) -> None:
        if r.source.system == "crm":
            previous, current = self.grade.get(cid), r.fields["grade"]
            self.grade[cid] = current
            if previous is not None and previous != current:
                self.expected.append(("grade_changed", cid, previous, current, r.source_time))
        elif r.source.system == "erp":
            self.credit[cid] = r.fields["credit_limit"]

    def _product(self, sku: str, r: Any) -> None:
        self.floor[sku] = r.fields["floor_price"]

    def _order(self, oid: str, r: Any) -> None:
        if r.source.system != "erp":
            return  # the ERP owns orders
        f = r.fields
        before = self.orders.get(oid)
        cid = f["customer_id"]
        history = self.history.setdefault(cid, {})
        if before is None or before["lines"] != f["lines"] or before["total"] != f["total"]:
            for rule in self._rules(oid, f, history):
                if (oid, rule) not in self.fired:
                    self.fired.add((oid, rule))
                    self.expected.append((f"order_anomaly/{rule}", oid))
        self.orders[oid] = f
        history[oid] = f
        if cid in self.si_dists:
            key = (cid, month(f["placed_at"]), SI)
            self.contrib.setdefault(key, {})[f"order#{oid}"] = basis_amount("order", f, SI, self.si_skus)
            self._check(key)

    def _rules(self, oid: str, f: dict[str, Any], history: dict[str, dict[str, Any]]) -> list[str]:
        rules = []
        others = [o for other, o in history.items() if other != oid]
        earlier = sorted((o for o in others if o["placed_at"] < f["placed_at"]), key=lambda o: o["placed_at"])
        window = [o["total"] for o in earlier[-SPIKE_WINDOW:]]
        if len(window) >= SPIKE_MIN and f["total"] > SPIKE_FACTOR * median(window):
            rules.append("amount_spike")
        for line in f["lines"]:
            floor = self.floor.get(line["sku"])
            price = line["unit_price"] - line["discount"] / line["quantity"]
            if floor is not None and price < floor:
                rules.append("below_floor_price")
                break
        shape = sorted((ln["sku"], ln["quantity"]) for ln in f["lines"])
        for o in others:
            gap = f["placed_at"] - o["placed_at"]
            if (
                o["total"] == f["total"]
                and timedelta(0) <= gap <= DUPLICATE_WINDOW
                and sorted((ln["sku"], ln["quantity"]) for ln in o["lines"]) == shape
            ):
                rules.append("duplicate_order")
                break
        limit = self.credit.get(f["customer_id"])
        if limit is not None:
            exposure = sum((o["total"] for o in others if o["status"] not in CLOSED), Decimal(0))
            if f["status"] not in CLOSED:
                exposure += f["total"]
            if exposure > limit:
                rules.append("credit_limit_exceeded")
        if self.grade.get(f["customer_id"]) == "D" and f["total"] > 20000:
            rules.append("big_order_grade_d")
        return rules

    def _pos_sale(self, sid: str, r: Any) -> None:
        key = (r.fields["distributor_id"], month(r.fields["sold_at"]), ST)
        self.contrib.setdefault(key, {})[f"pos_sale#{sid}"] = basis_amount("pos_sale", r.fields, ST, self.si_skus)
        self._check(key)

    def _rebate_settlement(self, _: str, r: Any) -> None:
        key = (r.fields["distributor_id"], r.fields["period"], r.fields["policy"])
        self.settled[key] = r.fields["settled_amount"]
        self._check(key)

    def _check(self, key: Key) -> None:
        if key not in self.settled:
            return
        expected = rebate_for(sum(self.contrib.get(key, {}).values(), Decimal(0)), key[2])
        settled = self.settled[key]
        out = abs(settled - expected) > max(ABS_TOL, PCT_TOL * expected)
        # "The last pair reported" includes a resolution: a deviation re-opening after it fires again.
        if out and self.reported.get(key) != (expected, settled):
            self.reported[key] = (expected, settled)
            self.open[key] = True
            self.expected.append(("rebate/deviation_detected", *key, expected, settled))
        elif not out and self.open.get(key):
            self.reported[key] = (expected, settled)
            self.open[key] = False
            self.expected.append(("rebate/deviation_resolved", *key, expected, settled))


def expected_events(deliveries: Iterable[Any], sell_in_distributors: list[str], sell_in_skus: list[str]) -> list[Key]:
    reference = Reference(sell_in_distributors, sell_in_skus)
    for delivery in deliveries:
        reference.feed(delivery)
    return reference.expected
