"""企业微信 / 钉钉 message actions end to end: an overdue lead posts to each group's robot, at most once.

The lead's escalation goes through the door, the processor, ``fire_timers`` and ``dispatch_events``
(moto over HTTP); the robots are real HTTP servers on 127.0.0.1 that answer as the webhook APIs
document (tests/vendor_servers/robots.py), reached through the connector files' base URLs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import Crash, Fault, arm, chains_intact, disarm
from tests.faults.scenarios import is_delivery_record
from tests.rules.test_actions_pipeline import _config, _delivery, _dispatch, _overdue_lead, _stream, _trail
from tests.rules.test_rules_pipeline import OWNER, Story
from tests.stack import ADMIN

MOBILE = "13800001111"
NOTIFY = f"""\
kind: rules
actions:
  - name: tell_the_team
    on: lead.not_contacted
    wecom:
      mention_mobile: {{path: subject.owner, transforms: [{{map: {{values: {{"{OWNER}": "{MOBILE}"}}}}}}]}}
    fields:
      content: {{expr: '"Lead " + subject.id + " not contacted within " + data.within'}}
  - name: tell_the_managers
    on: lead.not_contacted
    dingtalk:
      mention_mobile: {{path: subject.owner, transforms: [{{map: {{values: {{"{OWNER}": "{MOBILE}"}}}}}}]}}
    fields:
      content: {{expr: '"超时未联系 lead " + subject.id'}}
"""
WECOM, DING = "action:tell_the_team", "action:tell_the_managers"


@pytest.fixture()
def robots(stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """Salesforce, the WeCom and the DingTalk robots on loopback; the connector files point at them."""
    from chalicelib import configuration as loader
    from chalicelib.runtime import aws
    from tests.vendor_servers.robots import DingTalkRobot, WeComRobot
    from tests.vendor_servers.salesforce import SalesforceServer

    salesforce, wecom, ding = SalesforceServer(), WeComRobot(), DingTalkRobot()
    root = _config(tmp_path, salesforce.url, NOTIFY)
    for name, robot in (("wecom_robot", wecom), ("dingtalk_robot", ding)):
        connector = root / "connectors" / f"{name}.yaml"
        text = connector.read_text()
        connector.write_text(text.replace("https://qyapi.weixin.qq.com", robot.url).replace("https://oapi.dingtalk.com", robot.url))
    secrets = {"wecom/robot-key": wecom.key, "dingtalk/robot-access-token": ding.access_token, "dingtalk/robot-secret": ding.secret}
    for name, value in secrets.items():
        aws.client("ssm").put_parameter(Name=f"/salesbridge/{name}", Value=value, Type="SecureString", Overwrite=True)
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(root))
    loader.reset()
    yield wecom, ding
    loader.reset()
    for server in (salesforce, wecom, ding):
        server.stop()


@pytest.fixture()
def story(stack: Any, monkeypatch: pytest.MonkeyPatch) -> Story:
    return Story(stack, monkeypatch)


def _robot_trail(story: Story, event_id: str, target: str) -> list[tuple[str, str]]:
    return [(e["action"], str(e["details"].get("result") or e["details"].get("reason") or "")) for e in _trail(story, event_id)
            if e["details"].get("target") == target]  # fmt: skip


def _dispatcher(waits: list[float]) -> Any:
    from chalicelib.configuration import current
    from chalicelib.dispatch.deliver import Dispatcher
    from chalicelib.runtime.secrets import default_resolver
    from chalicelib.runtime.settings import get_settings

    config = current()
    return Dispatcher(
        config.subscribers, get_settings(), default_resolver().get, sleep=waits.append, actions=config.rules.actions,
        connectors=config.connectors,
    )  # fmt: skip


def test_an_overdue_lead_posts_one_message_to_each_group(story: Story, robots: tuple[Any, Any]) -> None:
    wecom, ding = robots
    event_id = _overdue_lead(story)
    records = _stream()
    assert _dispatch(records) == {"batchItemFailures": []}
    assert _dispatch(records) == {"batchItemFailures": []}  # the stream delivers the batch again
    [message] = wecom.posted
    assert message["msgtype"] == "text" and message["text"]["mentioned_mobile_list"] == [MOBILE]
    assert (
        message["text"]["content"].startswith("Lead ") and " not contacted within 15m [sb:lead_not_contacted:" in message["text"]["content"]
    )
    [ding_message] = ding.posted  # its 加签 sign and timestamp were checked by the robot
    assert ding_message["at"]["atMobiles"] == [MOBILE] and f"@{MOBILE}" in ding_message["text"]["content"]
    assert ding_message["text"]["content"].startswith("超时未联系 lead ")
    targets = _delivery(story, event_id)["targets"]
    assert targets[WECOM]["status"] == targets[DING]["status"] == "delivered"
    assert [a for a, _ in _robot_trail(story, event_id, WECOM)] == ["delivery_started", "delivered"]  # recorded before it was sent
    assert chains_intact() == {}


def test_the_rate_limit_errcode_with_http_200_is_retried(story: Story, robots: tuple[Any, Any]) -> None:
    wecom, ding = robots
    event_id = _overdue_lead(story)
    wecom.throttle_next, ding.throttle_next = 2, 1
    waits: list[float] = []
    assert _dispatcher(waits).deliver(event_id)
    assert len(wecom.posted) == 1 and len(ding.posted) == 1
    assert wecom.refused == [45009, 45009] and ding.refused == [130101]
    trail = _robot_trail(story, event_id, WECOM)
    assert [a for a, _ in trail] == ["delivery_started", "delivery_failed", "delivery_failed", "delivered"]
    assert "errcode 45009" in trail[1][1] and "not posted" in trail[1][1]
    assert len(waits) == 3  # a pause before each retry


def test_an_answer_that_may_have_posted_is_not_retried(story: Story, robots: tuple[Any, Any]) -> None:
    from tests.vendor_servers.base import json_response

    wecom, _ = robots
    event_id = _overdue_lead(story)
    wecom.fail(json_response({"errcode": -1, "errmsg": "system busy"}, 502))  # a gateway: posted or not, nobody knows
    waits: list[float] = []
    assert _dispatcher(waits).deliver(event_id)
    target = _delivery(story, event_id)["targets"][WECOM]
    assert target["status"] == "dead" and target["attempts"] == 1 and "not sent again (at most once)" in target["last_error"]
    assert wecom.data_requests == 1 and wecom.posted == []


def test_a_bad_key_goes_dead_at_once_with_the_reason(story: Story, robots: tuple[Any, Any]) -> None:
    from chalicelib.runtime import aws

    wecom, ding = robots
    aws.client("ssm").put_parameter(Name="/salesbridge/wecom/robot-key", Value="a-removed-robot", Type="SecureString", Overwrite=True)
    aws.client("ssm").put_parameter(Name="/salesbridge/dingtalk/robot-secret", Value="SECwrong", Type="SecureString", Overwrite=True)
    event_id = _overdue_lead(story)
    assert _dispatch(_stream()) == {"batchItemFailures": []}  # nothing left to retry: both are dead
    targets = _delivery(story, event_id)["targets"]
    assert targets[WECOM]["status"] == "dead" and targets[WECOM]["attempts"] == 1
    assert "errcode 93000" in targets[WECOM]["last_error"] and "key" in targets[WECOM]["last_error"]
    assert targets[DING]["status"] == "dead" and "errcode 310000: sign not match" in targets[DING]["last_error"]
    assert wecom.posted == [] and wecom.refused == [93000] and ding.refused == [310000]
    assert sorted(a for a, _ in _robot_trail(story, event_id, WECOM)) == ["dead_lettered", "delivery_failed", "delivery_started"]


def test_a_crash_after_the_robot_posted_is_not_sent_again_until_redriven(story: Story, robots: tuple[Any, Any]) -> None:
    import json

    wecom, ding = robots
    event_id = _overdue_lead(story)
    records = _stream()
    # delivery records: "sending" to WeCom (with the attempts before it), "sending" to DingTalk (with
    # WeCom's outcome), then DingTalk's outcome: the process dies there, after the robot posted
    fault = arm(Fault("dynamodb", "TransactWriteItems", Crash("after the post"), match=is_delivery_record, skip=2))
    try:
        with pytest.raises(Crash):
            _dispatch(records)
    finally:
        disarm(fault)
    assert fault.fired == 1 and len(wecom.posted) == 1 and len(ding.posted) == 1
    assert _dispatch(records) == {"batchItemFailures": []}  # the stream's retry
    assert len(ding.posted) == 1, "a message whose outcome was not recorded is not sent again"
    targets = _delivery(story, event_id)["targets"]
    assert targets[WECOM]["status"] == "delivered" and len(wecom.posted) == 1
    assert targets[DING]["status"] == "dead" and "may have been posted" in targets[DING]["last_error"]
    assert "at most once" in targets[DING]["last_error"]
    assert [a for a, _ in _robot_trail(story, event_id, "eventbridge")] == ["delivered"]  # recorded with the first "sending"
    response = story.client.http.post(
        "/actions/redrive", headers={**ADMIN, "Content-Type": "application/json"},
        body=json.dumps({"event": event_id, "action": "tell_the_managers"}),
    )  # fmt: skip
    assert response.status_code == 200, response.body
    assert len(ding.posted) == 2  # the operator chose to send it again
    assert chains_intact() == {}
