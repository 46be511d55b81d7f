"""Seeded traffic for the rules in time, and what the SPEC (§2.5) says each rule must fire on it.

Three populations, each labelled independently of the rules engine:
- leads, each with one of: no contact, a call in time, a call in time delivered late (inside or
  past the 5-minute grace), a call after the deadline, an e-mail instead of a call;
- customers with bursts of page views (pricing and other pages, re-sent events among them);
- opportunities that move to negotiation with or without the meeting, the quote and the amount.

The expectation is computed here from the arrival times alone, with the rules' parameters as
constants (15 min + 5 min grace; 3 pricing views in 24 h; the negotiation gate's requirements).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
WITHIN, GRACE = timedelta(minutes=15), timedelta(minutes=5)
WINDOW, THRESHOLD = timedelta(hours=24), 3

Arrival = tuple[datetime, str, str, str, datetime, dict[str, Any]]  # arrival, entity, id, system, source time, fields
Key = tuple[Any, ...]


@dataclass
class RulesTraffic:
    arrivals: list[Arrival] = field(default_factory=list)
    expected: list[Key] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, arrives: datetime, entity: str, entity_id: str, at: datetime, fields: dict[str, Any]) -> None:
        self.arrivals.append((arrives, entity, entity_id, "bench", at, fields))

    def count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1


def generate(seed: int, leads: int = 300, customers: int = 100, opportunities: int = 200) -> RulesTraffic:
    rng = random.Random(seed)
    traffic = RulesTraffic()
    for n in range(leads):
        _lead(rng, traffic, n)
    for n in range(customers):
        _views(rng, traffic, n)
    for n in range(opportunities):
        _opportunity(rng, traffic, n)
    traffic.arrivals.sort(key=lambda a: (a[0], a[2]))
    return traffic


def _seconds(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(seconds=rng.randint(low, high) * 2 + 1)  # odd seconds: never exactly on a due time


def _lead(rng: random.Random, traffic: RulesTraffic, n: int) -> None:
    lead = f"L{n:05d}"
    armed = START + timedelta(minutes=7 * n) + timedelta(seconds=rng.randint(0, 59))
    traffic.add(armed, "lead", lead, armed, {"status": "new", "owner": "005A"})
    due, fire_at = armed + WITHIN, armed + WITHIN + GRACE
    case = rng.choice(["none", "in_time", "late_delivery", "after_deadline", "email"])
    traffic.count(f"leads: {case}")
    if case == "none":
        traffic.expected.append(("lead_not_contacted", lead))
        return
    if case == "email":
        at = armed + _seconds(rng, 10, 400)
        traffic.add(at, "activity", f"E{n:05d}", at, {"type": "email", "lead_id": lead})
        traffic.expected.append(("lead_not_contacted", lead))
        return
    if case == "after_deadline":
        at = due + _seconds(rng, 1, 600)
        traffic.add(at, "activity", f"C{n:05d}", at, {"type": "call", "lead_id": lead})
        traffic.expected.append(("lead_not_contacted", lead))
        return
    at = armed + _seconds(rng, 0, 449)  # within the 15 minutes
    arrives = at if case == "in_time" else at + timedelta(seconds=2 * rng.randint(0, 900))  # odd + even: never on due + grace
    traffic.add(arrives, "activity", f"C{n:05d}", at, {"type": "call", "lead_id": lead})
    if arrives > fire_at:  # in time, but known only after the deadline fired
        traffic.expected += [("lead_not_contacted", lead), ("lead_not_contacted/resolved_late", lead)]


def _views(rng: random.Random, traffic: RulesTraffic, n: int) -> None:
    customer = f"K{n:05d}"
    moment = START + timedelta(minutes=rng.randint(0, 600))
    pricing: list[datetime] = []
    for v in range(rng.randint(1, 9)):
        moment += timedelta(minutes=rng.choice([5, 30, 90, 300, 900, 1800]))
        page = rng.choice(["/pricing", "/pricing/enterprise", "/blog", "/docs"])
        event_id = f"V{n:05d}-{v}"
        view = {"type": "page_view", "page": page, "customer_id": customer}
        traffic.add(moment, "activity", event_id, moment, view)
        if rng.random() < 0.1:  # re-sent by the tracker
            traffic.add(moment + timedelta(seconds=3), "activity", event_id, moment, view)
        if page.startswith("/pricing"):
            pricing.append(moment)
    holding = False
    for t in pricing:
        holds = sum(1 for s in pricing if t - WINDOW < s <= t) >= THRESHOLD
        if holds and not holding:
            traffic.expected.append(("pricing_interest", customer, t))
        holding = holds
    traffic.count("customers viewing pages")


def _opportunity(rng: random.Random, traffic: RulesTraffic, n: int) -> None:
    opportunity = f"O{n:05d}"
    created = START + timedelta(minutes=11 * n)
    amount = rng.choice([None, "50000"]) if rng.random() < 0.2 else "50000"
    traffic.add(created, "opportunity", opportunity, created, {"stage": "qualification", "owner": "005A", "amount": amount})
    moved = created + timedelta(hours=3)
    missing = [] if amount else ["amount"]
    meeting, quote = rng.random() < 0.6, rng.random() < 0.7
    if meeting:
        at = created + timedelta(hours=1) if rng.random() < 0.85 else moved + timedelta(minutes=10)  # sometimes only after the move
        traffic.add(at, "activity", f"M{n:05d}", at, {"type": "meeting", "status": "completed", "opportunity_id": opportunity})
        if at >= moved:
            meeting = False
    if quote:
        at = created + timedelta(hours=2)
        traffic.add(at, "activity", f"Q{n:05d}", at, {"type": "quote", "opportunity_id": opportunity})
    if not meeting:
        missing.append("needs_confirmation_meeting")
    if not quote:
        missing.append("quote")
    traffic.add(moved, "opportunity", opportunity, moved, {"stage": "negotiation", "owner": "005A", "amount": amount})
    if missing:
        traffic.expected.append(("negotiation_gate", opportunity, tuple(missing)))
    traffic.count("opportunities moved to negotiation")


def event_key(event: Any) -> Key:
    data = event.data or {}
    rule = data.get("rule")
    if event.type.endswith(".resolved_late"):
        return (f"{rule}/resolved_late", event.subject)
    if rule == "pricing_interest":
        return (rule, event.subject, event.time)
    if rule == "negotiation_gate":
        return (rule, event.subject, tuple(m["name"] for m in data["missing"]))
    return (str(rule), event.subject)
