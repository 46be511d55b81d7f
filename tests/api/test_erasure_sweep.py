"""Erasure after every kind of traffic: no table keeps anything that names the customer (the masked tombstone aside)."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pytest

from tests.masterdata.test_walkthrough import ERP_SECRET, TAX_NUMBER, erp_customer, erp_order, post_erp
from tests.stack import ADMIN, demo_body, drain, get_json, post_demo

SOURCE = "source=demo_crm/customer/C-1001"
PHONE = "+86 138-0013-8000"


@pytest.fixture()
def walk(stack, monkeypatch):
    monkeypatch.setenv("DEMO_ERP_WEBHOOK_SECRET", ERP_SECRET)
    return stack


def crm(tier: str, updated_at: str) -> bytes:
    return demo_body("C-1001", tier=tier, updated_at=updated_at, tax_id=TAX_NUMBER, phone=PHONE)


def dispatch() -> None:
    import os

    import app as application
    from local.worker import StreamPoller, _Context

    batch: list[dict[str, Any]] = []
    StreamPoller(os.environ["EVENTS_TABLE"]).poll_once(lambda event, ctx: batch.extend(event["Records"]))
    if batch:
        application.dispatch_events({"Records": batch}, _Context())


def every_item() -> dict[str, list[dict[str, Any]]]:
    """Every item of every table infra/resources.py defines, as stored (attribute values as text)."""
    from chalicelib.runtime import aws
    from infra.resources import TABLES

    client, found = aws.client("dynamodb"), {}
    for table in TABLES:
        items, kwargs = [], {"TableName": table.name}
        while True:
            page = client.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        found[table.name] = [_readable(i) for i in items]
    return found


def _readable(item: dict[str, Any]) -> dict[str, Any]:
    """An audit block with its packed entries decoded, so what they hold is searched like any other attribute."""
    from chalicelib.store.audit import decode_entries

    if "B" in item.get("entries", {}):
        return dict(item, entries={"S": json.dumps(decode_entries(item["entries"]["B"]), ensure_ascii=False)})
    return item


def erase(stack, **identifiers: list[str]) -> tuple[int, dict[str, Any]]:
    body = json.dumps({"confirm": True, **({"identifiers": identifiers} if identifiers else {})})
    response = stack.http.post(f"/erase?{SOURCE}", headers={**ADMIN, "Content-Type": "application/json"}, body=body)
    return response.status_code, json.loads(response.body)


def lead_with_the_customers_contact(walk, monkeypatch) -> None:
    """A Salesforce lead carrying the customer's e-mail, phone and company name; nobody calls, so its deadline fires."""
    import app as application
    from chalicelib.runtime import clock
    from local.worker import _Context
    from tests.rules.outbound import post
    from tests.rules.test_rules_pipeline import SCHEDULE, T0, sf_time

    monkeypatch.setattr(clock, "now", lambda: T0)
    fields = {"Id": "00QHs00001XyZaBMAV", "Name": "Li Wei", "Company": "Acme Trading", "Email": "Buyer@Acme.example", "Phone": PHONE}
    post(walk, "Lead", **fields, Status="Open - Not Contacted", OwnerId="005A", CreatedDate=sf_time(0), LastModifiedDate=sf_time(0))
    drain()
    monkeypatch.setattr(clock, "now", lambda: T0 + timedelta(minutes=30))
    assert application.fire_timers(SCHEDULE, _Context("fire_timers"))["fired"] == 1


def erase_to_the_end(stack, **identifiers: list[str]) -> tuple[int, dict[str, Any], int]:
    """Erase as the CLI does: the same request again while the answer says the sweep is not complete."""
    for requests in range(1, 1000):
        status, body = erase(stack, **identifiers)
        if status != 200 or body["complete"]:
            return status, body, requests
        assert not body["swept"] or set(body["swept"]) <= {"inputs", "quarantine", "events", "audit", "state"}
    raise AssertionError("the erasure did not complete")


@pytest.mark.parametrize("one_page_per_request", [False, True], ids=["one request", "a page of 5 items per request"])
def test_erasure_after_every_kind_of_traffic_leaves_nothing_that_names_the_customer(walk, monkeypatch, one_page_per_request):
    """However many requests the sweep takes (a large deployment's takes many), it ends in the same place."""
    if one_page_per_request:
        from chalicelib.api import sovereignty
        from chalicelib.store import erasure

        monkeypatch.setattr(erasure, "PAGE_ITEMS", 5)
        monkeypatch.setattr(sovereignty, "ERASE_MARGIN_SECONDS", float("inf"))  # never time for a second page
    assert post_demo(walk, crm("Gold", "2026-11-01T08:00:00+08:00")).status_code == 202  # applied, raw input kept for replay
    assert post_demo(walk, crm("Gold", "2026-11-01T08:00:00+08:00")).status_code == 202  # the same delivery again: duplicate
    assert post_erp(walk, erp_customer()).status_code == 202  # the ERP's record of the same company: merged by tax number
    drain()
    assert post_demo(walk, crm("Platinum", "2026-11-02T08:00:00+08:00")).status_code == 202  # grade change: an event
    assert post_demo(walk, crm("Titanium", "2026-11-03T08:00:00+08:00")).status_code == 202  # unknown tier: quarantined
    assert post_erp(walk, erp_order()).status_code == 202  # an order: order events naming the customer
    drain()
    lead_with_the_customers_contact(walk, monkeypatch)
    dispatch()
    headers = {**ADMIN, "Content-Type": "application/json", "X-Salesbridge-Actor": "dpo"}
    for status in ("revoked", "granted"):
        body = json.dumps({"category": "inquiry", "status": status})
        assert walk.http.put(f"/consent?{SOURCE}", headers=headers, body=body).status_code == 200

    _, state = get_json(walk, f"/state?{SOURCE}")
    customer_id = state["id"]
    assert sorted(m["system"] for m in state["sources"].values()) == ["demo_crm", "demo_erp"]
    _, quarantined = get_json(walk, "/quarantine")
    assert quarantined["records"], "the Titanium record is quarantined"
    _, events = get_json(walk, "/events?limit=50")
    assert any(customer_id in json.dumps(e) for e in events["events"])
    needles = [customer_id, "C-1001", "ERP-77", "buyer@acme.example", "138-0013-8000", "13800138000", TAX_NUMBER, "9131 0000 ma1f-L8XQ3K"]
    needles += ["Acme Trading", "上海艾克米贸易有限公司"]
    before = json.dumps(every_item(), ensure_ascii=False)
    assert all(n.lower() in before.lower() for n in needles), [n for n in needles if n.lower() not in before.lower()]

    status, erased, requests = erase_to_the_end(walk, phone=[PHONE])  # the person's phone: the customer's own records never held it
    assert status == 200 and erased["complete"], erased
    total = sum(len(items) for items in json.loads(before).values())
    assert requests > total // 5 if one_page_per_request else requests == 1
    assert not any(i["sk"]["S"] == "erasure" for i in every_item()["salesbridge-state"]), "the job goes with the erasure"

    left = {
        table: [item for item in items if any(n.lower() in json.dumps(item, ensure_ascii=False).lower() for n in needles)]
        for table, items in every_item().items()
    }
    assert all(not items for items in left.values()), json.dumps(left, ensure_ascii=False, indent=1)
    (tombstone,) = [i for i in every_item()["salesbridge-audit"] if i["pk"]["S"] == erased["tombstone"]]
    assert [e["action"] for e in json.loads(tombstone["entries"]["S"])] == [
        "erased"
    ]  # named by the masked subject; nothing in it names anyone

    removed = erased["removed"]
    assert removed["inputs"]["deleted"]["raw_input"] >= 4 and removed["quarantine"]["deleted"] == {"record": 1}
    assert {"golden", "xref", "match", "consent", "orders"} <= set(removed["state"]["deleted"]), removed["state"]
    assert removed["events"]["masked"]["event"] >= 3 and removed["audit"]["masked"]
    assert removed["state"]["masked"]["golden"] >= 2, "the order's and the lead's references are masked, the records kept"
    assert removed["audit"]["masked"]["lead"] >= 1
    _, lead = get_json(walk, "/state?source=salesforce/lead/00QHs00001XyZaBMAV")  # the lead stays, without the customer's contact
    assert {lead["fields"][f] for f in ("email", "phone", "company")} == {erased["subject"]}
    assert lead["fields"]["name"] == "Li Wei"
    assert "left" not in removed["audit"], removed["audit"]

    _, report = get_json(walk, f"/usage?entity=customer%23{customer_id}")
    assert report["erasures"][0]["removed"] == removed  # the usage report says what was removed where

    masked_chains = {item["pk"]["S"] for item in every_item()["salesbridge-audit"] if "masked_by" in json.dumps(item)}
    assert masked_chains
    for chain in masked_chains:
        from urllib.parse import quote

        status, verdict = get_json(walk, f"/audit/verify?entity={quote(chain)}")
        assert status == 200 and verdict["intact"], verdict
    assert erase(walk)[0] == 404


def test_identifiers_given_with_the_request_find_copies_the_golden_record_no_longer_names(walk):
    """A revocation removed the e-mail from the golden record; a quarantined payload without the CRM id still holds it."""
    from chalicelib.domain.erasure import Masker

    assert post_demo(walk, demo_body("C-1001")).status_code == 202
    anonymous = {
        "event_id": "evt-no-id",
        "customer": {"email": "Buyer@Acme.example", "tier": "Gold", "updated_at": "2026-11-04T08:00:00+08:00"},
    }
    assert post_demo(walk, json.dumps(anonymous).encode()).status_code == 202
    drain()
    headers = {**ADMIN, "Content-Type": "application/json", "X-Salesbridge-Actor": "dpo"}
    revoke = json.dumps({"category": "contact_personal", "status": "revoked"})
    assert json.loads(walk.http.put(f"/consent?{SOURCE}", headers=headers, body=revoke).body)["purged_fields"] == ["email"]
    (held,) = [i for i in every_item()["salesbridge-quarantine"] if "buyer@acme.example" in json.dumps(i).lower()]

    from chalicelib.api.sovereignty import subject
    from chalicelib.store import dynamo

    _, state = get_json(walk, f"/state?{SOURCE}")
    from_golden = subject("masked:x", state["id"], {"fields": state["fields"], "sources": state["sources"]}, [])
    assert not Masker(from_golden).names(dynamo.from_item(held)), "the golden record alone no longer leads to it"

    bad = walk.http.post(
        f"/erase?{SOURCE}", headers={**ADMIN, "Content-Type": "application/json"}, body=b'{"confirm": true, "identifiers": {"ssn": ["1"]}}'
    )
    assert bad.status_code == 400 and json.loads(bad.body)["error"] == "bad_request"
    body = json.dumps({"confirm": True, "identifiers": {"email": ["buyer@acme.example"]}}).encode()
    response = walk.http.post(f"/erase?{SOURCE}", headers={**ADMIN, "Content-Type": "application/json"}, body=body)
    assert response.status_code == 200, response.body
    assert json.loads(response.body)["removed"]["quarantine"]["deleted"] == {"record": 1}
    assert not any("acme.example" in json.dumps(i).lower() for items in every_item().values() for i in items)


def test_an_item_changed_between_the_sweeps_read_and_its_write_is_not_overwritten(walk):
    """The masked copy is written only over the version read: a record applied meanwhile makes the erasure answer 409."""
    from chalicelib.errors import ConflictError
    from chalicelib.runtime import aws
    from chalicelib.runtime.settings import get_settings
    from chalicelib.store import dynamo
    from chalicelib.store.erasure import _put_masked

    assert post_demo(walk, demo_body("C-1001")).status_code == 202
    drain()
    _, state = get_json(walk, f"/state?{SOURCE}")
    table = get_settings().state_table
    read = dynamo.get(table, f"customer#{state['id']}", "golden")
    assert read is not None
    aws.client("dynamodb").update_item(
        TableName=table, Key=dynamo.key_of(read["pk"], read["sk"]), UpdateExpression="SET version = version + :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )  # fmt: skip
    with pytest.raises(ConflictError):
        _put_masked(table, dict(read, fields={}), read)
    assert dynamo.get(table, read["pk"], read["sk"])["fields"] == read["fields"]


def test_a_customer_sent_again_after_its_erasure_is_applied_afresh(walk):
    """The source still had it: the same golden id comes back, and the tombstone must not stand in its chain's way."""
    assert post_demo(walk, demo_body("C-1001")).status_code == 202
    drain()
    _, before = get_json(walk, f"/state?{SOURCE}")
    status, erased = erase(walk)
    assert status == 200, erased
    assert post_demo(walk, demo_body("C-1001", updated_at="2026-11-05T08:00:00+08:00")).status_code == 202
    drain()
    status, again = get_json(walk, f"/state?{SOURCE}")
    assert status == 200 and again["id"] == before["id"], again
    _, verdict = get_json(walk, f"/audit/verify?{SOURCE}")
    assert verdict["intact"], verdict
    _, report = get_json(walk, f"/usage?{SOURCE}")
    assert report["uses"] == 1 and [e["removed"] for e in report["erasures"]] == [erased["removed"]]


def one_page_per_request(monkeypatch) -> None:
    from chalicelib.api import sovereignty
    from chalicelib.store import erasure

    monkeypatch.setattr(erasure, "PAGE_ITEMS", 5)
    monkeypatch.setattr(sovereignty, "ERASE_MARGIN_SECONDS", float("inf"))


def test_identifiers_a_later_request_adds_start_the_sweep_over(walk, monkeypatch):
    """Tables already swept are searched again for the new identifiers: the quarantined payload holding only the e-mail goes."""
    one_page_per_request(monkeypatch)
    assert post_demo(walk, demo_body("C-1001", email="Buyer@Acme.example")).status_code == 202
    anonymous = {
        "event_id": "evt-no-id",
        "customer": {"email": "Buyer@Acme.example", "tier": "Gold", "updated_at": "2026-11-04T08:00:00+08:00"},
    }
    assert post_demo(walk, json.dumps(anonymous).encode()).status_code == 202
    for n in range(12):
        other = demo_body(f"C-2{n:03}", name=f"Other {n}", email=f"other{n}@example.org")
        assert post_demo(walk, other).status_code == 202  # other customers: more than one page per table
    drain()
    headers = {**ADMIN, "Content-Type": "application/json", "X-Salesbridge-Actor": "dpo"}
    revoke = json.dumps({"category": "contact_personal", "status": "revoked"})
    assert walk.http.put(f"/consent?{SOURCE}", headers=headers, body=revoke).status_code == 200  # the golden record forgets the e-mail

    first = [erase(walk)[1] for _ in range(5)]
    assert [r["complete"] for r in first] == [False] * 5 and first[-1]["swept"], first
    status, restarted = erase(walk, email=["buyer@acme.example"])
    assert status == 200 and restarted["swept"] == [] and restarted["complete"] is False, restarted
    status, erased, _ = erase_to_the_end(walk, email=["buyer@acme.example"])
    assert status == 200 and erased["removed"]["quarantine"]["deleted"] == {"record": 1}, erased
    assert erased["removed"]["state"]["deleted"]["golden"] == 1, "found by both passes, counted once"
    assert not any("acme.example" in json.dumps(i).lower() for items in every_item().values() for i in items)


def test_two_requests_cannot_run_one_erasure_at_once(walk, monkeypatch):
    """The second to save its progress gets 409; the erasure goes on with the next request."""
    from chalicelib.store import erasure

    one_page_per_request(monkeypatch)
    for n in range(8):
        assert post_demo(walk, demo_body(f"C-1{n:03}")).status_code == 202
    drain()
    assert erase(walk)[1]["complete"] is False
    load = erasure.load_job

    def load_while_another_request_saves(table, key):
        job = load(table, key)
        other = load(table, key)
        assert job is not None and other is not None
        erasure.save_job(table, other)  # the other request claims the erasure first
        return job

    monkeypatch.setattr(erasure, "load_job", load_while_another_request_saves)
    status, body = erase(walk)
    assert status == 409 and "another request is erasing this customer" in body["message"], body
    monkeypatch.setattr(erasure, "load_job", load)
    status, erased, _ = erase_to_the_end(walk)
    assert status == 200 and erased["complete"], erased


def test_a_request_that_fails_after_the_tombstone_leaves_one_tombstone(walk, monkeypatch):
    """The next request finds the sweep done and finishes: the same tombstone, not a second one."""
    from chalicelib.store import erasure

    assert post_demo(walk, demo_body("C-1001")).status_code == 202
    drain()
    drop = erasure.drop_job

    def fail(table, job):
        raise OSError("the function was stopped")

    monkeypatch.setattr(erasure, "drop_job", fail)
    assert erase(walk)[0] == 500
    monkeypatch.setattr(erasure, "drop_job", drop)
    status, erased = erase(walk)
    assert status == 200 and erased["complete"], erased
    tombstones = [i for i in every_item()["salesbridge-audit"] if i["pk"]["S"].startswith("erasure#")]
    assert [t["pk"]["S"] for t in tombstones] == [erased["tombstone"]]
    assert erase(walk)[0] == 404


def test_a_page_that_met_a_conflict_is_read_again_by_the_next_request(walk, monkeypatch):
    """The 409 keeps the page's cursor: the event whose masked write was refused is masked by the next request."""
    from chalicelib.errors import ConflictError
    from chalicelib.store import erasure

    one_page_per_request(monkeypatch)
    assert post_demo(walk, demo_body("C-1001")).status_code == 202
    assert post_demo(walk, demo_body("C-1001", tier="Platinum", updated_at="2026-11-02T08:00:00+08:00")).status_code == 202
    drain()
    _, state = get_json(walk, f"/state?{SOURCE}")
    put, refused = erasure._put_masked, []

    def refuse_the_first(table: str, masked: dict[str, Any], read: dict[str, Any]) -> None:
        if not refused:
            refused.append(table)
            raise ConflictError(f"{table}: an item changed while it was being erased; erase again")
        put(table, masked, read)

    monkeypatch.setattr(erasure, "_put_masked", refuse_the_first)
    statuses = []
    for _ in range(100):
        status, erased = erase(walk)
        statuses.append(status)
        if status == 200 and erased["complete"]:
            break
    assert statuses.count(409) == 1 and refused == [os.environ["EVENTS_TABLE"]], (statuses, refused)
    assert erased["removed"]["events"]["masked"] == {"event": 1}, erased
    assert not any(state["id"] in json.dumps(i) for items in every_item().values() for i in items if "erasure#" not in json.dumps(i))


def erase_past_the_audit_table(walk, monkeypatch) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The customer among others (more than a page per table), erased a page per request until the audit table is swept."""
    one_page_per_request(monkeypatch)
    assert post_demo(walk, crm("Gold", "2026-11-01T08:00:00+08:00")).status_code == 202
    for n in range(12):
        other = demo_body(f"C-2{n:03}", name=f"Other {n}", email=f"other{n}@example.org")
        assert post_demo(walk, other).status_code == 202
    drain()
    _, state = get_json(walk, f"/state?{SOURCE}")
    answers: list[dict[str, Any]] = []
    while "audit" not in (answers[-1]["swept"] if answers else []):
        status, body = erase(walk)
        assert status == 200 and body["complete"] is False, body
        answers.append(body)
    return state, answers


def test_a_record_applied_to_the_customer_during_the_sweep_sends_it_round_again(walk, monkeypatch):
    """Its raw input and audit entries land in tables already swept: the pass goes again and ends with nothing left."""
    state, answers = erase_past_the_audit_table(walk, monkeypatch)

    assert post_demo(walk, crm("Platinum", "2026-11-05T08:00:00+08:00")).status_code == 202  # applied meanwhile
    drain()
    fresh = json.dumps(every_item()["salesbridge-inputs"] + every_item()["salesbridge-audit"])
    assert "C-1001" in fresh and state["id"] in fresh, "its copies sit in tables the sweep has passed"
    answers.append(erase(walk)[1])
    while not answers[-1]["complete"] and not answers[-1]["started_over"]:
        answers.append(erase(walk)[1])
    assert answers[-1]["started_over"] and answers[-1]["swept"] == [], answers[-1]
    assert "applied to the customer during the sweep" in answers[-1]["message"]
    status, erased, _ = erase_to_the_end(walk)
    assert status == 200 and erased["complete"], erased

    needles = [state["id"], "C-1001", TAX_NUMBER, "138-0013-8000"]
    left = [i for items in every_item().values() for i in items if any(n in json.dumps(i, ensure_ascii=False) for n in needles)]
    assert not left, json.dumps(left, ensure_ascii=False, indent=1)
    tombstones = [i for i in every_item()["salesbridge-audit"] if i["pk"]["S"].startswith("erasure#")]
    assert [t["pk"]["S"] for t in tombstones] == [erased["tombstone"]]
    assert erased["removed"]["inputs"]["deleted"]["raw_input"] == 2 and erased["removed"]["state"]["deleted"]["golden"] == 1, erased
    assert erase(walk)[0] == 404


@pytest.mark.parametrize("state_pages", [0, 2], ids=["before the state table", "while the state table is swept"])
def test_an_input_quarantined_during_the_sweep_goes_with_the_rest(walk, monkeypatch, state_pages):
    """It changes none of the customer's items (the pass does not start over), yet its copies land in tables already swept."""
    state, _ = erase_past_the_audit_table(walk, monkeypatch)
    for _ in range(state_pages):
        assert erase(walk)[1]["complete"] is False

    assert post_demo(walk, crm("Titanium", "2026-11-05T08:00:00+08:00")).status_code == 202  # unknown tier: quarantined
    drain()
    tables = every_item()
    assert "C-1001" in json.dumps(tables["salesbridge-quarantine"] + tables["salesbridge-inputs"] + tables["salesbridge-audit"])
    status, erased, _ = erase_to_the_end(walk)
    assert status == 200 and erased["complete"], erased

    needles = [state["id"], "C-1001", TAX_NUMBER, "138-0013-8000"]
    left = [i for items in every_item().values() for i in items if any(n in json.dumps(i, ensure_ascii=False) for n in needles)]
    assert not left, json.dumps(left, ensure_ascii=False, indent=1)
    assert erased["removed"]["quarantine"]["deleted"]["record"] == 1, erased
    assert erased["removed"]["inputs"]["deleted"]["raw_input"] == 2, erased


def test_the_start_of_the_pass_is_kept_with_the_job_and_moves_when_the_pass_starts_over(walk):
    """What the end of the sweep lists quarantined records from: saved with the progress, so every request of the erasure agrees."""
    from chalicelib.runtime.settings import get_settings
    from chalicelib.store import erasure

    table, key = get_settings().state_table, ("customer#cus_test", "erasure")
    job = erasure.Job(key, "admin:dpo", "2026-12-01T00:00:00+00:00", [], None)
    job.progress.since = "2026-12-01T00:00:00.000001+00:00"
    erasure.save_job(table, job)
    loaded = erasure.load_job(table, key)
    assert loaded is not None and loaded.progress.since == "2026-12-01T00:00:00.000001+00:00"
    loaded.progress.start_over()
    assert loaded.progress.since is not None and loaded.progress.since > "2026-12-02"


def test_a_customer_changed_just_before_its_golden_record_goes_is_not_deleted_blind(walk):
    """The last step deletes the golden record only as it was when the pass began; otherwise nothing goes and the pass restarts."""
    from chalicelib.runtime.settings import get_settings
    from chalicelib.store import dynamo, erasure, keys

    assert post_demo(walk, crm("Gold", "2026-11-01T08:00:00+08:00")).status_code == 202
    drain()
    _, state = get_json(walk, f"/state?{SOURCE}")
    table, job_key = get_settings().state_table, keys.erasure_job(state["id"])
    versions = erasure.customer_versions(table, job_key)
    assert versions["golden"] >= 1 and "erasure" not in versions
    golden = (job_key[0], "golden")

    assert post_demo(walk, crm("Platinum", "2026-11-05T08:00:00+08:00")).status_code == 202
    drain()
    assert not erasure.delete_if_unchanged(table, job_key, [golden], versions), "a version moved on: nothing is deleted"
    assert dynamo.get(table, *golden) is not None
    now = erasure.customer_versions(table, job_key)
    assert now["golden"] == versions["golden"] + 1
    assert erasure.delete_if_unchanged(table, job_key, [golden], now)
    assert dynamo.get(table, *golden) is None
    assert erasure.delete_if_unchanged(table, job_key, [golden], now), "gone already: as good as deleted (a request that stopped after it)"
