"""The rules end to end: Salesforce Outbound Messages through the door, the queue and the processor,
deadlines fired by the scheduled ``fire_timers`` function, events read back from the operator API
(the stand-in's DynamoDB, SQS and SSM over HTTP; the clock is the only thing moved by hand).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.worker import _Context
from tests.rules.outbound import post
from tests.stack import drain, get_json

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # the lead is created (09:00 in Shanghai)
LEAD = "00QHs00001XyZaBMAV"
OWNER = "005Hs00000ABCDeIAH"
SCHEDULE = {"version": "0", "id": "t", "detail-type": "Scheduled Event", "source": "aws.events", "account": "1",
            "time": "", "region": "us-east-1", "resources": [], "detail": {}}  # fmt: skip


def sf_time(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Story:
    """Records arrive at minutes after T0; the clock (the processor's and the timers') follows."""

    def __init__(self, client: Any, monkeypatch: pytest.MonkeyPatch):
        from chalicelib.runtime import clock

        self.client, self.now = client, T0
        monkeypatch.setattr(clock, "now", lambda: self.now)

    def at(self, minutes: float) -> Story:
        self.now = T0 + timedelta(minutes=minutes)
        return self

    def lead(self, lead_id: str = LEAD, **extra: Any) -> None:
        fields = {"Id": lead_id, "Name": "Li Wei", "Company": "Hangzhou Optics Co.", "Status": "Open - Not Contacted",
                  "OwnerId": OWNER, "CreatedDate": sf_time(0), "LastModifiedDate": sf_time(0), **extra}  # fmt: skip
        post(self.client, "Lead", **fields)
        drain()

    def call(self, task_id: str, minutes: float, lead_id: str = LEAD, subtype: str = "Call") -> None:
        when = sf_time(minutes)
        post(self.client, "Task", Id=task_id, Subject="Call", TaskSubtype=subtype, Status="Completed", WhoId=lead_id,
             OwnerId=OWNER, CreatedDate=when, CompletedDateTime=when, LastModifiedDate=when)  # fmt: skip
        drain()

    def tick(self, minutes: float) -> dict[str, Any]:
        """The schedule's run at this minute."""
        import app as application

        self.at(minutes)
        return application.fire_timers(SCHEDULE, _Context("fire_timers"))

    def events(self, event_type: str) -> list[dict[str, Any]]:
        status, body = get_json(self.client, f"/events?type={event_type}")
        assert status == 200, body
        return [view["event"] for view in body["events"]]


@pytest.fixture()
def story(stack, monkeypatch):
    return Story(stack, monkeypatch)


def _every_minute(story: Story, until: int) -> list[dict[str, Any]]:
    return [story.tick(minute) for minute in range(1, until + 1)]


def test_a_lead_nobody_calls_escalates_exactly_once(story):
    story.at(0).lead()
    runs = _every_minute(story, 30)
    fired_at = [minute for minute, run in enumerate(runs, start=1) if run["fired"]]
    assert fired_at == [20]  # due at minute 15, plus the shipped rule's 5 minutes of grace
    [event] = story.events("lead.not_contacted")
    assert event["subject"] == event["data"]["id"]
    assert event["time"].startswith("2026-11-02T01:20:00")
    assert event["data"]["due"].startswith("2026-11-02T01:15:00") and event["data"]["rule"] == "lead_not_contacted"
    assert story.tick(45)["due"] == 0  # fired: out of the timers index


def test_a_lead_called_at_minute_14_does_not_escalate(story):
    story.at(0).lead()
    story.at(14).call("00THs00003CaLLAAA", 14)
    assert not any(run["fired"] for run in _every_minute(story, 30))
    assert story.events("lead.not_contacted") == []


def test_a_call_at_14_delivered_at_17_is_in_time_with_grace(story):
    story.at(0).lead()
    _every_minute(story, 16)
    story.at(17).call("00THs00003CaLLAAA", 14)
    assert not any(run["fired"] for run in _every_minute(story, 30))
    assert story.events("lead.not_contacted") == []


def test_an_email_is_not_the_call_expected(story):
    story.at(0).lead()
    story.at(5).call("00THs00003EmaiAAA", 5, subtype="Email")
    _every_minute(story, 20)
    assert len(story.events("lead.not_contacted")) == 1


def test_redelivered_and_replayed_records_arm_and_fire_once(story):
    story.at(0).lead()
    story.at(1).lead(LastModifiedDate=sf_time(0))  # the same change again (Salesforce re-sends until acknowledged)
    _every_minute(story, 25)
    story.tick(25)  # a second poller in the same minute
    assert len(story.events("lead.not_contacted")) == 1


# ----------------------------------------------------------------------------- without grace
@pytest.fixture()
def without_grace(stack, tmp_path, monkeypatch):
    """The shipped configuration with the speed-to-lead rule's grace taken out."""
    import shutil

    from chalicelib import configuration as loader

    for folder in ("connectors", "mappings"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    rules = tmp_path / "mappings" / "rules" / "sales.yaml"
    text = rules.read_text()
    assert "    grace: 5m" in text
    rules.write_text(text.replace("    grace: 5m", "    grace: 0m"))
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(tmp_path))
    loader.reset()
    yield
    loader.reset()


def test_without_grace_the_late_call_resolves_the_escalation_late(story, without_grace):
    story.at(0).lead()
    fired = [run["fired"] for run in _every_minute(story, 16)]
    assert fired == [0] * 14 + [1, 0]  # due at minute 15 and fired then
    story.at(17).call("00THs00003CaLLAAA", 14)  # made at minute 14, its webhook arrives at minute 17
    story.at(18).call("00THs00003CaLLBBB", 14.5)  # a second late record of the same time span
    _every_minute(story, 30)
    [overdue] = story.events("lead.not_contacted")
    [late] = story.events("lead.not_contacted.resolved_late")
    assert late["time"].startswith("2026-11-02T01:14:00")  # the resolving record's source time
    assert late["data"]["overdue_event"] == overdue["id"]
    assert late["data"]["response"]["entity"] == "activity"


# ----------------------------------------------------------------------------- behaviour windows
def _view(story: Story, event_id: str, hours: float, page: str = "/pricing", customer: str = "C-1001") -> None:
    import hashlib
    import hmac
    import json

    when = (T0 + timedelta(hours=hours)).isoformat()
    body = json.dumps({"event_id": event_id, "event": "page_view", "page": page, "visitor": "v-81", "customer_id": customer,
                       "occurred_at": when}).encode()  # fmt: skip
    signature = "sha256=" + hmac.new(b"local-web-events-secret", body, hashlib.sha256).hexdigest()
    story.at(hours * 60)
    response = story.client.http.post(
        "/webhooks/web_events", headers={"Content-Type": "application/json", "X-Signature": signature}, body=body
    )
    assert response.status_code == 202, response.body
    drain()


def test_three_pricing_views_within_24_hours_fire_once_and_the_window_slides(story):
    _view(story, "ev-1", 0)
    _view(story, "ev-2", 20)
    assert story.events("customer.pricing_interest") == []  # two do not
    _view(story, "ev-3", 25, page="/blog")  # another page does not count
    _view(story, "ev-4", 26)  # the view at hour 0 has left the window: two in (2h, 26h]
    assert story.events("customer.pricing_interest") == []
    _view(story, "ev-5", 30)  # three in (6h, 30h]: 20, 26, 30
    _view(story, "ev-6", 31)  # four: still the same crossing
    _view(story, "ev-5", 30)  # a re-sent event is recognised
    [event] = story.events("customer.pricing_interest")
    assert event["time"].startswith((T0 + timedelta(hours=30)).isoformat()[:19])
    assert event["data"]["value"] == "3" and event["data"]["rule"] == "pricing_interest"
    _view(story, "ev-7", 80)  # quiet for two days: the condition was false ...
    _view(story, "ev-8", 81)
    _view(story, "ev-9", 82)  # ... and crosses again
    assert len(story.events("customer.pricing_interest")) == 2


# ----------------------------------------------------------------------------- stage gates
OPPORTUNITY = "006Hs00001AbCdEIAV"


def _opportunity(story: Story, hours: float, stage: str) -> None:
    when = (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    story.at(hours * 60)
    post(story.client, "Opportunity", Id=OPPORTUNITY, Name="Edge Emergency Generator", StageName=stage, Amount="75000",
         CurrencyIsoCode="USD", OwnerId=OWNER, CloseDate="2026-12-30", LastModifiedDate=when)  # fmt: skip
    drain()


def _task(story: Story, task_id: str, hours: float, task_type: str) -> None:
    when = (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    story.at(hours * 60)
    post(story.client, "Task", Id=task_id, Subject=task_type, Type=task_type, Status="Completed", WhatId=OPPORTUNITY,
         OwnerId=OWNER, CreatedDate=when, LastModifiedDate=when)  # fmt: skip
    drain()


def test_entering_negotiation_without_the_meeting_names_what_is_missing(story):
    _opportunity(story, 0, "Qualification")
    _task(story, "00THs00003QuoTAAA", 1, "Quote")
    _opportunity(story, 2, "Negotiation/Review")
    [event] = story.events("opportunity.stage_gate_skipped")
    assert event["data"]["stage"] == "negotiation" and event["data"]["previous_stage"] == "qualification"
    assert event["data"]["missing"] == [{"kind": "activity", "name": "needs_confirmation_meeting"}]
    _opportunity(story, 3, "Negotiation/Review")  # an update within the stage enters nothing
    assert len(story.events("opportunity.stage_gate_skipped")) == 1


def test_the_meeting_and_the_quote_first_open_the_gate(story):
    _opportunity(story, 0, "Qualification")
    _task(story, "00THs00003MeeTAAA", 1, "Meeting")
    _task(story, "00THs00003QuoTAAA", 1.5, "Quote")
    _opportunity(story, 2, "Negotiation/Review")
    assert story.events("opportunity.stage_gate_skipped") == []


# ----------------------------------------------------------------------------- the dry run
def _try(story: Story, mapping: str, payload: dict[str, Any]) -> dict[str, Any]:
    import json

    from tests.stack import ADMIN

    response = story.client.http.post(
        f"/mappings/{mapping}/try", headers={**ADMIN, "Content-Type": "application/json"}, body=json.dumps(payload)
    )
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def test_the_dry_run_shows_deadlines_set_and_cancelled_and_the_requests_actions_would_send(story):
    lead = {"Id": LEAD, "Status": "Open - Not Contacted", "OwnerId": OWNER, "CreatedDate": sf_time(0), "LastModifiedDate": sf_time(0)}
    story.at(0)
    tried = _try(story, "salesforce_lead", lead)
    [deadline] = tried["deadlines"]
    assert deadline["rule"] == "lead_not_contacted" and deadline["change"] == "set"
    assert deadline["due"].startswith("2026-11-02T01:15:00") and deadline["fire_at"].startswith("2026-11-02T01:20:00")
    assert tried["events"] == [] and tried["actions"] == []
    story.lead()  # nothing was written by the dry run: the real record arms it now
    call = {"Id": "00THs00003CaLLAAA", "TaskSubtype": "Call", "Status": "Completed", "WhoId": LEAD, "OwnerId": OWNER,
            "CreatedDate": sf_time(14), "LastModifiedDate": sf_time(14)}  # fmt: skip
    story.at(14)
    [cancelled] = _try(story, "salesforce_task", call)["deadlines"]
    assert cancelled["change"] == "cancelled" and cancelled["met_at"].startswith("2026-11-02T01:14:00")
    story.at(30)  # the same call, had it arrived after the deadline fired (not yet fired: the schedule has not run)
    tried = _try(story, "salesforce_task", call)
    assert [e["type"] for e in tried["events"]] == ["lead.not_contacted", "lead.not_contacted.resolved_late"]
    [request] = tried["actions"]
    assert request["action"] == "escalate_uncontacted_lead" and request["method"] == "POST"
    assert request["path"] == "/services/data/v60.0/sobjects/Task"
    assert request["body"]["WhoId"] == LEAD and request["body"]["OwnerId"] == OWNER
    assert request["body"]["Subject"].endswith(f"[sb:lead_not_contacted:{request['idempotency_key']}]")
    assert story.events("lead.not_contacted") == []
