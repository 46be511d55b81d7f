"""Fault injection for the rules in time: timers and actions.

The same real handlers as the rest of the fault suite (door, queue, ``fire_timers``,
``dispatch_events``) against the moto server, with faults armed on the real botocore clients
(tests/faults/harness.py); the vendor is the loopback Salesforce REST server. Each scenario
checks the outcome SPEC §2.5 and §3 ask for: one overdue event per deadline, one task per
(event, action), one ``resolved_late`` per late response, every audit chain intact.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.faults.harness import Crash, Fault, arm, chains_intact, disarm, throttled
from tests.faults.scenarios import is_commit, is_delivery_record
from tests.rules.test_actions_pipeline import _dispatch, _overdue_lead, _stream, _trail
from tests.rules.test_rules_pipeline import LEAD, OWNER, Story, sf_time
from tests.stack import drain

ACTION = "action:escalate_uncontacted_lead"
CALL = "00THs00003CaLLAAA"


@pytest.fixture()
def salesforce() -> Iterator[Any]:
    from tests.vendor_servers.salesforce import SalesforceServer

    server = SalesforceServer()
    yield server
    server.stop()


def _configure(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, url: str, grace: str = "5m") -> None:
    from chalicelib import configuration as loader
    from tests.rules.test_actions_pipeline import _config

    root = _config(tmp_path, url)
    rules = root / "mappings" / "rules" / "sales.yaml"
    text = rules.read_text()
    assert "    grace: 5m" in text
    rules.write_text(text.replace("    grace: 5m", f"    grace: {grace}"))
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(root))
    loader.reset()


@pytest.fixture()
def story(stack: Any, salesforce: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Story]:
    """The shipped rules (grace 5m), write-back to the loopback Salesforce server."""
    from chalicelib import configuration as loader

    _configure(tmp_path, monkeypatch, salesforce.url)
    yield Story(stack, monkeypatch)
    loader.reset()


@pytest.fixture()
def no_grace(stack: Any, salesforce: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Story]:
    """The speed-to-lead rule without grace: a call logged at minute 14 and delivered at 17 is late."""
    from chalicelib import configuration as loader

    _configure(tmp_path, monkeypatch, salesforce.url, grace="0m")
    yield Story(stack, monkeypatch)
    loader.reset()


def _post_call(story: Story, minutes: float, task_id: str = CALL) -> None:
    """The call's outbound message reaches the door (queued, not processed yet)."""
    from tests.rules.outbound import post

    when = sf_time(minutes)
    post(story.client, "Task", Id=task_id, Subject="Call", TaskSubtype="Call", Status="Completed", WhoId=LEAD,
         OwnerId=OWNER, CreatedDate=when, CompletedDateTime=when, LastModifiedDate=when)  # fmt: skip


class Race:
    """Run ``other`` once, from inside the first matching DynamoDB call of the code under test.

    ``before-parameter-build`` of TransactWriteItems: the code under test has read what it read
    and is about to commit; ``other`` commits first (the second poller, the record delivered at
    the same moment), so the commit under test meets a changed item.
    """

    def __init__(self, operation: str, other: Callable[[], Any], match: Callable[[dict[str, Any]], bool] = lambda p: True):
        self.operation, self.other, self.match = operation, other, match
        self.ran = False
        self._inside = False

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        if self.ran or self._inside or not self.match(params):
            return
        self._inside = True
        failure: list[BaseException] = []
        worker = threading.Thread(target=self._run, args=(failure,))  # another invocation: its own context (its function's role)
        try:
            worker.start()
            worker.join()
        finally:
            self._inside = False
            self.ran = True
        if failure:
            raise AssertionError("the racing invocation failed") from failure[0]

    def _run(self, failure: list[BaseException]) -> None:
        try:
            self.other()
        except BaseException as exc:  # noqa: BLE001 - reported in the test's thread
            failure.append(exc)

    def __enter__(self) -> Race:
        from chalicelib.runtime import aws

        aws.client("dynamodb").meta.events.register(f"before-parameter-build.dynamodb.{self.operation}", self)
        return self

    def __exit__(self, *exc: object) -> None:
        from chalicelib.runtime import aws

        aws.client("dynamodb").meta.events.unregister(f"before-parameter-build.dynamodb.{self.operation}", self)


# ----------------------------------------------------------------------------- timers
def test_two_pollers_racing_for_one_deadline_fire_it_once(story: Story) -> None:
    story.at(0).lead()
    for minute in range(1, 20):
        assert story.tick(minute)["fired"] == 0
    second: list[dict[str, Any]] = []
    with Race("TransactWriteItems", lambda: second.append(story.tick(20))) as race:
        first = story.tick(20)
    assert race.ran
    assert second[0]["fired"] == 1  # the second poller got there first ...
    assert first["fired"] == 0 and first["conflicts"] == 1  # ... the first conflicted, re-read: already fired
    assert len(story.events("lead.not_contacted")) == 1
    assert chains_intact() == {}


def test_the_schedule_invoked_twice_in_one_minute_fires_once(story: Story) -> None:
    story.at(0).lead()
    for minute in range(1, 21):
        story.tick(minute)
    again = story.tick(20)  # EventBridge delivers a scheduled invocation at least once
    assert again["fired"] == 0
    assert len(story.events("lead.not_contacted")) == 1


def test_a_crash_after_the_timer_committed_fires_nothing_again(story: Story) -> None:
    story.at(0).lead()
    for minute in range(1, 20):
        story.tick(minute)
    fault = arm(Fault("dynamodb", "TransactWriteItems", Crash("after the timer commit"), when="after"))
    try:
        with pytest.raises(Crash):
            story.tick(20)
    finally:
        disarm(fault)
    assert fault.fired == 1
    assert story.tick(21)["fired"] == 0  # the next minute's run: the commit had landed
    [event] = story.events("lead.not_contacted")
    assert event["time"].startswith("2026-11-02T01:20:00")
    assert chains_intact() == {}


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda: Fault("dynamodb", "TransactWriteItems", Crash("before the timer commit")), id="crash before commit"),
        pytest.param(lambda: Fault("dynamodb", "Query", Crash("reading the index")), id="crash reading the index"),
        pytest.param(lambda: Fault("dynamodb", "TransactWriteItems", throttled("TransactWriteItems")), id="commit throttled"),
    ],
)
def test_a_timer_run_that_failed_fires_at_the_next_minute_once(story: Story, fault: Callable[[], Fault]) -> None:
    story.at(0).lead()
    for minute in range(1, 20):
        story.tick(minute)
    armed = arm(fault())
    try:
        with pytest.raises(BaseException):  # noqa: B017 - a crash or the throttling error, as the schedule sees it
            story.tick(20)
    finally:
        disarm(armed)
    assert armed.fired == 1
    assert story.events("lead.not_contacted") == []
    assert story.tick(21)["fired"] == 1  # within a minute of its time, as the next scheduled run
    assert story.tick(22)["fired"] == 0
    [event] = story.events("lead.not_contacted")
    assert event["time"].startswith("2026-11-02T01:20:00")  # due + grace, whenever the clock got to it
    assert chains_intact() == {}


# ----------------------------------------------------------------------------- actions
def test_a_crash_after_salesforce_created_the_task_before_the_attempt_was_recorded(story: Story, salesforce: Any) -> None:
    event_id = _overdue_lead(story)
    records = _stream()
    fault = arm(Fault("dynamodb", "TransactWriteItems", Crash("before recording the attempt"), match=is_delivery_record))
    try:
        with pytest.raises(Crash):
            _dispatch(records)
    finally:
        disarm(fault)
    assert fault.fired == 1 and len(salesforce.created["Task"]) == 1  # the vendor accepted; nothing was recorded
    assert _dispatch(records) == {"batchItemFailures": []}  # the stream retries the batch
    assert len(salesforce.created["Task"]) == 1, "the idempotency key found the task at the vendor"
    [entry] = [e for e in _trail(story, event_id) if e["details"].get("target") == ACTION]
    assert entry["action"] == "delivered" and "already there" in entry["details"]["result"]
    assert chains_intact() == {}


def test_recording_the_attempt_throttled_then_redelivered_creates_one_task(story: Story, salesforce: Any) -> None:
    event_id = _overdue_lead(story)
    records = _stream()
    fault = arm(Fault("dynamodb", "TransactWriteItems", throttled("TransactWriteItems"), match=is_delivery_record))
    try:
        result = _dispatch(records)
    finally:
        disarm(fault)
    assert fault.fired == 1 and len(result["batchItemFailures"]) == 1  # the record is retried by the stream
    assert _dispatch(records) == {"batchItemFailures": []}
    assert len(salesforce.created["Task"]) == 1
    assert [e["action"] for e in _trail(story, event_id) if e["details"].get("target") == ACTION] == ["delivered"]


def test_recorded_then_a_crash_before_the_stream_checkpoint_sends_nothing_again(story: Story, salesforce: Any) -> None:
    _overdue_lead(story)
    records = _stream()
    fault = arm(Fault("dynamodb", "TransactWriteItems", Crash("after recording"), when="after", match=is_delivery_record))
    try:
        with pytest.raises(Crash):
            _dispatch(records)
    finally:
        disarm(fault)
    creates_and_lookups = salesforce.data_requests
    assert _dispatch(records) == {"batchItemFailures": []}
    assert salesforce.data_requests == creates_and_lookups, "a delivered action is not even looked up again"
    assert len(salesforce.created["Task"]) == 1


# ----------------------------------------------------------------------------- late cancelling records (SPEC §2.5)
def test_a_late_call_redelivered_after_a_crash_resolves_the_escalation_once(no_grace: Story) -> None:
    story = no_grace
    story.at(0).lead()
    for minute in range(1, 17):
        story.tick(minute)  # due (and fired) at minute 15
    story.at(17)
    _post_call(story, 14)  # made at minute 14, its webhook arrives at minute 17
    fault = arm(Fault("sqs", "DeleteMessageBatch", Crash("after commit, before the SQS delete")))
    try:
        with Received() as received, pytest.raises(Crash):
            drain()
    finally:
        disarm(fault)
    assert fault.fired == 1 and len(story.events("lead.not_contacted.resolved_late")) == 1  # committed before the crash
    received.expire()
    drain()  # the message comes back: the pipeline recognises it
    _post_call(story, 14)  # and Salesforce re-sends it too
    drain()
    [overdue] = story.events("lead.not_contacted")
    [late] = story.events("lead.not_contacted.resolved_late")
    assert late["data"]["overdue_event"] == overdue["id"] and late["time"].startswith("2026-11-02T01:14:00")
    assert chains_intact() == {}


def test_a_call_committed_between_the_pollers_read_and_commit_cancels_the_deadline(no_grace: Story) -> None:
    """Source time 14, received at 14:30 and committed while the minute-15 poller fires: nothing is overdue."""
    story = no_grace
    story.at(0).lead()
    for minute in range(1, 15):
        story.tick(minute)
    story.at(14.5)
    _post_call(story, 14)
    with Race("TransactWriteItems", lambda: (story.at(14.5), drain())) as race:
        run = story.tick(15)  # the poller read the lead's item at 15:00, then the call's commit lands first
    assert race.ran and run["fired"] == 0 and run["conflicts"] == 1
    assert story.tick(16)["fired"] == 0
    assert story.events("lead.not_contacted") == []
    assert story.events("lead.not_contacted.resolved_late") == []
    assert chains_intact() == {}


def test_a_deadline_fired_between_the_calls_read_and_commit_is_resolved_late(no_grace: Story) -> None:
    """The poller lands first: the call's commit conflicts, re-reads, and resolves the fired deadline late."""
    story = no_grace
    story.at(0).lead()
    for minute in range(1, 15):
        story.tick(minute)
    story.at(15)
    _post_call(story, 14)
    fired: list[dict[str, Any]] = []
    with Race("TransactWriteItems", lambda: fired.append(story.tick(15)), match=is_commit) as race:
        drain()
    assert race.ran and fired[0]["fired"] == 1
    [overdue] = story.events("lead.not_contacted")
    [late] = story.events("lead.not_contacted.resolved_late")
    assert late["data"]["overdue_event"] == overdue["id"]
    assert chains_intact() == {}


class Received:
    """Remembers the messages the queue handed out, to play the visibility timeout's expiry after a crash."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def __call__(self, parsed: dict[str, Any], model: Any = None, params: dict[str, Any] | None = None, **_: Any) -> None:
        for m in parsed.get("Messages", []):
            self.messages.append(((params or {}).get("QueueUrl", ""), m["ReceiptHandle"]))

    def __enter__(self) -> Received:
        from chalicelib.runtime import aws

        aws.client("sqs").meta.events.register("after-call.sqs.ReceiveMessage", self)
        return self

    def __exit__(self, *exc: object) -> None:
        from chalicelib.runtime import aws

        aws.client("sqs").meta.events.unregister("after-call.sqs.ReceiveMessage", self)

    def expire(self) -> None:
        from botocore.exceptions import ClientError

        from chalicelib.runtime import aws

        for url, handle in self.messages:
            try:
                aws.client("sqs").change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
            except ClientError:
                pass  # deleted after all
