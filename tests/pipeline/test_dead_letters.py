"""Every message that goes to a dead-letter queue is accounted for in the audit trail first, and `dlq show` says why."""

from __future__ import annotations

import os
from typing import Any

import pytest

from chalicelib.pipeline.batch import QueueMessage, messages_from_event, process_batch
from chalicelib.pipeline.processor import Processor
from tests.stack import demo_body, get_json, post_demo


def queued_message(stack: Any) -> dict[str, Any]:
    from chalicelib.runtime import aws

    assert post_demo(stack, demo_body("C-9", "Gold")).status_code == 202
    sqs = aws.client("sqs")
    return sqs.receive_message(QueueUrl=os.environ["INBOUND_QUEUE_URL"], AttributeNames=["All"])["Messages"][0]


def failing_processor(monkeypatch: pytest.MonkeyPatch) -> Processor:
    import app as application
    from chalicelib.runtime.settings import get_settings

    def broken(self: Processor, inbound: Any, **_: Any) -> Any:
        raise RuntimeError("the state table is gone")

    monkeypatch.setattr(Processor, "process", broken)
    return Processor.of(application._config(), get_settings())


def dead_entries(stack: Any, message_id: str) -> list[dict[str, Any]]:
    status, trail = get_json(stack, f"/audit?entity=dead%23{message_id}")
    assert status == 200, trail
    return [e for e in trail["entries"] if e["action"] == "dead_lettered"]


def test_a_failure_before_the_last_attempt_writes_nothing_the_last_one_says_why(stack, monkeypatch):
    message = queued_message(stack)
    processor = failing_processor(monkeypatch)
    group = message["Attributes"]["MessageGroupId"]
    for attempt in range(1, 5):
        response, _ = process_batch([QueueMessage(message["MessageId"], message["Body"], group, attempt)], processor)
        assert response["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
    assert dead_entries(stack, message["MessageId"]) == []

    response, _ = process_batch([QueueMessage(message["MessageId"], message["Body"], group, 5)], processor)
    assert response["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]  # SQS moves it on: still reported failed
    (entry,) = dead_entries(stack, message["MessageId"])
    details = entry["details"]
    assert details["error"] == "RuntimeError: the state table is gone" and details["attempts"] == 5, details
    assert (details["connector"], details["object"], details["entity"]) == ("demo_crm", "customer", "C-9")


def test_an_unreadable_message_on_its_last_attempt_is_accounted_too(stack):
    import app as application
    from chalicelib.runtime.settings import get_settings

    processor = Processor.of(application._config(), get_settings())
    response, _ = process_batch([QueueMessage("m-garbage", "{not json", "g", 5)], processor)
    assert response["batchItemFailures"] == [{"itemIdentifier": "m-garbage"}]
    (entry,) = dead_entries(stack, "m-garbage")
    assert entry["details"]["error"].startswith("ValidationError") and "connector" not in entry["details"]


def test_the_receive_count_comes_from_the_sqs_event():
    event = {"Records": [{"messageId": "a", "body": "{}", "attributes": {"ApproximateReceiveCount": "5", "MessageGroupId": "g"}}]}
    assert messages_from_event(event) == [QueueMessage("a", "{}", "g", 5)]
    odd = {"Records": [{"messageId": "b", "body": "{}", "attributes": {"ApproximateReceiveCount": "five"}}]}
    assert messages_from_event(odd)[0].receive_count == 1
