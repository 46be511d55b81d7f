"""`rebate.deviation_detected` / `rebate.deviation_resolved` (SPEC §2.3).

One state item per (distributor, period, policy), at ``rebate_basis_key(distributor, period, policy)``::

    {"distributor": str, "period": "YYYY-MM", "policy": str,
     "contributions": {"<entity>#<id>": Decimal},   # per sale (or sell-in order): re-delivery replaces
     "settlement": {"id": str, "amount": Decimal},  # absent until the ERP settles the period
     "reported": {"expected": Decimal, "settled": Decimal},  # the last pair reported, detected or resolved
     "open": bool,                                  # the last report was a detection (not yet resolved)
     "occurrence": int,                             # deviations opened so far: 1, 2, ... (a re-opening counts)
     "reports": int}                                # events reported so far; the n-th event's id comes from n

Keeping contributions keyed by sale id is what makes duplicates and corrections count once. Event
ids derive from (distributor, period, policy, n): the n-th report of a key always has the same id,
so a redelivered input never yields a second event, while a deviation that re-opens after its
resolution — even with the very pair reported before — is a new event with an id of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.canonical import OrderLine
from chalicelib.domain.events import CloudEvent
from chalicelib.triggers.config import RebatePolicy, Tier
from chalicelib.triggers.outcome import EventContext

DETECTED = "rebate.deviation_detected"
RESOLVED = "rebate.deviation_resolved"
CENT = Decimal("0.01")


def period_of(moment: datetime | str, timezone_name: str) -> str:
    """The calendar month (YYYY-MM) of a moment in the policy's time zone."""
    when = moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)
    return when.astimezone(ZoneInfo(timezone_name)).strftime("%Y-%m")


def contribution(fields: dict[str, Any], policy: RebatePolicy) -> Decimal:
    """Net amount of the eligible lines; returns and negative lines reduce it."""
    lines = fields.get("lines")
    if lines is None:
        total = fields.get("total")
        return Decimal(total) if total is not None and policy.skus is None else Decimal(0)
    parsed = (OrderLine.model_validate(line) for line in lines)
    return sum((line.net_amount for line in parsed if policy.covers_sku(line.sku)), Decimal(0))


def expected_rebate(basis: Decimal, policy: RebatePolicy) -> tuple[Decimal, Tier | None]:
    """The rebate the policy promises for this basis, rounded half-up to 0.01, and the tier reached."""
    reached = [tier for tier in policy.tiers if basis >= tier.start and basis > 0]
    if not reached:
        return Decimal("0.00"), None
    top = reached[-1]
    if policy.tier_mode == "all_units":
        amount = basis * top.rate
    else:
        amount = Decimal(0)
        for index, tier in enumerate(reached):
            upper = policy.tiers[index + 1].start if index + 1 < len(policy.tiers) else None
            ceiling = basis if upper is None else min(basis, upper)
            amount += (ceiling - tier.start) * tier.rate
    return amount.quantize(CENT, rounding=ROUND_HALF_UP), top


def tolerance(expected: Decimal, policy: RebatePolicy) -> Decimal:
    return max(policy.abs_tolerance, policy.pct_tolerance * abs(expected))


@dataclass(frozen=True)
class Check:
    basis: Decimal
    expected: Decimal
    settled: Decimal
    tier: Tier | None
    tolerance: Decimal

    @property
    def deviation(self) -> Decimal:
        return self.settled - self.expected

    @property
    def out_of_tolerance(self) -> bool:
        return abs(self.deviation) > self.tolerance


def check(item: dict[str, Any], policy: RebatePolicy) -> Check | None:
    settlement = item.get("settlement")
    if not settlement or settlement.get("amount") is None:
        return None
    basis = sum((Decimal(v) for v in item.get("contributions", {}).values()), Decimal(0))
    expected, tier = expected_rebate(basis, policy)
    return Check(basis, expected, Decimal(settlement["amount"]), tier, tolerance(expected, policy))


def evaluate(item: dict[str, Any], policy: RebatePolicy, ctx: EventContext) -> tuple[dict[str, Any], list[CloudEvent]]:
    """Compare expected and settled; returns the updated item and the events to emit (0 or 1)."""
    result = check(item, policy)
    if result is None:
        return item, []
    is_open = bool(item.get("open"))
    if result.out_of_tolerance and not (is_open and _last_pair(item) == (result.expected, result.settled)):
        occurrence = int(item.get("occurrence", 0)) + (0 if is_open else 1)
        return _report(item, result, ctx, DETECTED, open_=True, occurrence=occurrence)
    if not result.out_of_tolerance and is_open:
        return _report(item, result, ctx, RESOLVED, open_=False, occurrence=int(item.get("occurrence", 1)))
    return item, []


def _last_pair(item: dict[str, Any]) -> tuple[Decimal, Decimal] | None:
    reported = item.get("reported")
    return None if reported is None else (Decimal(reported["expected"]), Decimal(reported["settled"]))


def _report(
    item: dict[str, Any], result: Check, ctx: EventContext, event_type: str, *, open_: bool, occurrence: int
) -> tuple[dict[str, Any], list[CloudEvent]]:
    """The item after one more report, and the report's event (its id from the report's ordinal)."""
    number = int(item.get("reports", 0)) + 1
    updated = {
        **item,
        "reported": {"expected": result.expected, "settled": result.settled},
        "open": open_,
        "occurrence": occurrence,
        "reports": number,
    }
    parts = (item["distributor"], item["period"], item["policy"], str(number))
    data = {**_data(item, result), "occurrence": occurrence}
    return updated, [ctx.event(event_type, parts, item["settlement"]["id"], data)]


def _data(item: dict[str, Any], result: Check) -> dict[str, Any]:
    return {
        "distributor": item["distributor"],
        "period": item["period"],
        "policy": item["policy"],
        "basis": result.basis,
        "tier": result.tier.name if result.tier else None,
        "rate": result.tier.rate if result.tier else Decimal(0),
        "expected": result.expected,
        "settled": result.settled,
        "deviation": result.deviation,
        "tolerance": result.tolerance,
    }


def empty_item(distributor_id: str, period: str, policy: str) -> dict[str, Any]:
    return {"distributor": distributor_id, "period": period, "policy": policy, "contributions": {}, "open": False}
