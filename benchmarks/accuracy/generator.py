"""Seeded, realistic traffic at the CanonicalRecord level, in the order it would be delivered.

What makes it realistic (and hard): customers from a CRM (grade owner) and an ERP (credit limit
owner, plus its own grade opinion), grade vocabulary variants that map to the same level, a few
unknown grade values, products with floor prices, orders with status updates and line corrections,
orders a CRM also reports (non-owner), planted spikes, under-floor discounts, duplicate orders at and
around the window, credit-limit pressure, POS sales with returns, corrections and sales near month
ends (time zones matter), late sales after the settlement, settlements that are right, slightly off,
or wrong and later corrected (and some corrections reverted, so a resolved deviation re-opens with
the very pair reported before) — and deliveries that are redelivered (same dedupe key), repeated by a
second channel (same content, new dedupe key), or delayed behind a newer version (stale).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.canonical import CanonicalRecord, SourceRef

UTC = UTC
SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 1, 1, tzinfo=SHANGHAI).astimezone(UTC)
CENT = Decimal("0.01")
LEVELS = ["D", "C", "B", "A", "S"]
# Source vocabularies as the mapping engine resolves them (after trim + case-fold).
VOCABULARY = {
    "D": ["D", "Bronze", "bronze ", "铜牌"],
    "C": ["C", "Silver", "SILVER", "银牌"],
    "B": ["B", "Gold", " gold", "金牌"],
    "A": ["A", "Platinum", "白金"],
    "S": ["S", "Diamond", "钻石"],
}
UNKNOWN_GRADES = ["VIP+", "黑卡"]


def money(value: Decimal | float | int) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Delivery:
    at: datetime
    seq: int
    dedupe_key: str
    entity_id: str
    record: CanonicalRecord


@dataclass
class Traffic:
    deliveries: list[Delivery]
    sell_in_distributors: list[str]
    sell_in_skus: list[str]
    counts: dict[str, int] = field(default_factory=dict)


class Generator:
    def __init__(self, seed: int, customers: int):
        self.rng = random.Random(seed)
        self.n_customers = customers
        self.deliveries: list[Delivery] = []
        self.seq = 0
        self.counts: dict[str, int] = {}
        self.products: dict[str, tuple[Decimal, Decimal]] = {}  # sku -> (list, floor)

    # ------------------------------------------------------------------ delivery mechanics

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def emit(
        self,
        entity: str,
        entity_id: str,
        system: str,
        source_time: datetime,
        fields: dict[str, Any],
        *,
        delay: timedelta | None = None,
        key_suffix: str = "",
    ) -> None:
        """One source version, delivered after a short lag, sometimes twice or through two channels."""
        record = CanonicalRecord(
            entity=entity,
            source=SourceRef(system=system, entity=entity, id=f"{system}-{entity_id}"),
            source_time=source_time,
            fields=fields,
            mapping=f"{system}_{entity}",
            mapping_version=f"{system}-v3",
        )
        key = f"{system}:{entity}:{entity_id}:{source_time.isoformat()}{key_suffix}"
        lag = delay if delay is not None else timedelta(seconds=self.rng.randint(1, 30))
        self._deliver(source_time + lag, key, entity_id, record)
        self._count(f"records.{entity}")
        if self.rng.random() < 0.05:
            self._deliver(source_time + lag + timedelta(seconds=self.rng.randint(1, 600)), key, entity_id, record)
            self._count("redelivered (same dedupe key)")
        if self.rng.random() < 0.05:
            later = source_time + lag + timedelta(seconds=self.rng.randint(60, 7200))
            self._deliver(later, f"sync:{key}", entity_id, record)
            self._count("second channel (same content)")

    def _deliver(self, at: datetime, key: str, entity_id: str, record: CanonicalRecord) -> None:
        self.seq += 1
        self.deliveries.append(Delivery(at, self.seq, key, entity_id, record))

    # ------------------------------------------------------------------ master data

    def make_products(self, n: int) -> list[str]:
        for i in range(n):
            sku = f"SKU-{1000 + i}"
            list_price = money(Decimal(self.rng.randint(1000, 40000)) / 100)
            floor = money(list_price * Decimal("0.8"))
            self.products[sku] = (list_price, floor)
            self.emit(
                "product",
                sku,
                "erp",
                START - timedelta(days=2),
                {"sku": sku, "name": f"Product {i}", "list_price": list_price, "floor_price": floor, "active": True},
            )
        return list(self.products)

    def make_customer(self, cid: str, distributor: bool) -> None:
        rng = self.rng
        when = START + timedelta(hours=rng.randint(0, 24 * 5))
        level = rng.choice(LEVELS)
        versions = []
        for step in range(rng.randint(1, 5)):
            if step and rng.random() < 0.6:
                level = rng.choice([g for g in LEVELS if g != level])
            raw = rng.choice(VOCABULARY[level])
            if rng.random() < 0.005:
                raw = rng.choice(UNKNOWN_GRADES)
            versions.append((when, raw))
            when += timedelta(days=rng.randint(1, 20), seconds=rng.randint(0, 86400))
        for index, (moment, raw) in enumerate(versions):
            grade = self.resolve_grade(raw)
            delay = None
            if index + 1 < len(versions) and rng.random() < 0.06:  # overtaken by the next version: stale
                delay = versions[index + 1][0] - moment + timedelta(seconds=rng.randint(60, 3600))
                self._count("delayed behind a newer version")
            self.emit("customer", cid, "crm", moment, {"name": f"Customer {cid}", "grade": grade}, delay=delay)
            if rng.random() < 0.03:  # a conflicting value with the same source timestamp: stale (<=)
                other = rng.choice([g for g in LEVELS if g != grade])
                self.emit(
                    "customer",
                    f"{cid}",
                    "crm",
                    moment,
                    {"name": f"Customer {cid}", "grade": other},
                    delay=timedelta(minutes=rng.randint(5, 60)),
                    key_suffix=":conflict",
                )
                self._count("same timestamp, other value")
        limit = money(rng.choice([5000, 20000, 50000, 100000, 300000]))
        erp_fields = {
            "name": f"CUSTOMER {cid}",
            "credit_limit": limit,
            "is_distributor": distributor,
            "grade": rng.choice(LEVELS),
        }  # the ERP's own grade: not the owner
        self.emit("customer", cid, "erp", START + timedelta(hours=rng.randint(-48, 30)), erp_fields)

    @staticmethod
    def resolve_grade(raw: str) -> str:
        """What the mapping's vocabulary yields: a level, or the raw value when unknown (quarantine)."""
        folded = raw.strip().casefold()
        for level, words in VOCABULARY.items():
            if folded in {w.strip().casefold() for w in words}:
                return level
        return raw

    # ------------------------------------------------------------------ orders

    def _lines(self, skus: list[str], size: int) -> list[dict[str, Any]]:
        lines = []
        for number, sku in enumerate(self.rng.sample(skus, self.rng.randint(1, 4))):
            list_price, _ = self.products[sku]
            qty = Decimal(self.rng.randint(1, 10) * size)
            discount = money(list_price * qty * Decimal(self.rng.choice(["0", "0.02", "0.05", "0.1"])))
            lines.append({"line_id": str(number + 1), "sku": sku, "quantity": qty, "unit_price": list_price, "discount": discount})
        return lines

    @staticmethod
    def total(lines: list[dict[str, Any]]) -> Decimal:
        return sum((line["unit_price"] * line["quantity"] - line["discount"] for line in lines), Decimal(0))

    def make_orders(self, cid: str, skus: list[str]) -> None:
        rng = self.rng
        placed = START + timedelta(hours=rng.randint(1, 24 * 10), seconds=rng.randint(0, 3599))
        count = rng.choice([0, 1, 3, 5, 6, 8, 10, 12, 15, 20, 26, 30])
        for n in range(count):
            oid = f"ord-{cid}-{n:03d}"
            plant = rng.random()
            lines = self._lines(skus, size=rng.randint(8, 15) if plant < 0.04 else 1)
            if 0.04 <= plant < 0.07:  # discount below the floor
                line = lines[0]
                line["discount"] = money(line["unit_price"] * line["quantity"] * Decimal(rng.choice(["0.2", "0.25", "0.3"])))
                self._count("planted: below floor (maybe)")
            elif 0.07 <= plant < 0.08:  # exactly at the floor: not an anomaly
                line = lines[0]
                _, floor = self.products[line["sku"]]
                line["discount"] = (line["unit_price"] - floor) * line["quantity"]
                self._count("planted: exactly at floor")
            self._order_versions(oid, cid, placed, lines)
            if rng.random() < 0.04:  # the same order entered again
                gap = rng.choice(
                    [
                        timedelta(seconds=30),
                        timedelta(minutes=5),
                        timedelta(minutes=10),
                        timedelta(minutes=10, seconds=1),
                        timedelta(minutes=25),
                    ]
                )
                self._order_versions(f"{oid}-dup", cid, placed + gap, [dict(line) for line in lines])
                self._count("planted: duplicate order")
            placed += timedelta(hours=rng.randint(2, 24 * 6), seconds=rng.randint(0, 3599))

    def _order_versions(self, oid: str, cid: str, placed: datetime, lines: list[dict[str, Any]]) -> None:
        rng = self.rng

        def fields(status: str, order_lines: list[dict[str, Any]]) -> dict[str, Any]:
            return {
                "order_number": oid.upper(),
                "customer_id": cid,
                "placed_at": placed,
                "status": status,
                "currency": "CNY",
                "total": self.total(order_lines),
                "lines": [dict(ln) for ln in order_lines],
            }

        first = placed + timedelta(seconds=rng.randint(0, 90))
        versions = [(first, fields("open", lines))]
        if rng.random() < 0.1:  # a line corrected a few hours later
            corrected = [dict(ln) for ln in lines]
            corrected[0]["quantity"] = corrected[0]["quantity"] + rng.randint(1, 30)
            versions.append((first + timedelta(hours=rng.randint(1, 6)), fields("open", corrected)))
            lines = corrected
        outcome = rng.random()
        if outcome < 0.75:
            versions.append((first + timedelta(days=rng.randint(1, 12)), fields("paid", lines)))
        elif outcome < 0.8:
            versions.append((first + timedelta(days=rng.randint(0, 3), hours=1), fields("cancelled", lines)))
        for index, (moment, data) in enumerate(versions):
            delay = None
            if index + 1 < len(versions) and rng.random() < 0.04:
                delay = versions[index + 1][0] - moment + timedelta(seconds=rng.randint(60, 3600))
                self._count("delayed behind a newer version")
            self.emit("order", oid, "erp", moment, data, delay=delay)
        if rng.random() < 0.1:  # the CRM's view of the same deal: not the owner of orders
            crm = fields("won", lines)
            crm["total"] = money(crm["total"] * Decimal("1.1"))
            self.emit("order", oid, "crm", first - timedelta(minutes=rng.randint(1, 60)), crm)

    # ------------------------------------------------------------------ POS sales and settlements

    def make_sales(self, distributor: str, skus: list[str], months: list[datetime]) -> dict[str, datetime]:
        """Sales per month; returns the time each month's settlement will be issued."""
        rng = self.rng
        settle_at = {}
        for month_start in months:
            next_month = (month_start + timedelta(days=32)).replace(day=1)
            settle_at[month_start.strftime("%Y-%m")] = next_month + timedelta(days=rng.randint(2, 8), hours=rng.randint(9, 17))
            span = (next_month - month_start).total_seconds()
            for n in range(rng.randint(8, 40)):
                sid = f"sale-{distributor}-{month_start:%Y%m}-{n:03d}"
                if rng.random() < 0.1:  # in the last hours of the month (UTC), i.e. next month in Shanghai
                    # around midnight in Shanghai: the same day in UTC, so the time zone decides the period
                    sold = next_month + timedelta(minutes=rng.randint(-180, 470))
                    self._count("sales near month end")
                else:
                    sold = month_start + timedelta(seconds=rng.randint(0, int(span) - 1))
                lines = []
                sign = -1 if rng.random() < 0.07 else 1
                if sign < 0:
                    self._count("returns")
                for sku in rng.sample(skus, rng.randint(1, 3)):
                    list_price, _ = self.products[sku]
                    lines.append(
                        {
                            "sku": sku,
                            "quantity": Decimal(sign * rng.randint(1, 40)),
                            "unit_price": money(list_price * Decimal("0.9")),
                            "discount": Decimal("0"),
                        }
                    )
                reported = sold.astimezone(UTC) + timedelta(minutes=rng.randint(1, 180))
                period_settle = settle_at[month_start.strftime("%Y-%m")]
                if rng.random() < 0.08:  # reported after the settlement
                    reported = period_settle + timedelta(days=rng.randint(1, 10), minutes=rng.randint(0, 600))
                    self._count("late sales")
                fields = {"distributor_id": distributor, "sold_at": sold, "currency": "CNY", "lines": lines}
                self.emit("pos_sale", sid, "pos", reported, fields)
                if rng.random() < 0.05:  # corrected later
                    corrected = [dict(ln) for ln in lines]
                    corrected[0]["quantity"] = corrected[0]["quantity"] + sign * rng.randint(1, 5)
                    self.emit("pos_sale", sid, "pos", reported + timedelta(hours=rng.randint(1, 72)), {**fields, "lines": corrected})
                    self._count("corrected sales")
        return settle_at

    def make_settlement(self, distributor: str, period: str, policy: str, when: datetime, fair: Decimal) -> None:
        rng = self.rng
        sid = f"stl-{distributor}-{period}-{policy}"
        roll = rng.random()
        if roll < 0.55:
            amount = fair
        elif roll < 0.7:
            amount = fair + money(Decimal(rng.choice(["-0.5", "0.3", "1.00", "-1.00"])))
        else:
            amount = money(fair * Decimal(rng.choice(["0.8", "0.95", "1.02", "1.2"])))
        fields = {"distributor_id": distributor, "period": period, "policy": policy, "settled_amount": amount, "currency": "CNY"}
        self.emit("rebate_settlement", sid, "erp", when, fields)
        if rng.random() < 0.2:  # corrected settlement
            fixed = {**fields, "settled_amount": fair if rng.random() < 0.7 else money(fair * Decimal("1.1"))}
            fixed_at = when + timedelta(days=rng.randint(3, 20))
            self.emit("rebate_settlement", sid, "erp", fixed_at, fixed)
            self._count("corrected settlements")
            if fixed["settled_amount"] != amount and rng.random() < 0.5:  # the correction reverted: the same pair again
                self.emit("rebate_settlement", sid, "erp", fixed_at + timedelta(days=rng.randint(1, 5)), fields)
                self._count("reverted settlement corrections")


def generate(seed: int, customers: int) -> Traffic:
    """The whole labelled stream, sorted by delivery time."""
    from benchmarks.accuracy.expectation import fair_rebates  # the generator's own arithmetic, not the triggers'

    gen = Generator(seed, customers)
    skus = gen.make_products(max(40, customers // 10))
    ids = [f"cust-{i:05d}" for i in range(customers)]
    distributors = [cid for i, cid in enumerate(ids) if i % 10 == 0]
    sell_in_distributors = distributors[: max(1, len(distributors) // 2)]
    sell_in_skus = skus[: len(skus) // 4]
    months = [datetime(2026, m, 1, tzinfo=SHANGHAI) for m in (1, 2, 3)]
    settle_times: dict[str, dict[str, datetime]] = {}
    for cid in ids:
        gen.make_customer(cid, cid in distributors)
        gen.make_orders(cid, skus)
    for cid in distributors:
        settle_times[cid] = gen.make_sales(cid, skus, months)
    fair = fair_rebates(gen.deliveries, sell_in_distributors, sell_in_skus)
    for (distributor, period, policy), amount in sorted(fair.items()):
        when = settle_times.get(distributor, {}).get(period)
        if when is not None:
            gen.make_settlement(distributor, period, policy, when, amount)
    deliveries = sorted(gen.deliveries, key=lambda d: (d.at, d.seq))
    return Traffic(deliveries, sell_in_distributors, sell_in_skus, gen.counts)
