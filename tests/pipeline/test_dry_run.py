"""Dry run and regression diff over HTTP: see what a payload or an edited mapping would do."""

from __future__ import annotations

import json
from pathlib import Path

from tests.stack import ADMIN, demo_body, drain, post_demo

ROOT = Path(__file__).resolve().parents[2]


def post(stack, path: str, body) -> tuple[int, dict]:
    response = stack.http.post(path, headers={**ADMIN, "Content-Type": "application/json"}, body=json.dumps(body))
    return response.status_code, json.loads(response.body)


def payload(tier: str, updated_at: str) -> dict:
    return json.loads(demo_body(tier=tier, updated_at=updated_at))


def test_try_shows_record_diff_and_events_without_storing(stack):
    post_demo(stack, demo_body(tier="Gold"))
    drain()
    status, result = post(stack, "/mappings/demo_crm_customer/try", payload("Platinum", "2026-11-05T08:00:00+08:00"))
    assert status == 200, result
    assert result["record"]["fields"]["grade"] == "S"
    assert result["changes"]["grade"] == {"before": "A", "after": "S"}
    assert [e["type"] for e in result["events"]] == ["customer.grade_changed"]
    # nothing was stored: trying again gives the same answer, and no event is listed
    status, again = post(stack, "/mappings/demo_crm_customer/try", payload("Platinum", "2026-11-05T08:00:00+08:00"))
    assert again["events"] == result["events"]
    listing = json.loads(stack.http.get("/events", headers=ADMIN).body)
    assert listing["events"] == []


def test_try_reports_mapping_errors_and_stale_input(stack):
    status, result = post(stack, "/mappings/demo_crm_customer/try", payload("Titanium", "2026-11-05T08:00:00+08:00"))
    assert status == 200 and result["outcome"] == "quarantined" and "Titanium" in result["error"]["message"]
    post_demo(stack, demo_body(tier="Gold", updated_at="2026-11-05T08:00:00+08:00"))
    drain()
    status, result = post(stack, "/mappings/demo_crm_customer/try", payload("Silver", "2026-11-01T08:00:00+08:00"))
    assert result["outcome"] == "stale" and result["events"] == []


def test_try_unknown_mapping_and_bad_body(stack):
    assert post(stack, "/mappings/nope/try", {})[0] == 404
    response = stack.http.post("/mappings/demo_crm_customer/try", headers={**ADMIN, "Content-Type": "application/json"}, body=b"[1,2")
    assert response.status_code == 400 and json.loads(response.body)["error"] == "malformed_json"


def test_regression_diff_shows_field_and_event_changes_before_deploy(stack):
    post_demo(stack, demo_body(customer_id="C-1", tier="Gold", updated_at="2026-11-01T08:00:00+08:00"))
    post_demo(stack, demo_body(customer_id="C-2", tier="Silver", updated_at="2026-11-01T08:00:00+08:00"))
    drain()
    edited = (ROOT / "mappings" / "demo_crm_customer.yaml").read_text().replace("Gold: A", "Gold: S")
    status, result = post(stack, "/mappings/demo_crm_customer/regression", {"mapping": edited})
    assert status == 200, result
    assert result["inputs"] == 2 and result["deployed_version"] != result["edited_version"]
    grade_changes = [c for c in result["field_changes"] if c["field"] == "fields.grade"]
    assert grade_changes == [{"input": grade_changes[0]["input"], "field": "fields.grade", "old": "A", "new": "S"}]


def test_regression_rejects_a_broken_edit_with_file_and_line(stack):
    edited = (ROOT / "mappings" / "demo_crm_customer.yaml").read_text().replace("Gold: A", "Gold: Z")
    status, result = post(stack, "/mappings/demo_crm_customer/regression", {"mapping": edited})
    assert status == 400 and result["error"] == "invalid_mapping"
    assert "demo_crm_customer.yaml (edited):" in result["message"] and "Z" in result["message"]
    assert post(stack, "/mappings/demo_crm_customer/regression", {"mapping": ""})[0] == 400
    assert post(stack, "/mappings/demo_crm_customer/regression", {"mapping": edited, "limit": "lots"})[0] == 400


def test_try_an_edited_mapping_before_deploying_it(stack):
    post_demo(stack, demo_body(tier="Gold"))
    drain()
    edited = (ROOT / "mappings" / "demo_crm_customer.yaml").read_text().replace("Platinum: S", "Platinum: S, Titanium: S")
    status, result = post(stack, "/mappings/try", {"mapping": edited, "payload": payload("Titanium", "2026-11-05T08:00:00+08:00")})
    assert status == 200, result
    assert result["changes"]["grade"] == {"before": "A", "after": "S"}
    assert [e["type"] for e in result["events"]] == ["customer.grade_changed"]
    status, broken = post(stack, "/mappings/try", {"mapping": edited.replace("Titanium: S", "Titanium: Q"), "payload": {}})
    assert status == 400 and broken["error"] == "invalid_mapping" and "edited mapping:" in broken["message"]
    assert post(stack, "/mappings/try", {"mapping": edited})[0] == 400


def test_dry_run_and_the_real_run_agree_for_a_customer_who_revoked_consent(stack):
    """One evaluate step: the dry run drops what consent drops, and shows exactly what processing then stores and fires."""
    source = "source=demo_crm/customer/C-1001"
    post_demo(stack, demo_body(tier="Gold", updated_at="2026-11-01T08:00:00+08:00"))
    drain()
    revoke = {"category": "contact_personal", "status": "revoked", "purpose": "customer request"}
    response = stack.http.put(f"/consent?{source}", headers={**ADMIN, "Content-Type": "application/json"}, body=json.dumps(revoke))
    assert response.status_code == 200, response.body
    change = payload("Platinum", "2026-11-05T08:00:00+08:00")
    change["customer"]["email"] = "new.buyer@acme.example"

    status, dry = post(stack, "/mappings/demo_crm_customer/try", change)
    assert status == 200, dry
    assert dry["consent_dropped"] == {"email": "contact_personal"}
    assert "email" not in dry["changes"] and dry["changes"]["grade"] == {"before": "A", "after": "S"}

    post_demo(stack, json.dumps(change).encode())
    drain()
    state = json.loads(stack.http.get(f"/state?{source}", headers=ADMIN).body)
    assert "email" not in state["fields"]
    for name, change_seen in dry["changes"].items():
        assert state["fields"].get(name) == change_seen["after"]
    fired = json.loads(stack.http.get("/events", headers=ADMIN).body)["events"]
    assert sorted(e["event"]["id"] for e in fired) == sorted(e["id"] for e in dry["events"])
    assert [e["event"]["data"] for e in fired] == [e["data"] for e in dry["events"]]
