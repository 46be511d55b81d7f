"""`same_as` through the pipeline: a CRM record and an ERP record of one customer are one golden record."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from typing import Any

from chalicelib.config.yaml_lines import load_yaml_text
from chalicelib.domain.golden import Survivorship
from chalicelib.domain.identity import IdentityRules
from chalicelib.domain.inbound import InboundRecord
from chalicelib.mapping import compile_documents
from chalicelib.pipeline.evaluate import Rules
from chalicelib.pipeline.processor import ProcessingConfig, Processor
from chalicelib.store.memory_store import MemoryStore
from tests.triggers.helpers import load

CRM = """
kind: mapping
source: {connector: crm, object: account}
entity: customer
owner: crm
id: id
timestamp: at
fields:
  grade: {path: grade}
  name: name
"""
ERP = """
kind: mapping
source: {connector: erp, object: customer}
entity: customer
id: code
timestamp: at
fields:
  credit_limit: {path: limit, transforms: [decimal], owner: erp}
  name: name
references:
  same_as: {connector: crm, id: crm_account}
"""
SCALE = "kind: grade_scale\nlevels: [D, C, B, A, S]\n"


def processor() -> tuple[Processor, MemoryStore]:
    docs = [(n, load_yaml_text(textwrap.dedent(t), n)) for n, t in (("crm.yaml", CRM), ("erp.yaml", ERP), ("grade_scale.yaml", SCALE))]
    mappings = compile_documents(docs)
    owners = {"customer": {"grade": "crm", "credit_limit": "erp", "name": ""}}
    rules = Rules(load(), identity=IdentityRules(linked=mappings.linked_entities()), survivorship=Survivorship(owners=owners))
    store = MemoryStore()
    return Processor(ProcessingConfig(mappings, rules, b"k"), store), store


def send(p: Processor, connector: str, obj: str, payload: dict[str, Any]) -> str:
    inbound = InboundRecord(
        connector=connector, object=obj, payload=payload, dedupe_key=f"{connector}{payload}", received_at=datetime.now(UTC)
    )
    return p.process(inbound).status


def goldens(store: MemoryStore) -> list[dict[str, Any]]:
    return [s.item for k, s in store.states.items() if k.kind == "golden" and "alias_of" not in s.item]


def test_erp_record_linked_to_the_crm_account_joins_it_whichever_comes_first():
    for order in ("crm first", "erp first"):
        p, store = processor()
        crm = ("crm", "account", {"id": "A-1", "grade": "A", "name": "Acme CRM", "at": "2026-11-01T00:00:00Z"})
        erp = ("erp", "customer", {"code": "K-7", "crm_account": "A-1", "limit": "5000", "name": "Acme Ltd", "at": "2026-11-02T00:00:00Z"})
        for record in (crm, erp) if order == "crm first" else (erp, crm):
            assert send(p, *record) == "applied"
        [golden] = goldens(store)
        assert golden["fields"] == {"grade": "A", "credit_limit": 5000, "name": "Acme Ltd"}, order
        assert {f: v["system"] for f, v in golden["provenance"].items()} == {"grade": "crm", "credit_limit": "erp", "name": "erp"}
        assert sorted(golden["sources"]) == ["crm/customer/A-1", "erp/customer/K-7"]
