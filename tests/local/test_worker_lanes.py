"""A webhook is never stuck behind a backfill: the worker drains the webhook lane first.

500 backfill records wait in the bulk lane (queued as the sync's sink queues them); a webhook
delivered now, or in the middle of the backfill, is applied within one worker iteration.
Counted in worker iterations and messages handled, never in seconds.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.inbound import InboundRecord
from chalicelib.runtime import queue
from chalicelib.runtime.queue import LANES
from chalicelib.sync.runner import dedupe_key, to_inbound
from tests.stack import demo_body, get_json, post_demo

BACKFILL = 500


def _backfill_records(n: int) -> list[InboundRecord]:
    """A backfill's records as the sync runner makes them (demo CRM customers, one page of history)."""
    from chalicelib.connectors.base import Position

    at = datetime(2026, 10, 1, tzinfo=UTC)
    records = []
    for k in range(n):
        position = Position(at, f"B-{k}")
        payload = {
            "event_id": f"bf-{k}",
            "customer": {"id": f"B-{k}", "name": f"Backfilled {k}", "tier": "Gold", "updated_at": at.isoformat()},
        }
        records.append(to_inbound("demo_crm", "customer", payload, position, dedupe_key("demo_crm", "customer", position), "bf-run", at))
    return records


def _applied(client: Any, customer: str) -> bool:
    status, _ = get_json(client, f"/state?source=demo_crm/customer/{customer}")
    return status == 200


def _run_until_applied(client: Any, customer: str, max_iterations: int) -> tuple[int, int]:
    """Worker iterations until ``customer`` is applied, and messages handled meanwhile."""
    import app as application
    from local.worker import poll_lanes_once

    lanes = [os.environ[lane.queue_env] for lane in LANES]
    handled = 0
    for iteration in range(1, max_iterations + 1):
        handled += poll_lanes_once(application.process_inbound, lanes, wait_seconds=0)
        if _applied(client, customer):
            return iteration, handled
    raise AssertionError(f"{customer} not applied after {max_iterations} iterations ({handled} messages handled)")


def _bulk_waiting() -> int:
    return queue.depth(os.environ["BULK_QUEUE_URL"])


def test_a_webhook_behind_500_backfill_records_is_applied_at_the_next_iteration(stack: Any) -> None:
    queue.send(_backfill_records(BACKFILL), os.environ["BULK_QUEUE_URL"])
    assert _bulk_waiting() == BACKFILL
    assert post_demo(stack, demo_body("C-WEB-1")).status_code == 202

    iterations, handled = _run_until_applied(stack, "C-WEB-1", max_iterations=3)
    assert (iterations, handled) == (1, 1)  # the webhook lane first: no backfill record ahead of it
    assert _bulk_waiting() == BACKFILL


def test_a_webhook_arriving_mid_backfill_waits_for_one_bulk_batch_at_most(stack: Any) -> None:
    import app as application
    from local.worker import poll_lanes_once

    queue.send(_backfill_records(BACKFILL), os.environ["BULK_QUEUE_URL"])
    lanes = [os.environ[lane.queue_env] for lane in LANES]
    assert poll_lanes_once(application.process_inbound, lanes, wait_seconds=0) == queue.BATCH  # the backfill is under way
    assert post_demo(stack, demo_body("C-WEB-2")).status_code == 202

    iterations, handled = _run_until_applied(stack, "C-WEB-2", max_iterations=3)
    assert (iterations, handled) == (1, 1)
    assert _bulk_waiting() == BACKFILL - queue.BATCH
    assert _applied(stack, "B-0")  # the backfill itself goes on where it was
