"""Re-drive failed dispatches: deliver again the events whose delivery did not finish.

The events stream retries a failing batch (10 times, splitting it to find the bad record) and
then gives up: Lambda sends a report of the batch to the dispatch-failure queue and moves on.
Those events stay in the events table with status ``retrying`` (a target kept failing) or
``pending`` (never attempted). This delivers each of them again through the same dispatcher —
targets that already took an event are skipped, receivers dedupe by event id — and then
removes the failure reports it read. ``dead`` deliveries are final (max attempts, or an answer
retrying cannot fix) and are only listed: ``GET /events?status=dead``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PENDING_GRACE = timedelta(minutes=15)  # younger pending events are still ahead of the stream, not failed
STATUSES = ("retrying", "pending")


@dataclass
class RedriveResult:
    reports: int = 0
    events: int = 0
    delivered: int = 0
    still_failing: list[str] = field(default_factory=list)
    complete: bool = True

    def view(self) -> dict[str, Any]:
        return {
            "failure_reports_removed": self.reports,
            "events": self.events,
            "delivered": self.delivered,
            "still_failing": self.still_failing,
            "complete": self.complete,
        }


def redrive(
    deliver: Callable[[str], bool],
    settings: Any,
    *,
    limit: int = 100,
    seconds_left: Callable[[], float] = lambda: 25.0,
    now: datetime | None = None,
) -> RedriveResult:
    """Deliver up to ``limit`` unfinished events (oldest first) while time is left, then drop the reports."""
    from chalicelib.api.admin import list_events

    result = RedriveResult()
    reports = _take_reports()
    cutoff = ((now or datetime.now(UTC)) - PENDING_GRACE).isoformat()
    for status in STATUSES:
        cursor: str | None = None
        while result.events < limit:
            params = {"status": status, "limit": "50"} | ({"next": cursor} if cursor else {})
            page = list_events(settings, params)
            for view in page["events"]:
                event = view["event"]
                if status == "pending" and str(event.get("time", "")) > cutoff:
                    continue
                if result.events >= limit or seconds_left() < 5:
                    result.complete = False
                    break
                result.events += 1
                if deliver(str(event["id"])):
                    result.delivered += 1
                else:
                    result.still_failing.append(str(event["id"]))
            cursor = page.get("next")
            if not cursor or not result.complete:
                break
    if result.complete:
        result.reports = _remove_reports(reports)
    return result


def _queue_url() -> str | None:
    return os.environ.get("DISPATCH_FAILURE_QUEUE_URL")


def _take_reports(most: int = 100) -> list[dict[str, Any]]:
    """The stream's failure reports, hidden from other readers while this re-drive runs."""
    from chalicelib.runtime import aws

    url = _queue_url()
    if not url:
        return []
    taken: list[dict[str, Any]] = []
    while len(taken) < most:
        batch = aws.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60)
        messages = batch.get("Messages", [])
        if not messages:
            break
        taken += messages
    return taken


def _remove_reports(reports: list[dict[str, Any]]) -> int:
    from chalicelib.runtime import aws

    url = _queue_url()
    for message in reports:
        aws.client("sqs").delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return len(reports)
