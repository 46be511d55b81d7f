"""Any interleaving of three systems' records of one customer gives one golden record and one set of events.

Each system's own records keep their order (one queue group per source record); how the
systems interleave is arbitrary. The real processor runs over the in-memory store with the
shipped configuration: mapping, identity (match key), merge, survivorship, triggers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.configuration import load_configuration
from chalicelib.domain.inbound import InboundRecord
from chalicelib.domain.state import golden_key
from chalicelib.pipeline.processor import ProcessingConfig, Processor
from chalicelib.store.memory_store import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_configuration(ROOT)
TAX = "91310000MA1FL8XQ3K"

CRM_FIRST = {"id": "C-1", "name": "Acme", "tier": "Gold", "tax_id": TAX, "updated_at": "2026-11-01T08:00:00Z"}
CRM = [
    ("demo_crm", "customer", {"customer": CRM_FIRST}),
    ("demo_crm", "customer", {"customer": {"id": "C-1", "tier": "Platinum", "updated_at": "2026-11-05T08:00:00Z"}}),
]
ERP_FIRST = {"id": "E-9", "name": "艾克米", "tax_no": "9131-0000-ma1fl8xq3k", "credit_limit": "50000", "modified": "2026-11-02T08:00:00Z"}
ERP = [
    ("demo_erp", "customer", ERP_FIRST),
    ("demo_erp", "customer", {"id": "E-9", "credit_limit": "60000", "modified": "2026-11-06T08:00:00+08:00"}),
]
ODOO_PARTNER = {"id": 41, "name": "ACME Ltd", "vat": TAX.lower(), "phone": False, "email": "a@acme.example"}
ODOO = [("odoo", "res.partner", {**ODOO_PARTNER, "write_date": "2026-11-03 01:00:00"})]


def interleavings() -> st.SearchStrategy[list[tuple[str, str, dict[str, Any]]]]:
    """Permutations that keep each system's records in their own order."""
    tags = [name for name, records in (("crm", CRM), ("erp", ERP), ("odoo", ODOO)) for _ in records]

    def merge(order: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
        queues = {"crm": list(CRM), "erp": list(ERP), "odoo": list(ODOO)}
        return [queues[tag].pop(0) for tag in order]

    return st.permutations(tags).map(merge)


def run(records: list[tuple[str, str, dict[str, Any]]]) -> tuple[dict[str, Any], list[str], MemoryStore]:
    store = MemoryStore()
    processor = Processor(ProcessingConfig(CONFIG.mappings, _rules(), b"k"), store)
    for index, (connector, obj, payload) in enumerate(records):
        key = f"{connector}-{obj}-{payload}"
        inbound = InboundRecord(connector=connector, object=obj, payload=payload, dedupe_key=key, received_at=datetime.now(UTC))
        outcome = processor.process(inbound)
        assert outcome.status == "applied", (index, outcome)
    goldens = [stored.item for key, stored in store.states.items() if key.kind == "golden" and "alias_of" not in stored.item]
    assert len(goldens) == 1, goldens
    return goldens[0], sorted(store.outbox), store


def _rules():  # type: ignore[no-untyped-def]
    from chalicelib.pipeline.evaluate import Rules

    return Rules.of(CONFIG)


BASELINE = run(CRM + ERP + ODOO)


def test_the_three_systems_make_one_customer_with_each_field_from_its_owner():
    golden, events, _ = BASELINE
    assert golden["id"].startswith("cus_k0_")
    assert golden["fields"]["grade"] == "S" and golden["provenance"]["grade"]["system"] == "demo_crm"
    assert golden["fields"]["credit_limit"] == 60000 and golden["provenance"]["credit_limit"]["system"] == "demo_erp"
    assert golden["fields"]["email"] == "a@acme.example"
    assert len(golden["sources"]) == 3
    assert len(events) == 1  # the grade change A → S (the first grade is a baseline)


@settings(max_examples=40, deadline=None)
@given(interleavings())
def test_any_interleaving_gives_the_same_golden_record_and_the_same_events(records):
    golden, events, store = run(records)
    expected, expected_events, _ = BASELINE
    assert golden == expected
    assert events == expected_events
    assert store.states[golden_key("customer", golden["id"])].item == expected
