"""A record whose match keys point at two customers is quarantined naming both; an operator who decides they are one
merges them (`salesbridge identity merge`), and the quarantined record is replayed into the one customer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.stack import ADMIN, demo_body, drain, get_json, post_demo

ROOT = Path(__file__).resolve().parents[2]
TAX = "91310000MA1FL8XQ3K"
TWO_KEYS = """kind: identity
entities:
  customer:
    match: [tax_id, email]
"""


@pytest.fixture()
def keyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Any:
    """The shipped configuration with customers matched by tax number first, then e-mail."""
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    shutil.copytree(ROOT / "connectors", tmp_path / "connectors")
    (tmp_path / "mappings" / "identity.yaml").write_text(TWO_KEYS)
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(tmp_path))
    return request.getfixturevalue("stack")


def customer(cid: str, at: str, **extra: Any) -> bytes:
    body = json.loads(demo_body(cid, "Gold", at))
    body["customer"].pop("email")
    body["customer"].update(extra)
    return json.dumps(body).encode()


def admin_post(client: Any, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = client.http.post(path, headers={**ADMIN, "Content-Type": "application/json"}, body=json.dumps(body).encode())
    return response.status_code, json.loads(response.body)


def two_customers_and_a_doubt(client: Any) -> tuple[str, str, dict[str, Any]]:
    post_demo(client, customer("C-1", "2026-11-01T08:00:00+08:00", tax_id=TAX))
    post_demo(client, customer("C-2", "2026-11-01T09:00:00+08:00", email="buyer@acme.example"))
    drain()
    post_demo(client, customer("C-3", "2026-11-02T08:00:00+08:00", tax_id=TAX, email="Buyer@Acme.example"))
    drain()
    _, one = get_json(client, "/state?source=demo_crm/customer/C-1")
    _, two = get_json(client, "/state?source=demo_crm/customer/C-2")
    _, listed = get_json(client, "/quarantine?limit=10")
    (doubt,) = listed["records"]
    return one["id"], two["id"], doubt


def test_a_record_matching_two_customers_is_quarantined_naming_both(keyed):
    one, two, doubt = two_customers_and_a_doubt(keyed)
    assert doubt["code"] == "ambiguous_identity", doubt
    assert f"customer#{one}" in doubt["message"] and f"customer#{two}" in doubt["message"], doubt
    assert get_json(keyed, "/state?source=demo_crm/customer/C-3")[0] == 404  # never guessed


def test_the_operator_merges_them_and_the_doubtful_record_joins(keyed):
    one, two, doubt = two_customers_and_a_doubt(keyed)
    status, answer = admin_post(keyed, f"/identity/merge?entity={quote(f'customer#{one}')}", {"with": f"customer#{two}"})
    assert status == 200, answer
    assert {answer["into"], answer["merged"]} == {f"customer#{one}", f"customer#{two}"}
    assert [r["status"] for r in answer["released"]] == ["applied"], answer
    assert answer["released"][0]["id"] == doubt["id"]

    _, merged = get_json(keyed, "/state?source=demo_crm/customer/C-3")
    assert sorted(merged["sources"]) == ["demo_crm/customer/C-1", "demo_crm/customer/C-2", "demo_crm/customer/C-3"]
    assert f"customer#{merged['id']}" == answer["into"]
    _, trail = get_json(keyed, f"/audit?entity={quote(answer['into'])}")
    merged_entry = next(e for e in trail["entries"] if e["action"] == "merged")
    assert merged_entry["actor"] and merged_entry["details"]["decided_by"] == "operator", merged_entry
    _, folded_trail = get_json(keyed, f"/audit?entity={quote(answer['merged'])}")
    assert "merged_into" in [e["action"] for e in folded_trail["entries"]]
    for entity in (answer["into"], answer["merged"]):
        verdict = keyed.http.get(f"/audit/verify?entity={quote(entity)}", headers=ADMIN)
        assert json.loads(verdict.body)["intact"] is True, verdict.body

    status, again = admin_post(keyed, f"/identity/merge?entity={quote(answer['into'])}", {"with": answer["merged"]})
    assert status == 200 and again["already"] is True and again["released"] == [], again


@pytest.mark.parametrize(
    ("entity", "body", "status"),
    [
        ("customer#cus_nobody", {"with": "customer#cus_other"}, 404),
        ("customer#cus_same", {"with": "customer#cus_same"}, 400),
        ("customer#cus_a", {"with": "order#ord_b"}, 400),
        ("customer#cus_a", {"with": "no hash"}, 400),
        ("customer#cus_a", {"with": ["customer#cus_b"]}, 400),
        ("customer#cus_a", {}, 400),
    ],
)
def test_a_merge_of_what_cannot_be_merged_is_refused_with_a_reason(stack, entity, body, status):
    code, answer = admin_post(stack, f"/identity/merge?entity={quote(entity)}", body)
    assert code == status and answer["error"] and answer["message"], answer
