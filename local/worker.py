"""The local stand-in for Lambda's event sources.

``chalice local`` serves HTTP only, so this worker polls the inbound SQS queues (the
webhook lane first, then the bulk lane) and the events table's stream on the moto
server and calls the *same handler functions* Lambda would call, with events shaped
like Lambda's.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

log = logging.getLogger("salesbridge.local.worker")


class _Context:
    """Just enough of a Lambda context for the handlers (named like the function it stands for)."""

    aws_request_id = "local"

    def __init__(self, function_name: str = "salesbridge-local") -> None:
        self.function_name = function_name

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            }
            for m in messages
        ]
    }


def poll_queue_once(handler: Any, queue_url: str, wait_seconds: int = 1) -> int:
    """Receive one batch, run the handler, delete what it did not report as failed."""
    from chalicelib.runtime import aws

    sqs = aws.client("sqs")
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds, AttributeNames=["All"]).get(
        "Messages", []
    )
    if not received:
        return 0
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    result = handler(sqs_event(received, arn), _Context("salesbridge-local-process-inbound")) or {}
    failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
    done = [m for m in received if m["MessageId"] not in failed]
    for start in range(0, len(done), 10):
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])],
        )
    if failed:
        # Lambda would leave them invisible until the visibility timeout; make them visible again soon.
        for m in received:
            if m["MessageId"] in failed:
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=2)
    return len(received)


def poll_lanes_once(handler: Any, queue_urls: list[str], wait_seconds: int = 1) -> int:
    """One worker step: a batch from the first lane that has messages, the webhook lane first.

    A webhook thus waits at most for the one bulk batch in progress, however long the bulk
    lane is. When every lane is empty, the first is long-polled for up to ``wait_seconds``.
    """
    for url in queue_urls:
        handled = poll_queue_once(handler, url, wait_seconds=0)
        if handled:
            return handled
    return poll_queue_once(handler, queue_urls[0], wait_seconds=wait_seconds) if wait_seconds else 0


class StreamPoller:
    """Reads a DynamoDB stream (moto) and hands records to a stream handler, like Lambda's event source mapping."""

    def __init__(self, table: str):
        from chalicelib.runtime import aws

        self.table = table
        self.streams = aws.client("dynamodbstreams")
        self.arn = aws.client("dynamodb").describe_table(TableName=table)["Table"].get("LatestStreamArn")
        self.iterators: dict[str, str] = {}

    def _refresh_shards(self) -> None:
        description = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id not in self.iterators:
                self.iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]

    def poll_once(self, handler: Any) -> int:
        if not self.arn:
            return 0
        self._refresh_shards()
        count = 0
        for shard_id, iterator in list(self.iterators.items()):
            response = self.streams.get_records(ShardIterator=iterator, Limit=100)
            records = response.get("Records", [])
            if records:
                for r in records:
                    r["eventSourceARN"] = self.arn
                handler({"Records": records}, _Context("salesbridge-local-dispatch-events"))
                count += len(records)
            self.iterators[shard_id] = response.get("NextShardIterator") or iterator
        return count


SCHEDULED_EVENT = {
    "source": "aws.events",
    "detail-type": "Scheduled Event",
    "resources": [],
    "detail": {},
    "time": "",
    "id": "local",
    "region": "local",
    "account": "local",
    "version": "0",
}


def run_forever(stop: threading.Event) -> None:
    import app as application
    from chalicelib.runtime.queue import LANES

    queue_urls = [os.environ[lane.queue_env] for lane in LANES if os.environ.get(lane.queue_env)]
    stream = StreamPoller(os.environ["EVENTS_TABLE"]) if hasattr(application, "dispatch_events") else None
    schedules = [
        (name, getattr(application, name), float(os.environ.get(variable, "60")))  # AWS: each function's schedule, every minute
        for name, variable in (("scheduled_sync", "SALESBRIDGE_SYNC_EVERY_SECONDS"), ("fire_timers", "SALESBRIDGE_TIMERS_EVERY_SECONDS"))
        if hasattr(application, name)
    ]
    scheduler = threading.Thread(target=run_schedules, args=(stop, schedules), name="local-schedules", daemon=True)
    scheduler.start()
    while not stop.is_set():
        try:
            poll_lanes_once(application.process_inbound, queue_urls)
            if stream is not None:
                stream.poll_once(application.dispatch_events)
        except Exception:  # noqa: BLE001 - the local worker keeps going, like Lambda would retry
            log.exception("worker iteration failed")
            time.sleep(1)
    scheduler.join(timeout=30)


def run_schedules(stop: threading.Event, schedules: list[tuple[str, Any, float]]) -> None:
    """The scheduled functions, in a thread of their own.

    Lambda runs every function apart, so a long sync run, or a timers run waiting for a deadline
    about to come due, never holds up the queues; neither does it here.
    """
    next_run = {name: time.monotonic() + every for name, _, every in schedules}
    while not stop.wait(0.2):
        for name, handler, every in schedules:
            if time.monotonic() < next_run[name]:
                continue
            try:
                handler(SCHEDULED_EVENT, _Context(f"salesbridge-local-{name.replace('_', '-')}"))
            except Exception:  # noqa: BLE001 - the next run tries again, as the schedule would
                log.exception("%s failed", name)
            next_run[name] = time.monotonic() + every


def main() -> None:
    from chalicelib.runtime import observability

    observability.configure_logging()  # JSON lines, as in Lambda; metrics follow each handler call as EMF lines
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("polling %s, then %s", os.environ.get("INBOUND_QUEUE_URL"), os.environ.get("BULK_QUEUE_URL"))
    run_forever(stop)


if __name__ == "__main__":
    main()
