"""Fault-injection harness: the real handlers against the moto server, with faults armed on the real clients.

Faults are botocore event hooks on the cached clients of ``chalicelib.runtime.aws``:

- ``before``: raised from ``before-parameter-build`` — the request never reaches AWS (a crash or an error
  before the call);
- ``after``: raised from ``after-call`` — AWS did the work, the caller never learns it (a crash after the
  call succeeded, e.g. after a commit but before the SQS delete).

A ``Crash`` is a ``BaseException``: no ``except Exception`` in the code under test can swallow it, exactly
like a Lambda container dying mid-invocation. The harness plays the platform's part afterwards: an SQS
batch that was not deleted becomes visible again, a stream batch is retried, a vendor re-sends a webhook
that got no acknowledgement.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tests.stack import ADMIN, demo_signature

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


class Crash(BaseException):
    """The process died here (not an Exception: nothing in the code under test may catch it)."""


def client_error(code: str, operation: str, message: str = "injected", **extra: Any) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}, **extra}, operation)


def throttled(operation: str) -> ClientError:
    return client_error(
        "ProvisionedThroughputExceededException", operation, "The level of configured provisioned throughput for the table was exceeded."
    )


def cancelled(operation: str, reasons: list[str], n_items: int) -> ClientError:
    """A TransactionCanceledException whose first reasons are ``reasons``, the rest ``None``."""
    codes = reasons + ["None"] * (n_items - len(reasons))
    return client_error(
        "TransactionCanceledException",
        operation,
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{', '.join(codes)}]",
        CancellationReasons=[{"Code": c} for c in codes],
    )


@dataclass
class Fault:
    """Raise ``error`` (or an ``error(params)`` result) at ``service.operation``, ``when`` before/after the call."""

    service: str
    operation: str
    error: BaseException | Callable[[dict[str, Any]], BaseException]
    when: str = "before"
    times: int = 1
    match: Callable[[dict[str, Any]], bool] = lambda params: True
    skip: int = 0  # let this many matching calls through first
    fired: int = 0
    seen: int = 0

    def _error_for(self, params: dict[str, Any]) -> BaseException:
        return self.error(params) if callable(self.error) and not isinstance(self.error, BaseException) else self.error  # type: ignore[return-value]

    def before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if self.fired >= self.times or not self.match(params):
            return
        self.seen += 1
        if self.seen <= self.skip:
            return
        if self.when == "before":
            self.fired += 1
            raise self._error_for(params)
        context.setdefault("faults", []).append((self, params))

    def after(self, context: dict[str, Any], http_response: Any = None, **_: Any) -> None:
        for fault, params in context.get("faults", []):
            if fault is self and self.fired < self.times and getattr(http_response, "status_code", 200) < 300:
                self.fired += 1
                raise self._error_for(params)


def arm(fault: Fault) -> Fault:
    from chalicelib.runtime import aws

    events = aws.client(fault.service).meta.events
    service_id = aws.client(fault.service).meta.service_model.service_id.hyphenize()
    events.register(f"before-parameter-build.{service_id}.{fault.operation}", fault.before)
    events.register(f"after-call.{service_id}.{fault.operation}", fault.after)
    return fault


def disarm(fault: Fault) -> None:
    from chalicelib.runtime import aws

    events = aws.client(fault.service).meta.events
    service_id = aws.client(fault.service).meta.service_model.service_id.hyphenize()
    events.unregister(f"before-parameter-build.{service_id}.{fault.operation}", fault.before)
    events.unregister(f"after-call.{service_id}.{fault.operation}", fault.after)


def config_dir(tmp: Path) -> Path:
    """A configuration root: copies of the shipped connectors/ and mappings/ plus the test-only ERP."""
    root = tmp / "config"
    shutil.copytree(PROJECT / "mappings", root / "mappings")
    shutil.copytree(PROJECT / "connectors", root / "connectors")
    shutil.copy(FIXTURES / "demo_erp.yaml", root / "connectors" / "demo_erp.yaml")
    shutil.copy(FIXTURES / "demo_erp_order.yaml", root / "mappings" / "demo_erp_order.yaml")
    return root


def reset_caches() -> None:
    from chalicelib import configuration as loader
    from chalicelib.api import auth
    from chalicelib.runtime import settings
    from chalicelib.runtime.secrets import default_resolver

    settings.reset_settings()
    loader.reset()
    auth.reset_cache()
    default_resolver().clear()


@dataclass
class Harness:
    client: Any  # chalice.test.Client
    aws_server: Any
    tap_url: str = ""
    crashes: int = 0
    sent: list[str] = field(default_factory=list)  # event ids seen at the bus tap, with repeats
    statuses: list[int] = field(default_factory=list)  # every answer the door gave (0 = none: crashed)
    _received: list[dict[str, Any]] = field(default_factory=list)
    _poller: Any = None

    # ------------------------------------------------------------------ setup
    def install(self, fresh: bool = True) -> Harness:
        """Fresh resources (unless just reset), an EventBridge rule → SQS standard queue tap, platform hooks on SQS."""
        from chalicelib.runtime import aws

        if fresh:
            os.environ.update(self.aws_server.reset())
        aws.reset_clients()
        reset_caches()
        self._poller = None
        self._received = []
        self.sent = []
        self.statuses = []
        self.crashes = 0
        sqs, events = aws.client("sqs"), aws.client("events")
        self.tap_url = sqs.create_queue(QueueName="bus-tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.tap_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="tap", EventBusName=os.environ["EVENT_BUS_NAME"], EventPattern=json.dumps({"source": ["salesbridge"]}))
        events.put_targets(Rule="tap", EventBusName=os.environ["EVENT_BUS_NAME"], Targets=[{"Id": "tap", "Arn": arn}])
        # The platform's clock: a message reported as failed is visible again at once (no 2 s wait).
        sqs.meta.events.register("provide-client-params.sqs.ChangeMessageVisibility", _visible_now)
        sqs.meta.events.register("after-call.sqs.ReceiveMessage", self._remember_received)
        return self

    def _remember_received(self, parsed: dict[str, Any], **_: Any) -> None:
        self._received = list(parsed.get("Messages", []))

    # ------------------------------------------------------------------ the door
    def post(self, connector: str, body: bytes, signature: str | None = None, *, retries: int = 3) -> int:
        """A vendor: re-sends until acknowledged (2xx) or refused (4xx); a crash is no answer."""
        headers = {"Content-Type": "application/json", "X-Demo-Signature": signature or demo_signature(body)}
        status = 0
        for _ in range(retries):
            try:
                status = self.client.http.post(f"/webhooks/{connector}", headers=headers, body=body).status_code
            except Crash:
                self.crashes += 1
                self.statuses.append(0)
                status = 0
                continue
            self.statuses.append(status)
            if status < 500:
                return status
        return status

    def enqueue_late_copy(self, body: bytes, connector: str = "demo_crm") -> None:
        """The same input re-delivered after SQS's 5-minute dedupe window (new MessageDeduplicationId)."""
        from chalicelib.runtime import aws, queue

        records = self._records_of(connector, body)
        for r in records:
            aws.client("sqs").send_message(
                QueueUrl=os.environ["INBOUND_QUEUE_URL"],
                MessageBody=r.to_message(),
                MessageGroupId=queue.group_id(r),
                MessageDeduplicationId="late-" + queue.dedupe_id(r),
            )

    @staticmethod
    def _records_of(connector: str, body: bytes) -> list[Any]:
        import uuid
        from datetime import datetime

        from chalicelib.configuration import current
        from chalicelib.ingress.deliveries import split_delivery
        from chalicelib.ingress.request import InboundRequest

        conn = current().connectors[connector]
        from chalicelib.ingress.verify import make_verifier

        request = InboundRequest(
            method="POST",
            path=f"/webhooks/{connector}",
            headers={"X-Demo-Signature": demo_signature(body), "Content-Type": "application/json"},
            body=body,
            received_at=datetime.now(UTC),
            query={},
            source_ip="127.0.0.1",
            url=f"https://localhost/webhooks/{connector}",
        )
        delivery = make_verifier(conn.webhook).verify(request)
        return split_delivery(connector, conn.webhook.shape(), delivery, "rcp_late_" + uuid.uuid4().hex)

    # ------------------------------------------------------------------ the queue
    def drain(self, max_rounds: int = 60) -> int:
        """Lambda's SQS event source: poll until the queue is empty; a crashed batch becomes visible again."""
        import app as application
        from chalicelib.runtime import aws
        from local.worker import poll_queue_once

        handled = 0
        for _ in range(max_rounds):
            self._received = []
            try:
                n = poll_queue_once(application.process_inbound, os.environ["INBOUND_QUEUE_URL"], wait_seconds=0)
            except Crash:
                self.crashes += 1
                for m in self._received:  # the visibility timeout expires: the undeleted messages come back
                    try:
                        aws.client("sqs").change_message_visibility(
                            QueueUrl=os.environ["INBOUND_QUEUE_URL"], ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                        )
                    except ClientError:
                        pass  # already deleted
                continue
            handled += n
            if n == 0 and self._queue_empty():
                return handled
        raise AssertionError("the inbound queue did not drain")

    def _queue_empty(self) -> bool:
        from chalicelib.runtime import aws

        attrs = aws.client("sqs").get_queue_attributes(
            QueueUrl=os.environ["INBOUND_QUEUE_URL"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"

    # ------------------------------------------------------------------ the stream
    def dispatch(self, max_rounds: int = 10) -> None:
        """Lambda's stream event source: a batch is retried from its first failed record, or whole after a crash."""
        import app as application
        from local.worker import StreamPoller, _Context

        if self._poller is None:
            self._poller = StreamPoller(os.environ["EVENTS_TABLE"])
        batch: list[dict[str, Any]] = []
        self._poller.poll_once(lambda event, ctx: batch.extend(event["Records"]))
        for _ in range(max_rounds):
            if not batch:
                return
            try:
                result = application.dispatch_events({"Records": batch}, _Context())
            except Crash:
                self.crashes += 1
                continue
            failed = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
            if not failed:
                return
            first = next(i for i, r in enumerate(batch) if r["dynamodb"].get("SequenceNumber") in failed)
            batch = batch[first:]
        raise AssertionError("the stream batch kept failing")

    def redeliver_stream(self) -> None:
        """The stream hands the same records again (at-least-once)."""
        import app as application
        from local.worker import StreamPoller, _Context

        poller = StreamPoller(os.environ["EVENTS_TABLE"])
        batch: list[dict[str, Any]] = []
        poller.poll_once(lambda event, ctx: batch.extend(event["Records"]))
        application.dispatch_events({"Records": batch}, _Context())

    def tap(self) -> list[str]:
        """Event ids that reached the bus (read so far, with repeats)."""
        from chalicelib.runtime import aws

        sqs = aws.client("sqs")
        while True:
            messages = sqs.receive_message(QueueUrl=self.tap_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return list(self.sent)
            for m in messages:
                self.sent.append(json.loads(m["Body"])["detail"]["id"])
                sqs.delete_message(QueueUrl=self.tap_url, ReceiptHandle=m["ReceiptHandle"])

    # ------------------------------------------------------------------ reading back
    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        response = self.client.http.get(path, headers={**ADMIN, **(headers or {})})
        return response.status_code, json.loads(response.body or b"null")

    def post_admin(self, path: str, body: dict[str, Any] | None = None, actor: str | None = None) -> tuple[int, Any]:
        headers = {**ADMIN, "Content-Type": "application/json"}
        if actor:
            headers["X-Salesbridge-Actor"] = actor
        response = self.client.http.post(path, headers=headers, body=json.dumps(body or {}).encode())
        return response.status_code, json.loads(response.body or b"null")


def _visible_now(params: dict[str, Any], **_: Any) -> None:
    params["VisibilityTimeout"] = 0


def scan(table: str) -> list[dict[str, Any]]:
    from chalicelib.runtime import aws
    from chalicelib.store import dynamo

    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = aws.client("dynamodb").scan(**kwargs)
        items += [dynamo.from_item(i) for i in page.get("Items", [])]
        if not page.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


BOOKKEEPING = ("version", "audit_seq", "audit_hash")


def snapshot() -> dict[str, Any]:
    """Everything a run leaves behind that must not depend on faults (times of writing excluded)."""
    from chalicelib.runtime.settings import get_settings
    from chalicelib.store.audit import unpack

    s = get_settings()
    state = scan(s.state_table)
    golden = {(i["pk"], i["sk"]): {k: v for k, v in i.items() if k not in BOOKKEEPING} for i in state if not i["pk"].startswith("dedupe#")}
    inputs = {i["pk"][len("dedupe#") :]: i["status"] for i in state if i["pk"].startswith("dedupe#")}
    events = {i["pk"]: (i["type"], i["subject"], json.loads(i["event"])["data"]) for i in scan(s.events_table)}
    delivery = {i["pk"]: i.get("status") for i in scan(s.events_table)}
    audit_items = unpack(scan(s.audit_table))  # one item per entry, whatever the stored layout
    trails: dict[str, list[tuple[int, str]]] = {}
    for item in audit_items:
        trails.setdefault(item["pk"], []).append((int(item["seq"]), item["action"]))
    rejected = sorted(json.loads(i["content"])["details"]["reason"] for i in audit_items if i["action"] == "rejected")
    quarantined = {i["dedupe_key"]: (i["status"], i["code"], int(i["attempts"])) for i in scan(s.quarantine_table)}
    return {
        "golden": golden,
        "inputs": inputs,
        "events": events,
        "delivery": delivery,
        "trails": {k: [a for _, a in sorted(v)] for k, v in trails.items() if not k.startswith("rejection#")},
        "rejected": rejected,
        "quarantine": quarantined,
    }


def chains_intact() -> dict[str, list[str]]:
    """Every audit chain in the table, verified; returns the broken ones with their problems."""
    from chalicelib.runtime.settings import get_settings
    from chalicelib.store.audit import verify_entity

    table = get_settings().audit_table
    broken = {}
    for pk in sorted({i["pk"] for i in scan(table)}):
        verdict = verify_entity(table, pk)
        if not verdict["intact"]:
            broken[pk] = verdict["problems"]
    return broken
