"""The audit trail (issue item 6): tamper evidence through GET /audit/verify, masking, queries."""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import pytest

from tests.faults.workload import order_body
from tests.stack import demo_body

SOURCE = "demo_crm/customer/C-1"


@pytest.fixture()
def trail(harness):
    """C-1: first sight, then a grade change and a new e-mail: 5 chained entries."""
    assert harness.post("demo_crm", demo_body("C-1", "Gold", "2026-11-01T08:00:00+08:00")) == 202
    assert harness.post("demo_crm", demo_body("C-1", "Platinum", "2026-11-02T08:00:00+08:00", email="Owner@Acme.example")) == 202
    harness.drain()
    status, body = harness.get(f"/audit?source={SOURCE}")
    assert status == 200 and [e["action"] for e in body["entries"]] == ["received", "applied", "received", "applied", "trigger_fired"]
    status, verdict = harness.get(f"/audit/verify?source={SOURCE}")
    assert status == 200 and verdict == {"entity": body["entity"], "entries": 5, "intact": True, "problems": []}
    return body


def _audit_key(entity: str, seq: int) -> dict:
    return {"pk": {"S": entity}, "sk": {"S": f"{seq:012d}"}}


def _verdict(harness) -> dict:
    status, verdict = harness.get(f"/audit/verify?source={SOURCE}")
    assert status == 200
    return verdict


# The trail is stored as two blocks, one per commit: entries 1-2 (received, applied) and 3-5
# (received, applied, trigger_fired). Tampering works on what is stored.


def _block(entity: str, first: int) -> dict:
    from chalicelib.runtime import aws
    from chalicelib.store import dynamo

    return dynamo.from_item(aws.client("dynamodb").get_item(TableName=os.environ["AUDIT_TABLE"], Key=_audit_key(entity, first))["Item"])


def _store(block: dict) -> None:
    from chalicelib.runtime import aws
    from chalicelib.store import dynamo

    aws.client("dynamodb").put_item(TableName=os.environ["AUDIT_TABLE"], Item=dynamo.to_item(block))


def _edit(entity: str, first: int, change) -> dict:
    """Rewrite the packed entries of the block that starts at ``first``; its stored hashes stay as written."""
    from chalicelib.store.audit import decode_entries, encode_entries

    block = _block(entity, first)
    entries = decode_entries(block["entries"])
    change(entries)
    block["entries"] = encode_entries(entries)
    _store(block)
    return block


def _regrade(entries: list, offset: int = 1) -> None:
    content = json.loads(entries[offset]["content"])
    content["changes"]["grade"]["after"] = "S"  # someone rewrites history
    entries[offset]["content"] = json.dumps(content, sort_keys=True, separators=(",", ":"))


def test_each_commit_stores_one_block_per_chain(harness, trail):
    from chalicelib.store.audit import decode_entries

    stored = [i for i in _scan_audit() if i["pk"] == trail["entity"]]
    assert [(i["sk"], len(decode_entries(i["entries"]))) for i in stored] == [("000000000001", 2), ("000000000003", 3)]
    assert "entry" not in stored[0] and "content" not in stored[0]  # the hashed text is rebuilt, not stored twice
    assert stored[1]["hash"] == trail["entries"][-1]["hash"] and stored[1]["prev_hash"] == trail["entries"][1]["hash"]


def _scan_audit() -> list:
    from chalicelib.runtime import aws
    from chalicelib.store import dynamo

    return [dynamo.from_item(i) for i in aws.client("dynamodb").scan(TableName=os.environ["AUDIT_TABLE"])["Items"]]


def test_a_deleted_block_is_detected(harness, trail):
    from chalicelib.runtime import aws

    aws.client("dynamodb").delete_item(TableName=os.environ["AUDIT_TABLE"], Key=_audit_key(trail["entity"], 1))
    verdict = _verdict(harness)
    assert not verdict["intact"] and verdict["entries"] == 3
    assert "entry 1 is missing (found 3)" in verdict["problems"]
    assert "entry 3: link to the previous entry is broken" in verdict["problems"]


def test_a_deleted_last_block_is_detected_against_the_chain_head(harness, trail):
    """Truncating the tail leaves a consistent-looking chain; the head kept on the golden item betrays it."""
    from chalicelib.runtime import aws

    aws.client("dynamodb").delete_item(TableName=os.environ["AUDIT_TABLE"], Key=_audit_key(trail["entity"], 3))
    verdict = _verdict(harness)
    assert not verdict["intact"], verdict
    assert verdict["problems"] == ["the chain ends at entry 2 but its head says entry 5: entries after 2 are missing"]


def test_altered_entry_content_is_detected_at_the_end_of_its_block(harness, trail):
    _edit(trail["entity"], 1, _regrade)
    assert _verdict(harness)["problems"] == ["entry 2: content does not match its hash"]


def test_altered_content_early_in_a_block_is_detected_too(harness, trail):
    def reword(entries: list) -> None:
        content = json.loads(entries[0]["content"])
        content["details"]["via"] = "backfill"
        entries[0]["content"] = json.dumps(content, sort_keys=True, separators=(",", ":"))

    _edit(trail["entity"], 3, reword)
    assert _verdict(harness)["problems"] == ["entry 5: content does not match its hash"]


def test_altered_hashed_header_is_detected(harness, trail):
    def forge(entries: list) -> None:
        entries[1]["mapping_version"] = "forged"

    _edit(trail["entity"], 3, forge)
    assert _verdict(harness)["problems"] == ["entry 5: content does not match its hash"]


def test_altered_content_with_a_recomputed_hash_breaks_the_next_link(harness, trail):
    from chalicelib.store.audit import expected_hash, unpack

    block = _edit(trail["entity"], 1, _regrade)
    block["hash"] = expected_hash(unpack([block])[-1])  # the forger seals the block again
    _store(block)
    assert _verdict(harness)["problems"] == ["entry 3: link to the previous entry is broken"]


def test_masked_content_verifies_and_shows_as_masked_but_a_dropped_salt_alone_does_not(harness, trail):
    """Only the digest an erasure keeps lets an entry verify without its salt; it is then shown as masked, never as the original."""
    from chalicelib.store.audit import mask_block, masked_content

    original = _block(trail["entity"], 1)

    def drop_salt(entries: list) -> None:
        del entries[1]["salt"]

    _edit(trail["entity"], 1, drop_salt)
    assert _verdict(harness)["problems"] == ["entry 2: content does not match its hash"]

    def erase(entry: dict) -> dict | None:
        return masked_content(entry, '{"changes":{},"details":{"source":"masked:0"}}', "masked:0") if entry["seq"] == 2 else None

    masked, entries = mask_block(original, erase)
    assert [e["seq"] for e in entries] == [2]
    _store(masked)
    assert _verdict(harness)["intact"]
    _, shown = harness.get(f"/audit?source={SOURCE}")
    entry = shown["entries"][1]
    assert entry["masked"] is True and entry["details"] == {"source": "masked:0"} and entry["hash"] == trail["entries"][1]["hash"]
    assert shown["entries"][0] == trail["entries"][0]

    def forge_digest(entries: list) -> None:
        entries[1]["content_digest"] = "0" * 64  # a digest of something else: the hash no longer matches

    _edit(trail["entity"], 1, forge_digest)
    assert _verdict(harness)["problems"] == ["entry 2: content does not match its hash"]


def test_altered_block_attributes_are_detected(harness, trail):
    """What a block keeps outside its packed entries (correlation id, first sequence number) is hashed with them."""
    from chalicelib.runtime import aws

    ddb = aws.client("dynamodb")
    ddb.update_item(
        TableName=os.environ["AUDIT_TABLE"],
        Key=_audit_key(trail["entity"], 3),
        UpdateExpression="SET correlation_id = :v",
        ExpressionAttributeValues={":v": {"S": "rcp_forged"}},
    )

    def backdate(entries: list) -> None:
        entries[0]["at"] = "2020-01-01T00:00:00.000000+00:00"

    _edit(trail["entity"], 1, backdate)
    verdict = _verdict(harness)
    assert verdict["problems"] == ["entry 2: content does not match its hash", "entry 5: content does not match its hash"]


def test_an_unreadable_block_is_reported_not_a_server_error(harness, trail):
    block = _block(trail["entity"], 3)
    _store(dict(block, entries=b"\x07garbage"))
    verdict = _verdict(harness)
    assert not verdict["intact"]
    assert verdict["problems"][0].startswith("entry 3: its stored block cannot be read (audit block packed in an unknown format")
    status, body = harness.get(f"/audit?source={SOURCE}")
    assert status == 200 and [e["seq"] for e in body["entries"]] == [1, 2, 3]


def test_personal_data_is_masked_with_a_keyed_hash(harness, trail):
    applied = [e for e in trail["entries"] if e["action"] == "applied"]
    first, second = applied[0]["changes"]["email"], applied[1]["changes"]["email"]
    assert first["after"].startswith("masked:") and second["before"] == first["after"]  # same person, same token
    assert second["after"].startswith("masked:") and second["after"] != first["after"]
    assert first["category"] == "contact_personal"
    raw = json.dumps(trail)
    assert "acme.example" not in raw.lower(), "an e-mail address leaked into the audit trail"
    from chalicelib.store.audit import mask

    assert first["after"] == mask("buyer@acme.example", b"test-pii-key")  # keyed: the configured key
    assert first["after"] != mask("buyer@acme.example", b"another-key")
    # Non-personal fields keep their values and their lineage.
    grade = applied[1]["changes"]["grade"]
    assert grade == {"before": "A", "after": "S", "from": grade["from"], "rule": grade["rule"]}
    assert grade["rule"].startswith("mappings/demo_crm_customer.yaml:")
    assert "customer.tier" in applied[1]["changes"]["grade"]["from"]


def test_query_by_entity_and_by_correlation_id(harness, trail):
    received = trail["entries"][2]
    correlation = received["correlation_id"]
    assert correlation.startswith("rcp_")
    status, by_correlation = harness.get(f"/audit?correlation={correlation}")
    assert status == 200
    assert sorted(e["action"] for e in by_correlation["entries"]) == ["applied", "received", "trigger_fired"]
    assert {e["pk"] for e in by_correlation["entries"]} == {trail["entity"]}
    status, by_entity = harness.get(f"/audit?entity={quote(trail['entity'])}")
    assert status == 200 and by_entity["entries"] == trail["entries"]
    status, page = harness.get(f"/audit?entity={quote(trail['entity'])}&limit=2")
    assert [e["seq"] for e in page["entries"]] == [1, 2] and page["next"]
    status, rest = harness.get(f"/audit?entity={quote(trail['entity'])}&next={page['next']}")
    assert [e["seq"] for e in rest["entries"]] == [3, 4, 5]


def test_one_correlation_spans_the_order_and_its_event(harness):
    assert harness.post("demo_crm", demo_body("C-1", "Gold", "2026-11-01T08:00:00+08:00")) == 202
    harness.drain()
    assert harness.post("demo_erp", order_body("O-1")) == 202
    assert harness.post("demo_erp", order_body("O-2", placed_at="2026-11-03T10:04:00+08:00")) == 202
    harness.drain()
    harness.dispatch()
    _, events = harness.get("/events?type=order.anomaly_detected")
    (event,) = [e["event"] for e in events["events"]]
    assert event["data"]["rule"] == "duplicate_order"
    _, by_correlation = harness.get(f"/audit?correlation={event['correlationid']}")
    actions = sorted(e["action"] for e in by_correlation["entries"])
    assert actions == ["applied", "delivered", "received", "trigger_fired"]
    _, verdict = harness.get(f"/audit/verify?entity={quote('event#' + event['id'])}")
    assert verdict["intact"] and verdict["entries"] == 1
