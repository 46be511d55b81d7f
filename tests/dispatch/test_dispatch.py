"""Dispatch: outbox events from the stream to EventBridge, signed HTTP subscribers and robots."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import urllib.parse

import pytest

from chalicelib.dispatch.deliver import Dispatcher
from chalicelib.dispatch.subscribers import DingTalkRobotTarget, HttpTarget, Subscribers, WeComRobotTarget
from chalicelib.dispatch.targets import dingtalk_sign, standard_webhooks_headers
from tests.recorder import Recorder
from tests.stack import demo_body, drain, get_json, post_demo

NO_SLEEP = lambda seconds: None  # noqa: E731 - backoff waits are not what these tests measure
WHSEC = "whsec_" + base64.b64encode(b"subscriber-secret-key-0123456789").decode()


def secret_of(ref) -> str:
    return {"HTTP_SECRET": WHSEC, "WECOM_KEY": "robot-key", "DING_TOKEN": "ding-token", "DING_SECRET": "SECding"}[ref.env]


def fire_grade_change(stack) -> None:
    post_demo(stack, demo_body(tier="Gold", updated_at="2026-11-01T08:00:00+08:00"))
    post_demo(stack, demo_body(tier="Platinum", updated_at="2026-11-02T08:00:00+08:00"))
    drain()


def stream_records():
    from local.worker import StreamPoller

    poller = StreamPoller(os.environ["EVENTS_TABLE"])
    collected = []
    poller.poll_once(lambda event, ctx: collected.extend(event["Records"]))
    return collected


@pytest.fixture()
def recorder():
    server = Recorder()
    yield server
    server.close()


def test_grade_change_reaches_eventbridge_once(stack):
    from chalicelib.runtime import aws

    events = aws.client("events")
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName=os.environ["EVENT_BUS_NAME"], EventPattern=json.dumps({"source": ["salesbridge"]}))
    events.put_targets(Rule="all", EventBusName=os.environ["EVENT_BUS_NAME"], Targets=[{"Id": "tap", "Arn": arn}])

    fire_grade_change(stack)
    records = stream_records()
    assert len(records) == 1
    import app as application
    from local.worker import _Context

    stream_event = {"Records": records}
    assert application.dispatch_events(stream_event, _Context()) == {"batchItemFailures": []}
    assert application.dispatch_events(stream_event, _Context()) == {"batchItemFailures": []}  # stream redelivery

    messages = []
    for _ in range(3):  # drain the tap: every copy the bus delivered
        messages += sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert len(messages) == 1, f"delivered once, even when the stream redelivers: {messages}"
    detail = json.loads(messages[0]["Body"])["detail"]
    assert detail["type"] == "customer.grade_changed"
    assert detail["data"]["previous"] == "A" and detail["data"]["current"] == "S" and detail["data"]["direction"] == "up"

    _, listing = get_json(stack, "/events?type=customer.grade_changed")
    assert listing["events"][0]["delivery"]["status"] == "delivered"
    event_id = listing["events"][0]["event"]["id"]
    _, trail = get_json(stack, f"/audit?entity=event%23{event_id}")
    assert [e["action"] for e in trail["entries"]] == ["delivered"]
    _, verdict = get_json(stack, f"/audit/verify?entity=event%23{event_id}")
    assert verdict["intact"]


def _stored_event_id(stack) -> str:
    fire_grade_change(stack)
    _, listing = get_json(stack, "/events")
    return listing["events"][0]["event"]["id"]


def test_http_subscriber_gets_a_standard_webhooks_signature(stack, recorder):
    from chalicelib.runtime.settings import get_settings

    event_id = _stored_event_id(stack)
    subscribers = Subscribers(targets=[HttpTarget(name="alerts", url=recorder.url + "/hook", secret={"env": "HTTP_SECRET"})])
    assert Dispatcher(subscribers, get_settings(), secret_of, sleep=NO_SLEEP).deliver(event_id)
    (request,) = recorder.received
    assert request.headers["webhook-id"] == event_id
    expected = standard_webhooks_headers(WHSEC, event_id, int(request.headers["webhook-timestamp"]), request.body)
    assert request.headers["webhook-signature"] == expected["webhook-signature"]
    key = base64.b64decode(WHSEC[6:])
    signed = f"{event_id}.{request.headers['webhook-timestamp']}.".encode() + request.body
    assert request.headers["webhook-signature"] == "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert json.loads(request.body)["id"] == event_id


def test_failing_subscriber_is_retried_then_dead_lettered_and_every_attempt_audited(stack, recorder):
    from chalicelib.runtime.settings import get_settings

    recorder.answers = [(500, {"error": "boom"})]
    event_id = _stored_event_id(stack)
    subscribers = Subscribers(max_attempts=4, targets=[HttpTarget(name="flaky", url=recorder.url, secret={"env": "HTTP_SECRET"})])
    dispatcher = Dispatcher(subscribers, get_settings(), secret_of, sleep=NO_SLEEP)
    assert dispatcher.deliver(event_id) is False  # 3 tries this invocation; stream will retry
    assert dispatcher.deliver(event_id) is True  # 4th attempt hits the limit: dead-lettered
    assert len(recorder.received) == 4
    assert dispatcher.deliver(event_id) is True and len(recorder.received) == 4  # dead stays dead
    _, listing = get_json(stack, "/events?status=dead")
    delivery = listing["events"][0]["delivery"]
    assert delivery["status"] == "dead" and delivery["targets"]["flaky"]["last_error"] == "HTTP 500"
    assert get_json(stack, "/events?status=delivered")[1]["events"] == []
    assert get_json(stack, "/events?status=lost")[0] == 400
    _, trail = get_json(stack, f"/audit?entity=event%23{event_id}")
    assert [e["action"] for e in trail["entries"]] == ["delivery_failed"] * 4 + ["dead_lettered"]


def test_subscriber_recovering_after_failures_is_delivered(stack, recorder):
    from chalicelib.runtime.settings import get_settings

    recorder.answers = [(503, {}), (200, {"ok": True})]
    event_id = _stored_event_id(stack)
    subscribers = Subscribers(targets=[HttpTarget(name="recovering", url=recorder.url, secret={"env": "HTTP_SECRET"})])
    assert Dispatcher(subscribers, get_settings(), secret_of, sleep=NO_SLEEP).deliver(event_id)
    _, trail = get_json(stack, f"/audit?entity=event%23{event_id}")
    assert [e["action"] for e in trail["entries"]] == ["delivery_failed", "delivered"]


def test_wecom_and_dingtalk_robots(stack, recorder):
    from chalicelib.runtime.settings import get_settings

    recorder.answers = [(200, {"errcode": 0, "errmsg": "ok"})]
    event_id = _stored_event_id(stack)
    subscribers = Subscribers(
        targets=[
            WeComRobotTarget(name="wecom", key={"env": "WECOM_KEY"}, url=recorder.url + "/cgi-bin/webhook/send"),
            DingTalkRobotTarget(
                name="ding", access_token={"env": "DING_TOKEN"}, secret={"env": "DING_SECRET"}, url=recorder.url + "/robot/send"
            ),
        ]
    )
    assert Dispatcher(subscribers, get_settings(), secret_of, sleep=NO_SLEEP).deliver(event_id)
    wecom, ding = recorder.received
    assert urllib.parse.parse_qs(urllib.parse.urlparse(wecom.path).query) == {"key": ["robot-key"]}
    assert json.loads(wecom.body)["msgtype"] == "markdown" and event_id in json.loads(wecom.body)["markdown"]["content"]
    query = urllib.parse.parse_qs(urllib.parse.urlparse(ding.path).query)
    assert query["access_token"] == ["ding-token"]
    assert query["sign"] == [dingtalk_sign("SECding", int(query["timestamp"][0]))]


def test_robot_error_code_is_a_failed_delivery(stack, recorder):
    from chalicelib.runtime.settings import get_settings

    recorder.answers = [(200, {"errcode": 93000, "errmsg": "invalid webhook url"})]
    event_id = _stored_event_id(stack)
    subscribers = Subscribers(targets=[WeComRobotTarget(name="wecom", key={"env": "WECOM_KEY"}, url=recorder.url)])
    assert Dispatcher(subscribers, get_settings(), secret_of, sleep=NO_SLEEP).deliver(event_id)  # not retryable: dead at once
    _, listing = get_json(stack, "/events")
    assert listing["events"][0]["delivery"]["targets"]["wecom"]["status"] == "dead"


def test_dingtalk_sign_matches_the_documented_recipe():
    """DingTalk docs: sign = urlEncode(base64(HmacSHA256(secret, timestamp + "\\n" + secret)))."""
    secret, ts = "SEC000000", 1577262236757
    digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    assert dingtalk_sign(secret, ts) == base64.b64encode(digest).decode()


def test_subscribers_file_errors_name_the_line():
    from chalicelib.config.yaml_lines import load_yaml_text
    from chalicelib.dispatch.subscribers import load_subscribers

    doc = load_yaml_text(
        "kind: subscribers\ntargets:\n  - name: x\n    kind: http\n    url: ftp://nope\n    secret: plain-text\n",
        "connectors/subscribers.yaml",
    )
    _, problems = load_subscribers([("connectors/subscribers.yaml", doc)])
    assert problems and all(p.file == "connectors/subscribers.yaml" and p.line >= 3 for p in problems)


def test_retries_back_off_with_jitter(stack, recorder):
    from chalicelib.runtime.settings import get_settings

    recorder.answers = [(503, {}), (503, {}), (200, {"ok": True})]
    event_id = _stored_event_id(stack)
    waits: list[float] = []
    subscribers = Subscribers(targets=[HttpTarget(name="slow", url=recorder.url, secret={"env": "HTTP_SECRET"})])
    assert Dispatcher(subscribers, get_settings(), secret_of, sleep=waits.append).deliver(event_id)
    assert len(waits) == 2 and all(0 <= w <= 2 for w in waits)
