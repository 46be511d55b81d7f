"""Data sovereignty: consent per category, dropping fields without consent, usage report, erasure."""

from __future__ import annotations

import json

from tests.stack import ADMIN, demo_body, drain, get_json, post_demo

SOURCE = "source=demo_crm/customer/C-1001"


def put_consent(stack, category: str, status: str, **extra) -> tuple[int, dict]:
    response = stack.http.put(
        f"/consent?{SOURCE}",
        headers={**ADMIN, "Content-Type": "application/json", "X-Salesbridge-Actor": "dpo"},
        body=json.dumps({"category": category, "status": status, **extra}),
    )
    return response.status_code, json.loads(response.body)


def test_revoked_category_is_dropped_before_it_is_stored_and_the_drop_is_audited(stack):
    post_demo(stack, demo_body(updated_at="2026-11-01T08:00:00+08:00"))
    drain()
    status, body = put_consent(stack, "contact_personal", "revoked", purpose="customer asked")
    assert status == 200 and body["categories"]["contact_personal"]["status"] == "revoked"
    assert body["purged_fields"] == ["email"]  # the stored value goes at once, too

    post_demo(stack, demo_body(updated_at="2026-11-02T08:00:00+08:00", email="new@acme.example", name="Acme Trading Ltd"))
    drain()
    _, state = get_json(stack, f"/state?{SOURCE}")
    assert state["fields"]["name"] == "Acme Trading Ltd"
    assert "email" not in state["fields"], "the revoked field is neither kept nor updated"
    _, trail = get_json(stack, f"/audit?{SOURCE}")
    drop = next(e for e in trail["entries"] if e["action"] == "consent_dropped")
    assert drop["details"]["fields"] == {"email": "contact_personal"}
    assert "new@acme.example" not in json.dumps(trail)

    _, consent_trail = get_json(stack, "/audit?entity=consent%23" + state["entity"].split("#", 1)[1])
    assert [(e["action"], e["actor"]) for e in consent_trail["entries"]] == [("consent_revoked", "admin:dpo")]
    assert [e["action"] for e in trail["entries"]] == ["received", "applied", "consent_purged", "received", "consent_dropped", "applied"]
    assert get_json(stack, f"/audit/verify?{SOURCE}")[1]["intact"]


def test_opt_in_category_is_dropped_until_granted(stack):
    from chalicelib.configuration import current
    from chalicelib.domain.canonical import CanonicalRecord, SourceRef
    from chalicelib.domain.consent import apply_consent
    from chalicelib.mapping import load_mapping_set  # noqa: F401 - the shipped demo has no opt-in field; check the rule directly

    record = CanonicalRecord(
        entity="customer",
        source=SourceRef(system="demo_crm", entity="customer", id="C-1"),
        source_time="2026-11-01T00:00:00+00:00",
        fields={"name": "Acme", "industry": "notes from the trial"},
        categories={"industry": "trial_behaviour"},
        mapping="m",
        mapping_version="v",
    )
    opt_in = current().consent_opt_in
    kept, dropped = apply_consent(record, None, opt_in)
    assert "industry" not in kept.fields and dropped.fields == {"industry": "trial_behaviour"}
    granted = {"categories": {"trial_behaviour": {"status": "granted"}}}
    kept, dropped = apply_consent(record, granted, opt_in)
    assert kept.fields["industry"] == "notes from the trial" and not dropped


def test_consent_input_errors_are_400(stack):
    assert put_consent(stack, "secrets", "revoked")[0] == 400
    assert put_consent(stack, "contact_personal", "maybe")[0] == 400
    response = stack.http.put(
        "/consent?source=demo_crm/order/1",
        headers={**ADMIN, "Content-Type": "application/json"},
        body=b'{"category": "inquiry", "status": "revoked"}',
    )
    assert response.status_code == 400
    assert stack.http.get(f"/consent?{SOURCE}").status_code == 401


def test_usage_report_counts_uses_rules_and_deliveries(stack):
    post_demo(stack, demo_body(tier="Gold", updated_at="2026-11-01T08:00:00+08:00"))
    post_demo(stack, demo_body(tier="Platinum", updated_at="2026-11-02T08:00:00+08:00"))
    drain()
    status, report = get_json(stack, f"/usage?{SOURCE}")
    assert status == 200
    assert report["uses"] == 2
    assert report["by_connector"] == {"demo_crm": 2}
    assert report["events_fired"] == {"customer.grade_changed": 1}
    assert list(report["by_mapping"].values()) == [2]


def test_erasure_removes_state_and_xrefs_and_leaves_a_masked_tombstone(stack):
    post_demo(stack, demo_body())
    drain()
    _, state = get_json(stack, f"/state?{SOURCE}")
    denied = stack.http.post(f"/erase?{SOURCE}", headers=ADMIN, body=b"{}")
    assert denied.status_code == 400 and json.loads(denied.body)["error"] == "confirmation_required"
    response = stack.http.post(f"/erase?{SOURCE}", headers={**ADMIN, "Content-Type": "application/json"}, body=b'{"confirm": true}')
    assert response.status_code == 200, response.body
    assert json.loads(response.body)["audit_entries_removed"] == 2
    assert get_json(stack, f"/state?{SOURCE}")[0] == 404
    from chalicelib.domain.canonical import SourceRef
    from chalicelib.runtime.settings import get_settings
    from chalicelib.store import dynamo, keys

    xref = keys.xref(SourceRef(system="demo_crm", entity="customer", id="C-1001"))
    assert dynamo.get(get_settings().state_table, *xref) is None
    assert get_json(stack, f"/audit?{SOURCE}")[1]["entries"] == []  # the customer's own chain is gone
    from urllib.parse import quote

    erased = json.loads(response.body)
    _, trail = get_json(stack, f"/audit?entity={quote(erased['tombstone'])}")
    (tombstone,) = trail["entries"]
    assert tombstone["action"] == "erased" and tombstone["details"]["subject"] == erased["subject"]
    assert erased["subject"].startswith("masked:") and erased["tombstone"].startswith("erasure#masked:")
    assert state["entity"].split("#", 1)[1] not in json.dumps(trail)
    assert "Acme" not in json.dumps(trail)
    assert get_json(stack, f"/audit/verify?entity={quote(erased['tombstone'])}")[1]["intact"]
    again = stack.http.post(f"/erase?{SOURCE}", headers={**ADMIN, "Content-Type": "application/json"}, body=b'{"confirm": true}')
    assert again.status_code == 404
