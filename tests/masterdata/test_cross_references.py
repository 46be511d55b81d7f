"""A cross-reference is written only where a source record's entity is not the id its own reference gives.

A record without a match key or link is the entity ``id_for(its source)``; an absent
cross-reference resolves there (identity, references, lookups by source), so writing one would
bill a transactional item for nothing. A record joined by key (or moved by a merge) does get one.
"""

from __future__ import annotations

import os

from tests.stack import demo_body


def _xrefs() -> list[str]:
    from chalicelib.runtime import aws

    items = aws.client("dynamodb").scan(TableName=os.environ["STATE_TABLE"])["Items"]
    return sorted(i["pk"]["S"] for i in items if i["sk"]["S"] == "xref")


def test_a_record_on_its_own_id_writes_no_cross_reference_and_is_still_found_by_source(harness):
    from chalicelib.domain.canonical import SourceRef
    from chalicelib.domain.identity import id_for

    assert harness.post("demo_crm", demo_body("C-1", "Gold", "2026-11-01T08:00:00+08:00")) == 202
    harness.drain()
    own_id = id_for(SourceRef(system="demo_crm", entity="customer", id="C-1"))
    assert _xrefs() == []

    status, state = harness.get("/state?source=demo_crm/customer/C-1")
    assert status == 200 and state["id"] == own_id, state
    status, shown = harness.get("/identity?source=demo_crm/customer/C-1")
    assert status == 200 and [(m["source"], m["cross_reference"]) for m in shown["members"]] == [("demo_crm/customer/C-1", own_id)]

    # The next update of the same record finds the same entity: one golden record, its chain continued.
    assert harness.post("demo_crm", demo_body("C-1", "Platinum", "2026-11-02T08:00:00+08:00")) == 202
    harness.drain()
    status, trail = harness.get("/audit?source=demo_crm/customer/C-1")
    assert status == 200 and trail["entity"] == f"customer#{own_id}"
    assert [e["action"] for e in trail["entries"]] == ["received", "applied", "received", "applied", "trigger_fired"]
    assert _xrefs() == []
