"""The walking skeleton end to end through Chalice's handlers: webhook → queue → state + audit."""

from __future__ import annotations

import json
from datetime import UTC

from tests.stack import ADMIN, demo_body, demo_signature, drain, get_json, post_demo


def test_signed_webhook_is_applied_and_audited(stack):
    response = post_demo(stack, demo_body())
    assert response.status_code == 202, response.body
    receipt = json.loads(response.body)
    assert receipt["receipt_id"].startswith("rcp_") and receipt["records"] == 1

    assert drain() == 1
    status, trail = get_json(stack, "/audit?source=demo_crm/customer/C-1001")
    assert status == 200
    actions = [e["action"] for e in trail["entries"]]
    assert actions == ["received", "applied"]
    received, applied = trail["entries"]
    assert received["correlation_id"] == receipt["receipt_id"]
    assert applied["mapping_version"]
    assert applied["changes"]["grade"]["after"] == "A"
    assert applied["changes"]["grade"]["from"] == "customer.tier"  # field-level lineage: source field …
    assert applied["changes"]["grade"]["rule"].startswith("mappings/demo_crm_customer.yaml:")  # … and the rule's place
    assert applied["changes"]["email"]["after"].startswith("masked:")  # personal data masked

    status, state = get_json(stack, "/state?source=demo_crm/customer/C-1001")
    assert status == 200
    status, verdict = get_json(stack, "/audit/verify?source=demo_crm/customer/C-1001")
    assert verdict["intact"] and verdict["entries"] == 2


def test_duplicate_delivery_changes_state_once(stack):
    body = demo_body()
    assert post_demo(stack, body).status_code == 202
    drain()
    assert post_demo(stack, body).status_code == 202  # the vendor re-delivers; we acknowledge again
    drain()
    _, trail = get_json(stack, "/audit?source=demo_crm/customer/C-1001")
    assert [e["action"] for e in trail["entries"]] == ["received", "applied"]


def test_forged_signature_is_refused_and_audited(stack):
    body = demo_body()
    response = post_demo(stack, body, signature=demo_signature(body, secret="wrong"))
    assert response.status_code == 401
    error = json.loads(response.body)
    assert error["error"] == "bad_signature"
    assert drain() == 0
    _, trail = get_json(stack, f"/audit?correlation={error['receipt_id']}")
    assert trail["entries"][0]["action"] == "rejected"
    assert trail["entries"][0]["details"]["reason"] == "bad_signature"


def test_missing_signature_is_refused(stack):
    response = stack.http.post("/webhooks/demo_crm", headers={"Content-Type": "application/json"}, body=demo_body())
    assert response.status_code == 401


def test_malformed_json_is_a_400_with_a_message(stack):
    body = b'{"event_id": "e1", "customer": {'
    response = post_demo(stack, body)
    assert response.status_code == 400
    error = json.loads(response.body)
    assert error["error"] == "malformed_delivery" and "JSON" in error["message"]


def test_oversized_body_is_refused(stack):
    body = demo_body(notes="x" * 300_000)
    response = post_demo(stack, body)
    assert response.status_code == 413


def test_unknown_connector_is_404(stack):
    response = stack.http.post("/webhooks/nobody", headers={"Content-Type": "application/json"}, body=b"{}")
    assert response.status_code == 404
    assert json.loads(response.body)["error"] == "unknown_connector"


def test_admin_endpoints_need_the_token(stack):
    assert stack.http.get("/audit?source=demo_crm/customer/C-1001").status_code == 401
    wrong = stack.http.get("/audit?source=demo_crm/customer/C-1001", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert json.loads(wrong.body)["error"] == "unauthorized"


def test_bad_admin_queries_are_4xx_not_500(stack):
    for path in (
        "/audit",
        "/audit?entity=nonsense",
        "/audit?source=a/b",
        "/events?since=yesterday",
        "/events?limit=0",
        "/quarantine?next=!!",
        "/quarantine/q_missing",
    ):
        response = stack.http.get(path, headers=ADMIN)
        assert 400 <= response.status_code < 500, (path, response.status_code, response.body)
        assert "error" in json.loads(response.body)


def test_out_of_order_update_is_stale_and_ignored(stack):
    post_demo(stack, demo_body(tier="Gold", updated_at="2026-11-02T08:00:00+08:00"))
    drain()
    post_demo(stack, demo_body(tier="Silver", updated_at="2026-11-01T08:00:00+08:00"))
    drain()
    _, state = get_json(stack, "/state?source=demo_crm/customer/C-1001")
    _, trail = get_json(stack, "/audit?source=demo_crm/customer/C-1001")
    assert [e["action"] for e in trail["entries"]][-1] == "stale_ignored"
    assert "A" in json.dumps(state)


def test_health_is_liveness_for_anyone_and_details_for_operators(stack):
    response = stack.http.get("/health")
    assert response.status_code == 200 and json.loads(response.body) == {"status": "ok"}, "no stage, connector or version to strangers"
    assert stack.http.get("/health/details").status_code == 401
    assert stack.http.get("/health/details", headers={"Authorization": "Bearer guess"}).status_code == 401
    status, body = get_json(stack, "/health/details")
    assert status == 200 and body["status"] == "ok" and body["versions"]["_configuration"] and "demo_crm" in body["connectors"]


def test_broken_configuration_is_503_not_500_and_health_says_why(stack, tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    from chalicelib import configuration as loader
    from chalicelib.runtime import settings

    root = Path(__file__).resolve().parents[2]
    for folder in ("connectors", "mappings"):
        shutil.copytree(root / folder, tmp_path / folder)
    (tmp_path / "mappings" / "demo_crm_customer.yaml").write_text("kind: mapping\nentity: nonsense\n")
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(tmp_path))
    settings.reset_settings()
    loader.reset()
    response = post_demo(stack, demo_body())
    assert response.status_code == 503 and json.loads(response.body)["error"] == "configuration_invalid"
    health = stack.http.get("/health")
    assert health.status_code == 503 and "demo_crm_customer" not in health.body.decode(), "no file or line to strangers"
    status, details = get_json(stack, "/health/details")
    assert status == 503
    assert any("mappings/demo_crm_customer.yaml:" in p for p in details["problems"])


def test_audit_by_time(stack):
    from datetime import datetime, timedelta

    post_demo(stack, demo_body())
    drain()
    _, trail = get_json(stack, "/audit?source=demo_crm/customer/C-1001")
    at = datetime.fromisoformat(trail["entries"][0]["at"])
    day = at.astimezone(UTC).date().isoformat()
    _, listed = get_json(stack, f"/audit?day={day}")
    assert [e["action"] for e in listed["entries"]] == ["received", "applied"]
    later = (at + timedelta(minutes=5)).isoformat().replace("+00:00", "%2B00:00")
    _, none = get_json(stack, f"/audit?day={day}&from={later}")
    assert none["entries"] == []
    assert get_json(stack, "/audit?day=yesterday")[0] == 400
    assert get_json(stack, f"/audit?day={day}&from=soon")[0] == 400


def test_event_listing_pages_with_an_opaque_cursor(stack):
    for tier, day in (("Gold", "01"), ("Platinum", "02"), ("Silver", "03")):
        post_demo(stack, demo_body(tier=tier, updated_at=f"2026-11-{day}T08:00:00+08:00"))
    drain()
    _, first = get_json(stack, "/events?limit=1")
    assert len(first["events"]) == 1 and first["next"]
    _, second = get_json(stack, f"/events?limit=1&next={first['next']}")
    assert [e["event"]["data"]["current"] for e in first["events"] + second["events"]] == ["B", "S"]  # newest first
    assert get_json(stack, "/events?next=not-a-cursor")[0] == 400
