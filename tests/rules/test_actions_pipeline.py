"""Actions end to end: a fired event becomes a Salesforce Task on the loopback Salesforce REST server.

The lead's escalation goes through the door, the processor, the schedule's ``fire_timers`` and
the events stream's ``dispatch_events`` (moto over HTTP); the vendor is a real HTTP server on
127.0.0.1 that answers as the REST API documents (tests/vendor_servers/salesforce.py).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.rules.outbound import post
from tests.rules.test_rules_pipeline import LEAD, OWNER, Story, sf_time
from tests.stack import ADMIN, get_json

ROOT = Path(__file__).resolve().parents[2]
NO_SLEEP = lambda seconds: None  # noqa: E731


@pytest.fixture()
def salesforce():
    from tests.vendor_servers.salesforce import SalesforceServer

    server = SalesforceServer()
    yield server
    server.stop()


def _config(tmp_path: Path, url: str, extra_rules: str = "") -> Path:
    from chalicelib.runtime import aws

    for folder in ("connectors", "mappings"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    connector = tmp_path / "connectors" / "salesforce.yaml"
    connector.write_text(connector.read_text().replace("https://example.my.salesforce.com", url))
    if extra_rules:
        (tmp_path / "mappings" / "rules" / "loop.yaml").write_text(extra_rules)
    ssm = aws.client("ssm")
    for name, value in {"salesforce/client-id": "3MVG9-client", "salesforce/client-secret": "s3cr3t"}.items():
        ssm.put_parameter(Name=f"/salesbridge/{name}", Value=value, Type="SecureString", Overwrite=True)
    return tmp_path


@pytest.fixture()
def configured(stack, salesforce, tmp_path, monkeypatch):
    from chalicelib import configuration as loader

    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(_config(tmp_path, salesforce.url)))
    loader.reset()
    yield salesforce
    loader.reset()


def _stream() -> list[dict[str, Any]]:
    from local.worker import StreamPoller

    collected: list[dict[str, Any]] = []
    StreamPoller(os.environ["EVENTS_TABLE"]).poll_once(lambda event, ctx: collected.extend(event["Records"]))
    return collected


def _dispatch(records: list[dict[str, Any]]) -> dict[str, Any]:
    import app as application
    from local.worker import _Context

    return application.dispatch_events({"Records": records}, _Context("dispatch_events"))


def _overdue_lead(story: Story) -> str:
    story.at(0).lead()
    for minute in range(1, 21):
        story.tick(minute)
    [event] = story.events("lead.not_contacted")
    return str(event["id"])


def _delivery(story: Story, event_id: str) -> dict[str, Any]:
    _, listing = get_json(story.client, "/events?type=lead.not_contacted")
    [view] = [v for v in listing["events"] if v["event"]["id"] == event_id]
    return view["delivery"]


def _trail(story: Story, event_id: str) -> list[dict[str, Any]]:
    _, trail = get_json(story.client, f"/audit?entity=event%23{event_id}")
    return trail["entries"]


@pytest.fixture()
def story(stack, monkeypatch):
    return Story(stack, monkeypatch)


def test_an_uncontacted_lead_gets_exactly_one_task_in_salesforce(story, configured):
    event_id = _overdue_lead(story)
    records = _stream()
    assert _dispatch(records) == {"batchItemFailures": []}
    assert _dispatch(records) == {"batchItemFailures": []}  # the stream delivers the batch again
    [task] = configured.created["Task"]
    assert task["WhoId"] == LEAD and task["OwnerId"] == OWNER and task["Priority"] == "High"
    assert task["Subject"].startswith("Call this lead now: not contacted within 15m [sb:lead_not_contacted:")
    delivery = _delivery(story, event_id)
    assert delivery["targets"]["action:escalate_uncontacted_lead"]["status"] == "delivered"
    [entry] = [e for e in _trail(story, event_id) if e["details"].get("target") == "action:escalate_uncontacted_lead"]
    assert entry["action"] == "delivered" and "id 00TDx" in entry["details"]["result"]


def test_an_answer_lost_after_salesforce_created_the_task_does_not_create_a_second(story, configured):
    configured.lose_answers = 1  # created, then 503: the attempt looks failed
    event_id = _overdue_lead(story)
    _dispatch(_stream())
    assert len(configured.created["Task"]) == 1
    results = [e["details"]["result"] for e in _trail(story, event_id) if e["details"].get("target", "").startswith("action:")]
    assert results[0].startswith("HTTPStatusError") or "503" in results[0]
    assert "already there" in results[-1]  # the retry found it by its idempotency key
    assert _delivery(story, event_id)["targets"]["action:escalate_uncontacted_lead"]["status"] == "delivered"


def test_retry_after_is_honoured_between_attempts(story, configured):
    from chalicelib.configuration import current
    from chalicelib.dispatch.deliver import Dispatcher
    from chalicelib.runtime.secrets import default_resolver
    from chalicelib.runtime.settings import get_settings
    from tests.vendor_servers.base import json_response

    event_id = _overdue_lead(story)
    busy = json_response([{"message": "busy", "errorCode": "SERVER_UNAVAILABLE"}], 503, {"Retry-After": "7"})
    configured.fail(busy, times=2)
    waits: list[float] = []
    config = current()
    dispatcher = Dispatcher(
        config.subscribers,
        get_settings(),
        default_resolver().get,
        sleep=waits.append,
        actions=config.rules.actions,
        connectors=config.connectors,
    )
    assert dispatcher.deliver(event_id)
    assert waits[:2] == [7.0, 7.0]
    assert len(configured.created["Task"]) == 1
    attempts = [e for e in _trail(story, event_id) if e["details"].get("target") == "action:escalate_uncontacted_lead"]
    assert [e["action"] for e in attempts] == ["delivery_failed", "delivery_failed", "delivered"]  # every attempt audited


def test_a_refused_task_goes_dead_and_is_redriven_once_fixed(story, configured):
    from tests.vendor_servers import salesforce as fake

    fake.REQUIRED["Task"] = ("Subject", "Region__c")  # the org added a validation rule the action does not meet
    try:
        event_id = _overdue_lead(story)
        _dispatch(_stream())
        target = _delivery(story, event_id)["targets"]["action:escalate_uncontacted_lead"]
        assert target["status"] == "dead" and "REQUIRED_FIELD_MISSING" in target["last_error"] or "Region__c" in target["last_error"]
        assert "Task" not in configured.created
    finally:
        fake.REQUIRED["Task"] = ("Subject",)
    response = story.client.http.post(
        "/actions/redrive", headers={**ADMIN, "Content-Type": "application/json"},
        body=json.dumps({"event": event_id, "action": "escalate_uncontacted_lead"}),
    )  # fmt: skip
    assert response.status_code == 200, response.body
    assert json.loads(response.body)["delivery"]["status"] == "delivered"
    assert len(configured.created["Task"]) == 1
    again = story.client.http.post(
        "/actions/redrive", headers={**ADMIN, "Content-Type": "application/json"},
        body=json.dumps({"event": event_id, "action": "escalate_uncontacted_lead"}),
    )  # fmt: skip
    assert again.status_code == 400 and json.loads(again.body)["error"] == "not_dead"
    actions = [e["action"] for e in _trail(story, event_id) if e["details"].get("target") == "action:escalate_uncontacted_lead"]
    assert actions == ["delivery_failed", "dead_lettered", "delivered"]


LOOP = """\
kind: rules
rules:
  - name: task_logged
    on: activity
    when: created and type == "task"
    fire: activity.task_logged
actions:
  - name: follow_up_task
    on: activity.task_logged
    salesforce: {create: Task}
    fields:
      Subject: {value: "Follow up"}
      OwnerId: subject.actor
"""


def test_a_task_written_back_that_returns_as_a_webhook_does_not_fire_its_rule_again(story, stack, salesforce, tmp_path, monkeypatch):
    from chalicelib import configuration as loader

    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(_config(tmp_path, salesforce.url, LOOP)))
    loader.reset()
    story.at(1)
    post(stack, "Task", Id="00THs00003TasKAAA", Subject="Send brochure", Status="Not Started", OwnerId=OWNER,
         CreatedDate=sf_time(1), LastModifiedDate=sf_time(1))  # fmt: skip
    from tests.stack import drain

    drain()
    _dispatch(_stream())
    [written] = salesforce.created["Task"]
    story.at(2)  # the org's outbound message sends the new Task back to salesbridge
    post(stack, "Task", Id=written["Id"], Subject=written["Subject"], Status="Not Started", OwnerId=OWNER,
         CreatedDate=sf_time(2), LastModifiedDate=sf_time(2))  # fmt: skip
    drain()
    _dispatch(_stream())
    assert len(story.events("activity.task_logged")) == 1
    assert len(salesforce.created["Task"]) == 1
    _, trail = get_json(stack, f"/audit?source=salesforce/activity/{written['Id']}")
    [applied] = [e for e in trail["entries"] if e["action"] == "applied"]
    assert [n["kind"] for n in applied["details"]["notes"]] == ["rule_skipped"]
    assert "came back from its own write-back" in applied["details"]["notes"][0]["message"]
