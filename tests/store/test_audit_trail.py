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


def test_a_deleted_entry_is_detected(harness, trail):
    from chalicelib.runtime import aws

    aws.client("dynamodb").delete_item(TableName=os.environ["AUDIT_TABLE"], Key=_audit_key(trail["entity"], 3))
    verdict = _verdict(harness)
    assert not verdict["intact"] and verdict["entries"] == 4
    assert "entry 3 is missing (found 4)" in verdict["problems"]
    assert "entry 4: link to the previous entry is broken" in verdict["problems"]


def test_a_deleted_last_entry_is_detected_against_the_chain_head(harness, trail):
    """Truncating the tail leaves a consistent-looking chain; the head kept on the golden item betrays it."""
    from chalicelib.runtime import aws

    aws.client("dynamodb").delete_item(TableName=os.environ["AUDIT_TABLE"], Key=_audit_key(trail["entity"], 5))
    verdict = _verdict(harness)
    assert not verdict["intact"], verdict
    assert any("head" in p for p in verdict["problems"]), verdict["problems"]


def test_altered_entry_content_is_detected(harness, trail):
    from chalicelib.runtime import aws

    ddb = aws.client("dynamodb")
    item = ddb.get_item(TableName=os.environ["AUDIT_TABLE"], Key=_audit_key(trail["entity"], 2))["Item"]
    content = json.loads(item["content"]["S"])
    content["changes"]["grade"]["after"] = "S"  # someone rewrites history
    item["content"] = {"S": json.dumps(content, sort_keys=True, separators=(",", ":"))}
    ddb.put_item(TableName=os.environ["AUDIT_TABLE"], Item=item)
    verdict = _verdict(harness)
    assert not verdict["intact"]
    assert verdict["problems"] == ["entry 2: content does not match its hash"]


def test_altered_hashed_entry_is_detected(harness, trail):
    from chalicelib.runtime import aws

    ddb = aws.client("dynamodb")
    item = ddb.get_item(TableName=os.environ["AUDIT_TABLE"], Key=_audit_key(trail["entity"], 2))["Item"]
    body = json.loads(item["entry"]["S"])
    body["mapping_version"] = "forged"
    item["entry"] = {"S": json.dumps(body, sort_keys=True, separators=(",", ":"))}
    ddb.put_item(TableName=os.environ["AUDIT_TABLE"], Item=item)
    verdict = _verdict(harness)
    assert not verdict["intact"]
    assert "entry 2: content does not match its hash" in verdict["problems"]


def test_altered_content_with_a_recomputed_hash_breaks_the_next_link(harness, trail):
    from chalicelib.runtime import aws
    from chalicelib.store.audit import sealed_digest, sealed_hash

    ddb = aws.client("dynamodb")
    item = ddb.get_item(TableName=os.environ["AUDIT_TABLE"], Key=_audit_key(trail["entity"], 2))["Item"]
    content = json.loads(item["content"]["S"])
    content["changes"]["grade"]["after"] = "S"
    item["content"] = {"S": json.dumps(content, sort_keys=True, separators=(",", ":"))}
    item["hash"] = {"S": sealed_hash(item["entry"]["S"], sealed_digest(item["salt"]["S"], item["content"]["S"]))}
    ddb.put_item(TableName=os.environ["AUDIT_TABLE"], Item=item)
    verdict = _verdict(harness)
    assert verdict["problems"] == ["entry 3: link to the previous entry is broken"]


def test_masked_content_verifies_and_shows_as_masked_but_a_dropped_salt_alone_does_not(harness, trail):
    """Only the digest an erasure keeps lets an entry verify without its salt; it is then shown as masked, never as the original."""
    from chalicelib.runtime import aws
    from chalicelib.store import dynamo
    from chalicelib.store.audit import masked_content

    ddb = aws.client("dynamodb")
    key = _audit_key(trail["entity"], 2)
    original = dynamo.from_item(ddb.get_item(TableName=os.environ["AUDIT_TABLE"], Key=key)["Item"])
    ddb.update_item(TableName=os.environ["AUDIT_TABLE"], Key=key, UpdateExpression="REMOVE salt")
    assert _verdict(harness)["problems"] == ["entry 2: content does not match its hash"]
    masked = masked_content(original, '{"changes":{},"details":{"source":"masked:0"}}', "masked:0")
    ddb.put_item(TableName=os.environ["AUDIT_TABLE"], Item=dynamo.to_item(masked))
    assert _verdict(harness)["intact"]
    _, shown = harness.get(f"/audit?source={SOURCE}")
    entry = shown["entries"][1]
    assert entry["masked"] is True and entry["details"] == {"source": "masked:0"} and entry["hash"] == trail["entries"][1]["hash"]
    forged = dict(masked, content_digest="0" * 64)  # a digest of something else: the hash no longer matches
    ddb.put_item(TableName=os.environ["AUDIT_TABLE"], Item=dynamo.to_item(forged))
    assert _verdict(harness)["problems"] == ["entry 2: content does not match its hash"]


def test_altered_indexed_attributes_are_detected(harness, trail):
    """The queryable copies (actor, action, correlation id, time) must still say what the hashed entry says."""
    from chalicelib.runtime import aws

    ddb = aws.client("dynamodb")
    forged = {
        4: ("actor", "admin:mallory"),
        3: ("correlation_id", "rcp_forged"),
        2: ("action", "received"),
        1: ("at", "2020-01-01T00:00:00.000000+00:00"),
    }
    for seq, (attribute, value) in forged.items():
        ddb.update_item(
            TableName=os.environ["AUDIT_TABLE"],
            Key=_audit_key(trail["entity"], seq),
            UpdateExpression="SET #a = :v",
            ExpressionAttributeNames={"#a": attribute},
            ExpressionAttributeValues={":v": {"S": value}},
        )
    verdict = _verdict(harness)
    assert not verdict["intact"]
    assert sorted(verdict["problems"]) == sorted(
        f"entry {seq}: attribute {a} differs from the hashed entry" for seq, (a, _) in forged.items()
    )


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
