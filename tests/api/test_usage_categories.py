"""The usage report per data category: uses in the last 90 days, for what, by which rule, from which systems."""

from __future__ import annotations

import json

from chalicelib.api.sovereignty import CATEGORIES, usage_by_category
from tests.stack import ADMIN, demo_body, drain, get_json, post_demo

SOURCE = "source=demo_crm/customer/C-1001"
EMAIL_RULE = "mappings/demo_crm_customer.yaml:37"


def rule(field: str) -> str:
    """The mapping rule (file:line) the shipped demo mapping names for a field."""
    from chalicelib.configuration import current

    return str(current().mappings.mappings["demo_crm_customer"].rules[field])


def test_each_category_counts_its_uses_purposes_rules_and_systems(stack):
    post_demo(stack, demo_body(tier="Gold", updated_at="2026-11-01T08:00:00+08:00"))
    post_demo(stack, demo_body(tier="Platinum", updated_at="2026-11-02T08:00:00+08:00"))
    drain()
    status, report = get_json(stack, f"/usage?{SOURCE}")
    assert status == 200
    assert report["uses"] == 2 and report["events_fired"] == {"customer.grade_changed": 1}, "the existing keys are unchanged"
    categories = report["categories"]
    assert set(categories) == set(CATEGORIES)
    commercial = categories["commercial"]
    assert commercial["uses"] == 2 and commercial["fields"] == ["grade"]
    assert commercial["purposes"] == {"master_data": 2, "event:customer.grade_changed": 1}
    assert commercial["rules"] == {rule("grade"): 2, "customer.grade_changed": 1}
    assert commercial["systems"] == {"demo_crm": 2}
    contact = categories["contact_personal"]
    assert (contact["uses"], contact["fields"], contact["rules"], contact["purposes"]) == (
        1,
        ["email"],
        {rule("email"): 1},
        {"master_data": 1},
    )
    assert all(categories[c]["uses"] == 0 for c in ("inquiry", "meeting_recording", "trial_behaviour", "location"))


def test_fields_dropped_for_lack_of_consent_are_counted_per_category(stack):
    post_demo(stack, demo_body(updated_at="2026-11-01T08:00:00+08:00"))
    drain()
    stack.http.put(
        f"/consent?{SOURCE}",
        headers={**ADMIN, "Content-Type": "application/json"},
        body=json.dumps({"category": "contact_personal", "status": "revoked"}),
    )
    post_demo(stack, demo_body(updated_at="2026-11-02T08:00:00+08:00", email="new@acme.example"))
    drain()
    contact = get_json(stack, f"/usage?{SOURCE}")[1]["categories"]["contact_personal"]
    assert contact["dropped"] == 1 and contact["uses"] == 1, "the first record's e-mail was used; the second's was dropped"


def test_only_the_last_90_days_count():
    from datetime import UTC, datetime

    def applied(at: str, correlation: str) -> dict:
        change = {"before": None, "after": "masked:1", "from": "customer.email", "rule": EMAIL_RULE, "category": "contact_personal"}
        return {"action": "applied", "at": at, "correlation_id": correlation, "connector": "crm", "changes": {"email": change}}

    views = [
        applied("2026-06-01T00:00:00+00:00", "old"),
        applied("2026-11-20T00:00:00+00:00", "new"),
        {
            "action": "trigger_fired",
            "at": "2026-11-20T00:00:00+00:00",
            "correlation_id": "new",
            "details": {"type": "lead.followup_overdue"},
        },
    ]
    usage = usage_by_category(views, None, now=datetime(2026, 11, 25, tzinfo=UTC))["contact_personal"]
    assert usage["uses"] == 1 and usage["last_used"] == "2026-11-20T00:00:00+00:00"
    assert usage["purposes"] == {"master_data": 1, "event:lead.followup_overdue": 1}
    assert usage["systems"] == {"crm": 1}
