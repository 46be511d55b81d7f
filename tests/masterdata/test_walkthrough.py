"""README walkthrough "CRM + ERP → one customer", through the real handlers and the AWS stand-in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.stack import ADMIN, demo_body, demo_signature, drain, get_json, post_demo

ERP_SECRET = "demo-erp-secret"
TAX_NUMBER = "91310000MA1FL8XQ3K"


@pytest.fixture()
def walk(stack, monkeypatch):
    monkeypatch.setenv("DEMO_ERP_WEBHOOK_SECRET", ERP_SECRET)
    return stack


def erp_body(obj: str, data: dict[str, Any], event_id: str) -> bytes:
    return json.dumps({"event_id": event_id, "object": obj, "data": data}).encode()


def post_erp(client: Any, body: bytes) -> Any:
    headers = {"Content-Type": "application/json", "X-Demo-Signature": demo_signature(body, ERP_SECRET)}
    return client.http.post("/webhooks/demo_erp", headers=headers, body=body)


def erp_customer(tax_no: str = "9131 0000 ma1f-L8XQ3K", modified: str = "2026-11-01T09:00:00+08:00") -> bytes:
    data = {"id": "ERP-77", "name": "上海艾克米贸易有限公司", "tax_no": tax_no, "credit_limit": "50000.00", "modified": modified}
    return erp_body("customer", data, f"erp-77-{modified}")


def erp_order(total: str = "80000.00") -> bytes:
    data = {
        "id": "SO-1",
        "customer": "ERP-77",
        "currency": "CNY",
        "total": total,
        "status": "confirmed",
        "placed": "2026-11-03T10:00:00+08:00",
        "modified": "2026-11-03T10:00:00+08:00",
        "lines": [{"line": 1, "sku": "SKU-1001", "qty": 100, "price": "800.00", "amount": total}],
    }
    return erp_body("order", data, "erp-so-1")


def crm_customer() -> bytes:
    return demo_body("C-1001", tier="Gold", tax_id=TAX_NUMBER, credit_limit="999999.00")


def test_a_crm_account_and_an_erp_customer_with_one_tax_number_are_one_customer(walk):
    assert post_demo(walk, crm_customer()).status_code == 202
    assert post_erp(walk, erp_customer()).status_code == 202
    drain()

    status, crm_view = get_json(walk, "/state?source=demo_crm/customer/C-1001")
    assert status == 200, crm_view
    status, erp_view = get_json(walk, "/state?source=demo_erp/customer/ERP-77")
    assert status == 200, erp_view
    assert crm_view["id"] == erp_view["id"] and crm_view["id"].startswith("cus_k0_")

    fields, provenance = crm_view["fields"], crm_view["provenance"]
    assert fields["grade"] == "A" and provenance["grade"]["system"] == "demo_crm"  # the CRM owns the grade
    assert fields["credit_limit"] == "50000.00" and provenance["credit_limit"]["system"] == "demo_erp"  # the ERP owns credit
    assert fields["name"] == "上海艾克米贸易有限公司"  # survivorship prefers the ERP's legal name
    assert sorted(m["system"] for m in crm_view["sources"].values()) == ["demo_crm", "demo_erp"]
    # the CRM's credit limit is kept on its member, never applied
    assert crm_view["sources"]["demo_crm/customer/C-1001"]["fields"]["credit_limit"] == "999999.00"


def test_an_erp_order_fires_credit_limit_exceeded_and_a_rule_on_the_crm_grade(walk):
    post_demo(walk, crm_customer())
    post_erp(walk, erp_customer())
    drain()
    assert post_erp(walk, erp_order()).status_code == 202
    drain()

    _, customer = get_json(walk, "/state?source=demo_erp/customer/ERP-77")
    _, listed = get_json(walk, "/events?limit=50")
    fired = [view["event"] for view in listed["events"]]
    rules = sorted(e["data"].get("rule") for e in fired if e["type"].startswith("order."))
    assert rules == ["credit_limit_exceeded", "key_account_order"], fired
    credit = next(e for e in fired if e["data"].get("rule") == "credit_limit_exceeded")
    assert json.dumps(credit["data"]).count(customer["id"]) >= 1, credit


def test_arrival_order_does_not_change_the_customer(walk):
    """ERP first, then the CRM: the same one customer with the same id and values."""
    post_erp(walk, erp_customer())
    drain()
    post_demo(walk, crm_customer())
    drain()
    _, view = get_json(walk, "/state?source=demo_crm/customer/C-1001")
    assert view["id"].startswith("cus_k0_")
    assert view["fields"]["grade"] == "A" and view["fields"]["credit_limit"] == "50000.00"
    _, trail = get_json(walk, f"/audit?entity=customer%23{view['id']}")
    assert trail["entries"], trail
    response = walk.http.get(f"/audit/verify?entity=customer%23{view['id']}", headers=ADMIN)
    assert response.status_code == 200 and json.loads(response.body)["intact"] is True, response.body


def test_identity_show_lists_members_keys_and_cross_references(walk):
    post_demo(walk, crm_customer())
    post_erp(walk, erp_customer())
    drain()
    status, shown = get_json(walk, "/identity?source=demo_crm/customer/C-1001")
    assert status == 200, shown
    assert [m["source"] for m in shown["members"]] == ["demo_crm/customer/C-1001", "demo_erp/customer/ERP-77"]
    entity_id = shown["entity"].split("#", 1)[1]
    assert all(m["cross_reference"] == entity_id and m["keys"] == [f"tax_id:{TAX_NUMBER}"] for m in shown["members"])
    assert shown["match_keys"] == {f"tax_id:{TAX_NUMBER}": entity_id}


def test_unmerge_separates_a_wrong_match_and_keeps_it_apart(walk):
    post_demo(walk, crm_customer())
    post_erp(walk, erp_customer())
    drain()
    _, joined = get_json(walk, "/state?source=demo_crm/customer/C-1001")
    headers = {**ADMIN, "Content-Type": "application/json"}
    body = json.dumps({"member": "demo_erp/customer/ERP-77"}).encode()
    response = walk.http.post(f"/identity/unmerge?entity=customer%23{joined['id']}", headers=headers, body=body)
    assert response.status_code == 200, response.body
    moved_to = json.loads(response.body)["to"]

    _, crm_view = get_json(walk, "/state?source=demo_crm/customer/C-1001")
    _, erp_view = get_json(walk, "/state?source=demo_erp/customer/ERP-77")
    assert crm_view["id"] == joined["id"] and f"customer#{erp_view['id']}" == moved_to
    assert "credit_limit" not in crm_view["fields"] and crm_view["fields"]["grade"] == "A"  # recomputed from its own member
    assert erp_view["fields"]["credit_limit"] == "50000.00" and "grade" not in erp_view["fields"]

    # The ERP's next update carries the same tax number: it stays apart.
    post_erp(walk, erp_customer(modified="2026-11-07T09:00:00+08:00"))
    drain()
    _, again = get_json(walk, "/state?source=demo_erp/customer/ERP-77")
    assert again["id"] == erp_view["id"] and len(again["sources"]) == 1
    _, trail = get_json(walk, f"/audit?entity=customer%23{joined['id']}")
    assert "unmerged" in [e["action"] for e in trail["entries"]]

    repeated = walk.http.post(f"/identity/unmerge?entity=customer%23{joined['id']}", headers=headers, body=body)
    assert repeated.status_code == 200 and json.loads(repeated.body)["already"] is True, repeated.body  # still apart: same answer
    wrong = walk.http.post(f"/identity/unmerge?entity=customer%23{erp_view['id']}", headers=headers, body=body)
    assert wrong.status_code == 400 and json.loads(wrong.body)["error"] == "bad_request", wrong.body  # its own, only member
