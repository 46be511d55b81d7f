"""`salesbridge dlq show`: each dead-lettered message with the input it carries and why it failed."""

from __future__ import annotations

import json
import os

from chalicelib.pipeline.batch import QueueMessage, process_batch
from cli import main as cli
from tests.pipeline.test_dead_letters import failing_processor, queued_message
from tests.stack import ADMIN_TOKEN


def test_dlq_show_lists_each_dead_letter_with_why_it_failed(stack, served, monkeypatch, capsys):
    from chalicelib.runtime import aws

    message = queued_message(stack)
    process_batch(
        [QueueMessage(message["MessageId"], message["Body"], message["Attributes"]["MessageGroupId"], 5)], failing_processor(monkeypatch)
    )
    sqs = aws.client("sqs")  # what the redrive policy does after the fifth failure
    sqs.send_message(QueueUrl=os.environ["INBOUND_DLQ_URL"], MessageBody=message["Body"], MessageGroupId="g", MessageDeduplicationId="d1")
    dead_id = sqs.receive_message(QueueUrl=os.environ["INBOUND_DLQ_URL"], VisibilityTimeout=0)["Messages"][0]["MessageId"]
    assert cli.main(["--url", served, "--token", ADMIN_TOKEN, "dlq", "show", "--lane", "webhook"]) == 0
    out = capsys.readouterr().out  # the served app's own metric lines come first (same process)
    (shown,) = json.loads(out[out.index('{\n  "dead_letter_messages"') :])["dead_letter_messages"]
    assert (shown["lane"], shown["message_id"], shown["connector"], shown["entity"]) == ("webhook", dead_id, "demo_crm", "C-9")
    assert shown["error"] == "RuntimeError: the state table is gone" and shown["attempts"] == 5, shown
    assert (
        sqs.get_queue_attributes(QueueUrl=os.environ["INBOUND_DLQ_URL"], AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "1"
    ), "show leaves the messages where they are"
