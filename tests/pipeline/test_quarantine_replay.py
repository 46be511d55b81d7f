"""Quarantine and replay (SPEC §3 "Nothing lost"): listed, inspected, fixed, replayed, audited, once."""

from __future__ import annotations

import time
from urllib.parse import quote

from tests.faults.harness import chains_intact, reset_caches, snapshot
from tests.stack import demo_body

TITANIUM_AT = "2026-11-02T08:00:00+08:00"


def _quarantine_titanium(harness, customer: str = "C-3") -> dict:
    assert harness.post("demo_crm", demo_body(customer, "Gold", "2026-11-01T08:00:00+08:00")) == 202
    assert harness.post("demo_crm", demo_body(customer, "Titanium", TITANIUM_AT)) == 202
    harness.drain()
    status, listing = harness.get("/quarantine?connector=demo_crm")
    assert status == 200
    (record,) = [r for r in listing["records"] if r["dedupe_key"] == f"demo_crm:evt-{customer}-{TITANIUM_AT}"]
    return record


def _fix_mapping() -> None:
    """The operator adds the new tier to the vocabulary (an edited copy of the shipped file)."""
    from chalicelib.runtime.settings import get_settings

    path = get_settings().config_dir / "mappings" / "demo_crm_customer.yaml"
    text = path.read_text()
    assert "Platinum: S," in text
    path.write_text(text.replace("Platinum: S,", "Platinum: S, Titanium: S,"))
    reset_caches()


def test_unknown_grade_is_quarantined_with_an_actionable_reason(harness):
    record = _quarantine_titanium(harness)
    assert record["status"] == "open" and record["code"] == "unknown_value" and record["field"] == "grade"
    assert "Titanium" in record["message"] and "mappings/demo_crm_customer.yaml" in record["message"] and "map:" in record["message"]
    assert record["connector"] == "demo_crm" and record["mapping"] == "demo_crm_customer" and record["mapping_version"]
    status, shown = harness.get(f"/quarantine/{record['id']}")
    assert status == 200
    assert shown["input"]["payload"]["customer"]["tier"] == "Titanium"  # the raw input is kept for the replay
    assert shown["input"]["connector"] == "demo_crm"
    _, trail = harness.get(f"/audit?entity={quote('input#' + record['dedupe_key'])}")
    assert [e["action"] for e in trail["entries"]] == ["received", "quarantined"]
    assert trail["entries"][1]["details"]["quarantine_id"] == record["id"]
    # Nothing changed the customer: still Gold.
    _, state = harness.get("/state?source=demo_crm/customer/C-3")
    assert state["fields"]["grade"] == "A"


def test_redelivered_quarantined_input_is_not_quarantined_twice(harness):
    record = _quarantine_titanium(harness)
    body = demo_body("C-3", "Titanium", TITANIUM_AT)
    assert harness.post("demo_crm", body) == 202
    harness.enqueue_late_copy(body)
    harness.drain()
    _, listing = harness.get("/quarantine")
    assert [r["id"] for r in listing["records"]] == [record["id"]]
    _, again = harness.get(f"/quarantine/{record['id']}")
    assert again["attempts"] == 1 and again["status"] == "open"
    _, trail = harness.get(f"/audit?entity={quote('input#' + record['dedupe_key'])}")
    assert [e["action"] for e in trail["entries"]] == ["received", "quarantined"]


def test_replay_after_the_mapping_is_fixed_applies_it_and_audits_who_and_which_version(harness):
    record = _quarantine_titanium(harness)
    old_version = record["mapping_version"]
    _fix_mapping()
    _, health = harness.get("/health/details")
    new_version = health["versions"]["demo_crm_customer"]
    assert new_version != old_version

    status, result = harness.post_admin(f"/quarantine/{record['id']}/replay", actor="alice")
    assert status == 200, result
    assert result["status"] == "applied" and len(result["events"]) == 1

    _, state = harness.get("/state?source=demo_crm/customer/C-3")
    assert state["fields"]["grade"] == "S"
    _, shown = harness.get(f"/quarantine/{record['id']}")
    assert shown["status"] == "replayed" and shown["replayed_by"] == "admin:alice"
    assert shown["expires_at"] > time.time() + 13 * 86400  # closed: kept as long as raw inputs are

    _, trail = harness.get("/audit?source=demo_crm/customer/C-3")
    actions = [e["action"] for e in trail["entries"]]
    assert actions == ["received", "applied", "replayed", "applied", "trigger_fired"]
    replayed, applied = trail["entries"][2], trail["entries"][3]
    assert replayed["actor"] == "admin:alice" and replayed["details"]["replayed_by"] == "admin:alice"
    assert replayed["mapping_version"] == new_version and applied["mapping_version"] == new_version
    grade = applied["changes"]["grade"]
    assert grade == {"before": "A", "after": "S", "from": grade["from"], "rule": grade["rule"]}
    assert grade["rule"].startswith("mappings/demo_crm_customer.yaml:")

    _, events = harness.get("/events?type=customer.grade_changed")
    (event,) = [e["event"] for e in events["events"]]
    assert event["id"] == result["events"][0] and event["mappingversion"] == new_version

    status, error = harness.post_admin(f"/quarantine/{record['id']}/replay", actor="alice")
    assert status == 409 and error["error"] == "already_replayed"
    assert snapshot()["inputs"][record["dedupe_key"]] == "applied"  # the input's one final outcome
    assert chains_intact() == {}


def test_replay_before_the_fix_stays_quarantined_and_can_be_replayed_later(harness):
    record = _quarantine_titanium(harness)
    status, result = harness.post_admin(f"/quarantine/{record['id']}/replay", actor="bob")
    assert status == 200 and result["status"] == "quarantined"
    _, shown = harness.get(f"/quarantine/{record['id']}")
    assert shown["status"] == "open" and shown["attempts"] == 2
    _fix_mapping()
    status, result = harness.post_admin(f"/quarantine/{record['id']}/replay", actor="bob")
    assert status == 200 and result["status"] == "applied"
    _, trail = harness.get(f"/audit?entity={quote('input#' + record['dedupe_key'])}")
    assert [e["action"] for e in trail["entries"]] == ["received", "quarantined", "replayed", "quarantined"]
    assert trail["entries"][2]["actor"] == "admin:bob"
    assert chains_intact() == {}


def test_replay_by_filter_replays_every_matching_record_once(harness):
    records = [_quarantine_titanium(harness, c) for c in ("C-4", "C-5", "C-6")]
    _fix_mapping()
    status, result = harness.post_admin("/quarantine/replay", {"connector": "demo_crm", "code": "unknown_value"}, actor="carol")
    assert status == 200, result
    assert result["replayed"] == 3 and {r["status"] for r in result["results"]} == {"applied"}
    assert {r["id"] for r in result["results"]} == {r["id"] for r in records}
    status, again = harness.post_admin("/quarantine/replay", {"connector": "demo_crm"}, actor="carol")
    assert status == 200 and again["replayed"] == 0
    _, listing = harness.get("/quarantine?status=open")
    assert listing["records"] == []
    harness.dispatch()
    assert sorted(harness.tap()) == sorted(e for r in result["results"] for e in r["events"])
    assert chains_intact() == {}


def _replay_to_the_end(harness, body: dict, actor: str) -> tuple[list[dict], int]:
    """Replay as the CLI does: the same request, ``after`` the previous answer's ``next``, until it is complete."""
    results, after = [], None
    for requests in range(1, 100):
        status, answer = harness.post_admin("/quarantine/replay", body | ({"after": after} if after else {}), actor=actor)
        assert status == 200, answer
        results += answer["results"]
        if answer["complete"]:
            assert answer["next"] is None
            return results, requests
        after = answer["next"]
    raise AssertionError("the replay did not complete")


def test_a_replay_larger_than_one_request_goes_on_from_where_it_stopped(harness, monkeypatch):
    """Each open record is taken once along the chain of requests, even those that stay quarantined."""
    from chalicelib.api import admin

    monkeypatch.setattr(admin, "REPLAY_PAGE", 2)
    monkeypatch.setattr(admin, "REPLAY_MARGIN_SECONDS", float("inf"))  # one page per request
    records = {_quarantine_titanium(harness, f"C-{n}")["id"] for n in range(10, 17)}
    before_the_fix, requests = _replay_to_the_end(harness, {"connector": "demo_crm"}, "carol")
    assert sorted(r["id"] for r in before_the_fix) == sorted(records) and requests >= 4
    assert {r["status"] for r in before_the_fix} == {"quarantined"}  # still failing, and not taken twice
    _fix_mapping()
    after_the_fix, _ = _replay_to_the_end(harness, {"connector": "demo_crm"}, "carol")
    assert sorted(r["id"] for r in after_the_fix) == sorted(records) and {r["status"] for r in after_the_fix} == {"applied"}
    _, listing = harness.get("/quarantine?status=open")
    assert listing["records"] == []
    assert chains_intact() == {}


def test_a_request_whose_pages_match_nothing_still_stops_by_the_time_left(harness, monkeypatch):
    """Records the filter passes over cost time too: each request reads one page here, matching or not."""
    from chalicelib.api import admin

    monkeypatch.setattr(admin, "REPLAY_PAGE", 1)
    monkeypatch.setattr(admin, "REPLAY_MARGIN_SECONDS", float("inf"))  # one page per request
    for n in (30, 31, 32):
        _quarantine_titanium(harness, f"C-{n}")
    results, requests = _replay_to_the_end(harness, {"code": "no_mapping"}, "dave")
    assert results == [] and requests >= 3


def test_a_replay_continued_with_a_forged_or_foreign_cursor_is_a_400(harness, monkeypatch):
    from chalicelib.api import admin

    monkeypatch.setattr(admin, "REPLAY_PAGE", 1)
    monkeypatch.setattr(admin, "REPLAY_MARGIN_SECONDS", float("inf"))
    for n in (20, 21):
        _quarantine_titanium(harness, f"C-{n}")
    status, first = harness.post_admin("/quarantine/replay", {"connector": "demo_crm"}, actor="carol")
    assert status == 200 and first["complete"] is False and first["next"], first
    for body in (
        {"connector": "demo_crm", "after": "not-a-cursor"},
        {"after": first["next"]},  # a cursor of the connector's listing, used without the connector
        {"connector": "demo_crm", "after": ""},
        {"connector": "demo_crm", "after": "x" * 5000},
        {"connector": "demo_crm", "after": 7},
    ):
        status, refused = harness.post_admin("/quarantine/replay", body, actor="carol")
        assert status == 400 and refused["error"] in ("bad_request", "invalid_body") and "after" in refused["message"], (body, refused)
    _, listing = harness.get("/quarantine?status=open")
    assert len(listing["records"]) == 2  # nothing replayed by a refused request (the first one's replay stayed quarantined)


def test_filter_that_matches_nothing_replays_nothing(harness):
    _quarantine_titanium(harness)
    status, result = harness.post_admin("/quarantine/replay", {"code": "no_mapping"}, actor="dave")
    assert status == 200 and result["replayed"] == 0
    _, listing = harness.get("/quarantine?status=open")
    assert len(listing["records"]) == 1


def test_replay_through_a_mapping_that_now_filters_the_record_out_closes_the_quarantine(harness):
    """The fix may be "we do not want these": the replay is skipped, audited, and the record is closed."""
    from chalicelib.runtime.settings import get_settings

    record = _quarantine_titanium(harness)
    path = get_settings().config_dir / "mappings" / "demo_crm_customer.yaml"
    path.write_text(path.read_text().replace("owner: demo_crm ", "filter: 'record.customer.tier != \"Titanium\"'\nowner: demo_crm ", 1))
    reset_caches()
    status, result = harness.post_admin(f"/quarantine/{record['id']}/replay", actor="erin")
    assert status == 200 and result["status"] == "skipped", result
    _, shown = harness.get(f"/quarantine/{record['id']}")
    assert shown["status"] == "replayed" and shown["replayed_by"] == "admin:erin"
    status, again = harness.post_admin("/quarantine/replay", {"connector": "demo_crm"}, actor="erin")
    assert status == 200 and again["replayed"] == 0
    _, trail = harness.get(f"/audit?entity={quote('input#' + record['dedupe_key'])}")
    assert [e["action"] for e in trail["entries"]] == ["received", "quarantined", "replayed", "skipped"]
    assert snapshot()["inputs"][record["dedupe_key"]] == "skipped"
    assert chains_intact() == {}


def test_two_replays_of_one_record_at_the_same_moment_apply_it_once(stack, tmp_path, monkeypatch):
    """Two operators press replay together: one applies it, the other finds it done; one audit trail."""
    import json
    import shutil
    import threading
    from pathlib import Path

    from chalicelib import configuration as loader
    from chalicelib.api.admin import replay_one
    from chalicelib.runtime import settings as settings_module
    from tests.stack import ADMIN, drain, post_demo

    post_demo(stack, demo_body(tier="Titanium"))
    drain()
    (record,) = json.loads(stack.http.get("/quarantine", headers=ADMIN).body)["records"]
    root = Path(__file__).resolve().parents[2]
    for folder in ("connectors", "mappings"):
        shutil.copytree(root / folder, tmp_path / folder)
    path = tmp_path / "mappings" / "demo_crm_customer.yaml"
    path.write_text(path.read_text().replace("Platinum: S", "Platinum: S, Titanium: S"))
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(tmp_path))
    settings_module.reset_settings()
    loader.reset()
    config, settings = loader.current(), settings_module.get_settings()

    results: list[object] = []
    start = threading.Barrier(2)

    def replay(actor: str) -> None:
        start.wait()
        try:
            results.append(replay_one(config, settings, record["id"], actor)["status"])
        except Exception as exc:  # noqa: BLE001 - the loser may find the record already replayed (409)
            results.append(getattr(exc, "code", repr(exc)))

    threads = [threading.Thread(target=replay, args=(f"admin:{name}",)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, results)) in (["already_replayed", "applied"], ["applied", "duplicate"]), results
    trail = json.loads(stack.http.get("/audit?source=demo_crm/customer/C-1001", headers=ADMIN).body)
    assert [e["action"] for e in trail["entries"]] == ["replayed", "applied"]


def _edited_text() -> str:
    from chalicelib.runtime.settings import get_settings

    text = (get_settings().config_dir / "mappings" / "demo_crm_customer.yaml").read_text()
    return text.replace("Platinum: S,", "Platinum: S, Titanium: S,")


def test_replay_through_a_mapping_file_dry_runs_first_and_applies_only_that_file_once_deployed(harness):
    record = _quarantine_titanium(harness)
    edited = _edited_text()
    qid = record["id"]

    # 1. The dry run through the edited file: what it would do now, nothing stored.
    status, dry = harness.post_admin(f"/quarantine/{qid}/replay", {"mapping_file": edited, "dry_run": True})
    assert status == 200 and dry["dry_run"] is True and dry["outcome"] == "applied", dry
    assert dry["changes"]["grade"] == {"before": "A", "after": "S"}
    assert [e["type"] for e in dry["events"]] == ["customer.grade_changed"]
    _, still = harness.get(f"/quarantine/{qid}")
    _, state = harness.get("/state?source=demo_crm/customer/C-3")
    assert still["status"] == "open" and state["fields"]["grade"] == "A"

    # 2. Applying the file while another version is deployed is refused: later records would not go through it.
    status, refused = harness.post_admin(f"/quarantine/{qid}/replay", {"mapping_file": edited})
    assert status == 409 and refused["error"] == "mapping_not_deployed" and "deploy the file" in refused["message"]
    status, refused = harness.post_admin("/quarantine/replay", {"connector": "demo_crm", "mapping_file": edited})
    assert status == 409 and refused["error"] == "mapping_not_deployed"

    # 3. Deployed, the same file replays; the audit names its version.
    _fix_mapping()
    status, done = harness.post_admin("/quarantine/replay", {"connector": "demo_crm", "mapping_file": edited}, actor="alice")
    assert status == 200 and done["replayed"] == 1 and done["results"][0]["status"] == "applied", done
    _, state = harness.get("/state?source=demo_crm/customer/C-3")
    assert state["fields"]["grade"] == "S"
    _, trail = harness.get("/audit?source=demo_crm/customer/C-3")
    [replayed] = [e for e in trail["entries"] if e["action"] == "replayed"]
    assert replayed["actor"] == "admin:alice" and replayed["mapping_version"] == dry["mapping_version"]


def test_a_mapping_file_for_another_source_or_broken_is_a_clear_400(harness):
    from pathlib import Path

    record = _quarantine_titanium(harness)
    other = (Path(__file__).resolve().parents[2] / "mappings" / "shopify_orders.yaml").read_text()
    status, answer = harness.post_admin(f"/quarantine/{record['id']}/replay", {"mapping_file": other, "dry_run": True})
    assert status == 400 and "demo_crm customer" in answer["message"] and set(answer) == {"error", "message"}
    status, answer = harness.post_admin(f"/quarantine/{record['id']}/replay", {"mapping_file": "kind: mapping\nfields: [", "dry_run": True})
    assert status == 400 and answer["error"] == "invalid_mapping"
    status, answer = harness.post_admin(f"/quarantine/{record['id']}/replay", {"mapping_file": 7})
    assert status == 400 and answer["error"] == "invalid_body" and "mapping_file" in answer["message"]
