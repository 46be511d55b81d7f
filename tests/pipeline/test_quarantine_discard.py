"""Discarding a quarantined record: closed for good with a reason, audited, its input final; nothing applied."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from tests.faults.harness import ADMIN, chains_intact, reset_caches, snapshot
from tests.pipeline.test_quarantine_replay import TITANIUM_AT, _fix_mapping, _quarantine_titanium
from tests.stack import demo_body


def _trail(harness, dedupe_key: str) -> list[dict]:
    _, trail = harness.get(f"/audit?entity={quote('input#' + dedupe_key)}")
    return trail["entries"]


def test_a_discarded_record_is_closed_audited_and_its_input_final(harness):
    record = _quarantine_titanium(harness)
    assert "expires_at" not in record, "an open record stays until it is closed"
    status, answer = harness.post_admin(f"/quarantine/{record['id']}/discard", {"reason": "  test data sent to production  "}, actor="dana")
    assert status == 200, answer
    assert answer == {"id": record["id"], "status": "discarded", "discarded_by": "admin:dana", "reason": "test data sent to production"}

    _, shown = harness.get(f"/quarantine/{record['id']}")
    assert shown["status"] == "discarded" and shown["discarded_by"] == "admin:dana" and shown["discarded_at"]
    assert abs(shown["expires_at"] - (time.time() + 14 * 86400)) < 120, "closed: kept as long as raw inputs, then gone"
    assert shown["reason"] == "test data sent to production"
    assert shown["input"]["payload"]["customer"]["tier"] == "Titanium"  # the raw input stays for whoever looks later
    entries = _trail(harness, record["dedupe_key"])
    assert [e["action"] for e in entries] == ["received", "quarantined", "discarded"]
    assert entries[2]["actor"] == "admin:dana"
    assert entries[2]["details"] == {"quarantine_id": record["id"], "code": "unknown_value", "reason": "test data sent to production"}
    assert snapshot()["inputs"][record["dedupe_key"]] == "discarded"
    _, listing = harness.get("/quarantine?status=open")
    assert listing["records"] == []
    _, listing = harness.get("/quarantine?status=discarded")
    assert [r["id"] for r in listing["records"]] == [record["id"]]
    _, state = harness.get("/state?source=demo_crm/customer/C-3")
    assert state["fields"]["grade"] == "A"  # nothing was applied
    assert chains_intact() == {}


def test_a_discarded_input_stays_discarded_when_redelivered_replayed_or_discarded_again(harness):
    record = _quarantine_titanium(harness)
    assert harness.post_admin(f"/quarantine/{record['id']}/discard", {"reason": "vendor test"})[0] == 200
    _fix_mapping()  # the input would apply now: still, a discard is final

    body = demo_body("C-3", "Titanium", TITANIUM_AT)
    assert harness.post("demo_crm", body) == 202
    harness.enqueue_late_copy(body)
    harness.drain()
    status, error = harness.post_admin(f"/quarantine/{record['id']}/replay")
    assert status == 409 and error["error"] == "already_replayed" and "discarded" in error["message"]
    status, error = harness.post_admin("/quarantine/replay", {"connector": "demo_crm"})
    assert status == 200 and error["replayed"] == 0
    status, error = harness.post_admin(f"/quarantine/{record['id']}/discard", {"reason": "again"})
    assert status == 409 and error["error"] == "not_open" and "discarded" in error["message"]

    assert [e["action"] for e in _trail(harness, record["dedupe_key"])] == ["received", "quarantined", "discarded"]
    assert snapshot()["inputs"][record["dedupe_key"]] == "discarded"
    assert snapshot()["quarantine"][record["dedupe_key"]] == ("discarded", "unknown_value", 1)
    _, state = harness.get("/state?source=demo_crm/customer/C-3")
    assert state["fields"]["grade"] == "A"
    assert chains_intact() == {}


def test_a_replayed_record_cannot_be_discarded(harness):
    record = _quarantine_titanium(harness)
    _fix_mapping()
    assert harness.post_admin(f"/quarantine/{record['id']}/replay")[1]["status"] == "applied"
    status, error = harness.post_admin(f"/quarantine/{record['id']}/discard", {"reason": "too late"})
    assert status == 409 and error == {"error": "not_open", "message": f"{record['id']} is replayed; only an open record can be discarded"}
    assert snapshot()["inputs"][record["dedupe_key"]] == "applied"


def test_a_record_whose_raw_input_expired_can_still_be_discarded(harness):
    """The claim-checked payload is gone (the bucket expires it): nothing to replay, but the record can be closed."""
    from chalicelib.runtime import aws
    from chalicelib.runtime.settings import get_settings
    from chalicelib.store import keys

    record = _quarantine_titanium(harness)
    pk, sk = keys.quarantine(record["id"])
    aws.client("dynamodb").update_item(
        TableName=get_settings().quarantine_table,
        Key={"pk": {"S": pk}, "sk": {"S": sk}},
        UpdateExpression="REMOVE #raw SET raw_ref = :r",
        ExpressionAttributeNames={"#raw": "raw"},
        ExpressionAttributeValues={":r": {"S": f"s3://{get_settings().payload_bucket}/quarantine/gone.json"}},
    )
    reset_caches()
    assert harness.get(f"/quarantine/{record['id']}")[0] == 410
    status, answer = harness.post_admin(f"/quarantine/{record['id']}/discard", {"reason": "payload expired"})
    assert status == 200 and answer["status"] == "discarded", answer
    assert snapshot()["inputs"][record["dedupe_key"]] == "discarded"
    assert chains_intact() == {}


def test_a_discard_and_a_replay_racing_for_one_record_leave_it_one_outcome(harness, monkeypatch):
    """The replay commits between the discard's read and its commit: the discard reads again and finds it closed."""
    from chalicelib.store.dynamo_store import DynamoStore

    record = _quarantine_titanium(harness)
    _fix_mapping()
    original = DynamoStore.read
    raced = []

    def read_then_replay(self, *args, **kwargs):
        snapshot_read = original(self, *args, **kwargs)
        if not raced:
            raced.append(True)
            assert harness.post_admin(f"/quarantine/{record['id']}/replay", actor="erin")[1]["status"] == "applied"
        return snapshot_read

    monkeypatch.setattr(DynamoStore, "read", read_then_replay)
    status, error = harness.post_admin(f"/quarantine/{record['id']}/discard", {"reason": "race"})
    monkeypatch.undo()
    assert status == 409 and error["error"] == "not_open" and "replayed" in error["message"], error
    assert snapshot()["inputs"][record["dedupe_key"]] == "applied"
    actions = [e["action"] for e in _trail(harness, record["dedupe_key"])]
    assert "discarded" not in actions
    assert chains_intact() == {}


def test_an_unknown_record_is_a_404(harness):
    status, error = harness.post_admin("/quarantine/q_000000000000000000000000/discard", {"reason": "x"})
    assert status == 404 and error["error"] == "not_found"


@pytest.mark.parametrize("qid", ["q" * 3000, "Q_" + "0" * 24, "q_" + "g" * 24, "../state"])
def test_an_id_that_cannot_be_a_record_is_a_404_without_a_read_dynamodb_would_refuse(harness, qid):
    """A partition key over 2,048 bytes is a ValidationException on DynamoDB (moto lets it through): never sent."""
    from urllib.parse import quote as quoted

    from chalicelib.runtime import aws
    from tests.dynamodb_key_rule import KeyRule

    client = aws.client("dynamodb")
    rule = KeyRule().install(client)
    try:
        path = f"/quarantine/{quoted(qid, safe='')}"
        assert harness.get(path)[0] == 404
        assert harness.post_admin(f"{path}/replay")[0] == 404
        assert harness.post_admin(f"{path}/discard", {"reason": "x"})[0] == 404
    finally:
        rule.uninstall(client)
    assert rule.breaches == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": 7}, "reason"),
        ({"reason": "ok", "status": "applied"}, "status"),
    ],
)
def test_a_discard_without_a_usable_reason_is_a_400_and_changes_nothing(harness, body, field):
    record = _quarantine_titanium(harness)
    status, error = harness.post_admin(f"/quarantine/{record['id']}/discard", body)
    assert status == 400 and error["error"] == "invalid_body" and error["message"].startswith(f"{field}:"), error
    assert snapshot()["quarantine"][record["dedupe_key"]][0] == "open"


@pytest.mark.parametrize("raw", [b"{", b'{"reason": "a", "reason": "b"}', b"\xff", b"[]", b"x" * 300_000])
def test_an_unreadable_discard_body_is_a_400(harness, raw):
    record = _quarantine_titanium(harness)
    response = harness.client.http.post(
        f"/quarantine/{record['id']}/discard", headers={**ADMIN, "Content-Type": "application/json"}, body=raw
    )
    assert response.status_code in (400, 413), response.body
    assert json.loads(response.body)["error"] in ("malformed_json", "invalid_body", "payload_too_large")
    assert snapshot()["quarantine"][record["dedupe_key"]][0] == "open"


def test_a_filtered_discard_takes_every_matching_record_once_across_requests(harness, monkeypatch):
    from chalicelib.api import admin

    monkeypatch.setattr(admin, "REPLAY_PAGE", 2)
    monkeypatch.setattr(admin, "REPLAY_MARGIN_SECONDS", float("inf"))  # one page per request
    records = {r["id"]: r for r in (_quarantine_titanium(harness, f"C-{n}") for n in range(40, 45))}
    body: dict = {"connector": "demo_crm", "code": "unknown_value", "reason": "a vendor's test flood"}
    taken, requests = [], 0
    while True:
        requests += 1
        status, answer = harness.post_admin("/quarantine/discard", body, actor="lee")
        assert status == 200, answer
        assert answer["reason"] == "a vendor's test flood" and answer["discarded"] == len(answer["results"])
        taken += answer["results"]
        if answer["complete"]:
            break
        body["after"] = answer["next"]
    assert requests >= 3 and sorted(r["id"] for r in taken) == sorted(records)
    assert {r["status"] for r in taken} == {"discarded"}
    _, listing = harness.get("/quarantine?status=open")
    assert listing["records"] == []
    for record in records.values():
        assert [e["action"] for e in _trail(harness, record["dedupe_key"])] == ["received", "quarantined", "discarded"]
    status, again = harness.post_admin("/quarantine/discard", {"code": "unknown_value", "reason": "again"})
    assert status == 200 and again["discarded"] == 0, again
    assert chains_intact() == {}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"reason": "everything"}, "name a connector, a code or a mapping"),
        ({"connector": "demo_crm"}, "reason"),
        ({"connector": "demo_crm", "reason": "x", "limit": 0}, "limit"),
        ({"connector": "demo_crm", "reason": "x", "dry_run": True}, "dry_run"),
        ({"connector": "demo_crm", "reason": "x", "after": "not-a-cursor"}, "after"),
    ],
)
def test_a_filtered_discard_without_a_filter_or_a_reason_is_a_400(harness, body, field):
    record = _quarantine_titanium(harness)
    status, error = harness.post_admin("/quarantine/discard", body)
    assert status == 400 and field in error["message"], error
    assert snapshot()["quarantine"][record["dedupe_key"]][0] == "open"


def test_the_quarantine_table_expires_closed_records():
    from infra.resources import TABLES

    (table,) = [t for t in TABLES if t.logical_id == "QuarantineTable"]
    assert table.ttl_attribute == "expires_at"
