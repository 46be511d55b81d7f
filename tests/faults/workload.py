"""The reference workload: a mix of record types that makes every trigger path and outcome happen.

Phases are drained one after the other (the queue orders per entity only; an order's anomaly check
depends on the orders already applied for its customer, so phases fix that cross-entity order).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.stack import demo_body, demo_signature


def order_body(
    order_id: str,
    *,
    customer: str = "C-1",
    placed_at: str = "2026-11-03T10:00:00+08:00",
    updated_at: str | None = None,
    status: str = "open",
    total: str = "100.00",
    lines: list[dict[str, Any]] | None = None,
    event_id: str | None = None,
) -> bytes:
    order = {
        "id": order_id,
        "number": f"SO-{order_id}",
        "customer": customer,
        "placed_at": placed_at,
        "updated_at": updated_at or placed_at,
        "status": status,
        "currency": "CNY",
        "total": total,
        "lines": lines or [{"id": "1", "sku": "SKU-1", "qty": "2", "price": "50.00"}],
    }
    return json.dumps({"event_id": event_id or f"erp-{order_id}-{order['updated_at']}", "order": order}).encode()


T1, T2, T0 = "2026-11-01T08:00:00+08:00", "2026-11-02T08:00:00+08:00", "2026-10-30T08:00:00+08:00"

C1_GOLD = demo_body("C-1", "Gold", T1)
C2_SILVER = demo_body("C-2", "Silver", T1)
C3_TITANIUM = demo_body("C-3", "Titanium", T1)  # unknown tier: quarantined
FORGED = demo_body("C-9", "Gold", T1)
C1_PLATINUM = demo_body("C-1", "Platinum", T2)  # A -> S: customer.grade_changed
C2_BRONZE = demo_body("C-2", "Bronze", T2)  # B -> C: customer.grade_changed
C1_PLATINUM_AGAIN = demo_body("C-1", "Platinum", T2, event_id="evt-C-1-resent")  # another event id, same source time: stale
C2_OLD_GOLD = demo_body("C-2", "Gold", T0)  # out of order: older than what is stored
O1 = order_body("O-1")
O2 = order_body("O-2", placed_at="2026-11-03T10:04:00+08:00")  # same lines and total 4 minutes later: duplicate_order
O1_PAID = order_body("O-1", updated_at="2026-11-03T11:00:00+08:00", status="paid")

# Identity: C-7 brings a match key (its customer gets the key's id); later C-2 brings the same key
# (written differently), so C-2's customer merges into C-7's: one customer, C-2's id an alias.
C7_TAXED = demo_body("C-7", "Gold", "2026-11-04T08:00:00+08:00", tax_id="91310000MA1FL8XQ3K")
C2_TAXED = demo_body("C-2", "Bronze", "2026-11-05T08:00:00+08:00", tax_id="9131 0000 ma1f-l8xq3k")
MERGE_PHASE = 5

PHASES: list[list[tuple[str, bytes]]] = [
    [("demo_crm", C1_GOLD), ("demo_crm", C2_SILVER), ("demo_crm", C3_TITANIUM)],
    [("demo_crm", C1_PLATINUM), ("demo_crm", C2_BRONZE), ("demo_crm", C1_PLATINUM_AGAIN), ("demo_crm", C2_OLD_GOLD)],
    [("demo_erp", O1)],
    [("demo_erp", O2), ("demo_erp", O1_PAID)],
    [("demo_crm", C7_TAXED)],
    [("demo_crm", C2_TAXED)],
]
ACCEPTED = sum(len(p) for p in PHASES)

EXPECTED_INPUTS = {"applied": 9, "stale": 2, "quarantined": 1}
# The merge makes C-2's later Bronze the one customer's grade (A -> C): a third grade change.
EXPECTED_EVENT_TYPES = sorted(["customer.grade_changed", "customer.grade_changed", "customer.grade_changed", "order.anomaly_detected"])


def run(
    h: Any, *, before_phase: Callable[[int], None] | None = None, after_phase: Callable[[int], None] | None = None, duplicates: bool = True
) -> None:
    """Send every phase through the door, drain the queue after each, dispatch the outbox at the end."""
    assert h.post("demo_crm", FORGED, demo_signature(FORGED, "wrong-secret")) == 401
    for index, phase in enumerate(PHASES):
        if before_phase:
            before_phase(index)
        for connector, body in phase:
            assert h.post(connector, body) == 202, (connector, body)
        if duplicates and index == 1:
            h.post("demo_crm", C1_PLATINUM)  # the vendor re-delivers at once (SQS dedupes it)
            h.enqueue_late_copy(C1_PLATINUM)  # … and again after SQS's dedupe window (the pipeline dedupes it)
        h.drain()
        if after_phase:
            after_phase(index)
    h.dispatch()
