"""Cross-system identity: which canonical entity a source record is about.

Canonical ids are derived deterministically from an *anchor* source reference, so
resolving an id needs no read: a record's anchor is its ``same_as`` reference when
its mapping declares one (e.g. a CRM account that carries the ERP customer code),
otherwise its own source id. Products are identified by SKU across systems.
"""

from __future__ import annotations

import hashlib

from chalicelib.domain.canonical import CanonicalRecord, SourceRef

PREFIXES = {
    "customer": "cus",
    "product": "prd",
    "order": "ord",
    "pos_sale": "pos",
    "rebate_settlement": "rbs",
    "lead": "led",
    "opportunity": "opp",
    "activity": "act",
}
SAME_AS = "same_as"


def id_for(ref: SourceRef) -> str:
    digest = hashlib.sha256(f"{ref.system}\x1f{ref.entity}\x1f{ref.id}".encode()).hexdigest()
    return f"{PREFIXES[ref.entity]}_{digest[:20]}"


def canonical_id(record: CanonicalRecord) -> str:
    if record.entity == "product":
        sku = record.fields.get("sku")
        return str(sku) if sku else str(record.source.id)
    anchor = record.references.get(SAME_AS, record.source)
    return id_for(anchor)


def entity_key(entity: str, entity_id: str) -> str:
    return f"{entity}#{entity_id}"


def resolve_references(record: CanonicalRecord) -> CanonicalRecord:
    """Write each reference's canonical id into the field it names (``customer_id`` …)."""
    fields = dict(record.fields)
    for name, ref in record.references.items():
        if name == SAME_AS:
            continue
        fields[name] = str(ref.id) if ref.entity == "product" else id_for(ref)
    return record.model_copy(update={"fields": fields})
