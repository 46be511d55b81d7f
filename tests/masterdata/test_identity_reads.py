"""Match keys cost no extra round trip: a keyed record is read in one request, whether it is new or joins an entity."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.configuration import load_configuration
from chalicelib.domain.inbound import InboundRecord
from chalicelib.pipeline.evaluate import Rules
from chalicelib.pipeline.processor import ProcessingConfig, Processor
from chalicelib.store.memory_store import MemoryStore

CONFIG = load_configuration(Path(__file__).resolve().parents[2])
TAX = "91310000MA1FL8XQ3K"


def customer(cid: str, at: str, tax_id: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {"id": cid, "name": "Acme", "tier": "Gold", "updated_at": at}
    if tax_id:
        record["tax_id"] = tax_id
    return {"customer": record}


def reads_of(store: MemoryStore, processor: Processor, payload: dict[str, Any]) -> int:
    before = store.reads
    inbound = InboundRecord(
        connector="demo_crm", object="customer", payload=payload, dedupe_key=str(payload), received_at=datetime.now(UTC)
    )
    assert processor.process(inbound).status == "applied"
    return store.reads - before


@pytest.fixture()
def pipeline() -> tuple[MemoryStore, Processor]:
    store = MemoryStore()
    return store, Processor(ProcessingConfig(CONFIG.mappings, Rules.of(CONFIG), b"k"), store)


def test_a_new_keyed_customer_and_a_joining_one_read_once_a_merge_reads_the_rebate_bases_too(
    pipeline: tuple[MemoryStore, Processor],
) -> None:
    store, processor = pipeline
    assert reads_of(store, processor, customer("C-1", "2026-11-01T08:00:00Z", TAX)) == 1  # new: the key's entity
    assert reads_of(store, processor, customer("C-2", "2026-11-01T09:00:00Z", TAX.lower())) == 1  # joins it by the key
    assert reads_of(store, processor, customer("C-3", "2026-11-01T10:00:00Z")) == 1  # no key: its own entity
    # brings the key: merges — and a customer merge under the shipped rebate policy reads the recent bases of both ids
    assert CONFIG.triggers.policies
    assert reads_of(store, processor, customer("C-3", "2026-11-02T10:00:00Z", f" {TAX} ")) == 2
    goldens = [s.item for k, s in store.states.items() if k.kind == "golden" and "alias_of" not in s.item]
    assert len(goldens) == 1 and len(goldens[0]["sources"]) == 3, goldens
