"""What an operator sees of a merged customer: the events of every id merged into it, and a repeatable unmerge."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from tests.stack import ADMIN, demo_body, drain, get_json, post_demo

TAX = "91310000MA1FL8XQ3K"


def merged_customer(client: Any) -> tuple[str, str]:
    """C-1 (no tax number) changes grade; C-7 arrives with a tax number; C-1's update carries it too: C-1 merges into C-7."""
    post_demo(client, demo_body("C-1", "Gold", "2026-11-01T08:00:00+08:00"))
    drain()
    post_demo(client, demo_body("C-1", "Platinum", "2026-11-02T08:00:00+08:00"))  # A -> S: fired under C-1's own id
    post_demo(client, demo_body("C-7", "Silver", "2026-11-03T08:00:00+08:00", tax_id=TAX))
    drain()
    _, before = get_json(client, "/state?source=demo_crm/customer/C-1")
    post_demo(client, demo_body("C-1", "Bronze", "2026-11-04T08:00:00+08:00", tax_id="9131 0000 ma1f-l8xq3k"))
    drain()
    _, after = get_json(client, "/state?source=demo_crm/customer/C-1")
    assert after["id"] != before["id"] and before["id"] in after.get("aliases", []), after
    return before["id"], after["id"]


def subjects(client: Any, subject: str) -> list[tuple[str, str]]:
    status, listed = get_json(client, f"/events?limit=50&subject={quote(subject)}")
    assert status == 200, listed
    return sorted((view["event"]["subject"], view["event"]["id"]) for view in listed["events"])


def test_the_events_of_a_merged_customer_are_listed_under_either_id(stack):
    alias, survivor = merged_customer(stack)
    by_alias, by_survivor = subjects(stack, alias), subjects(stack, f"customer#{survivor}")
    assert by_alias == by_survivor
    assert {subject for subject, _ in by_alias} == {alias, survivor}, by_alias
    _, everything = get_json(stack, "/events?limit=50")
    fired = sorted((v["event"]["subject"], v["event"]["id"]) for v in everything["events"] if v["event"]["subject"].startswith("cus_"))
    assert by_alias == fired  # nothing of another customer, nothing of this one missing


def test_events_of_an_unknown_or_unmerged_subject_are_its_own(stack):
    post_demo(stack, demo_body("C-3", "Gold", "2026-11-01T08:00:00+08:00"))
    post_demo(stack, demo_body("C-3", "Silver", "2026-11-02T08:00:00+08:00"))
    drain()
    _, c3 = get_json(stack, "/state?source=demo_crm/customer/C-3")
    assert [s for s, _ in subjects(stack, c3["id"])] == [c3["id"]]
    assert subjects(stack, f"customer#{c3['id']}") == subjects(stack, c3["id"])
    assert subjects(stack, "cus_nobody") == [] and subjects(stack, "ord_nobody") == [] and subjects(stack, "anything#else") == []


def test_an_unmerge_repeated_after_a_lost_reply_answers_the_same_and_writes_nothing(stack):
    alias, survivor = merged_customer(stack)
    headers = {**ADMIN, "Content-Type": "application/json"}
    body = json.dumps({"member": "demo_crm/customer/C-1"}).encode()
    path = f"/identity/unmerge?entity={quote(f'customer#{survivor}')}"
    first = stack.http.post(path, headers=headers, body=body)
    assert first.status_code == 200, first.body
    _, trail = get_json(stack, f"/audit?entity={quote(f'customer#{survivor}')}")

    again = stack.http.post(path, headers=headers, body=body)
    assert again.status_code == 200, again.body
    answer = json.loads(again.body)
    assert answer.pop("already") is True and answer == json.loads(first.body)
    assert answer["to"] == f"customer#{alias}"
    _, trail_after = get_json(stack, f"/audit?entity={quote(f'customer#{survivor}')}")
    assert trail_after["entries"] == trail["entries"], "a repeated unmerge writes no second audit entry"

    other = json.dumps({"member": "demo_crm/customer/C-99"}).encode()  # never a member: still refused
    refused = stack.http.post(path, headers=headers, body=other)
    assert refused.status_code == 400 and json.loads(refused.body)["error"] == "bad_request", refused.body
