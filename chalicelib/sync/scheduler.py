"""The scheduled sync: every few minutes, pull each due stream into the inbound queue.

One Lambda schedule drives all streams. A stream's ``schedule:`` ("15m", "1h",
"30 minutes"; default: every run) says how often it is due. A lease item per stream
(a conditional write in the state table) keeps two overlapping invocations from
pulling the same stream at once; the watermark makes a run that stops near the time
limit resume where it stopped.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.runtime import aws
from chalicelib.runtime.settings import Settings

log = logging.getLogger("salesbridge.sync")
_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
}
_SCHEDULE = re.compile(r"^\s*(?:every\s+)?(\d+)\s*([a-z]+)\s*$")


def interval_seconds(schedule: str | None) -> int:
    """ "15m" → 900. None → 0 (due at every run). Raises ValueError on anything else."""
    if not schedule:
        return 0
    match = _SCHEDULE.match(schedule.lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"schedule {schedule!r}: use e.g. '15m', '1h' or '30 minutes'")
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class StreamRun:
    connector: str
    stream: str
    status: str  # synced | not_due | busy | failed
    records: int = 0
    reason: str = ""


def take_lease(settings: Settings, connector: str, stream: str, interval: int, hold_seconds: int, now: float | None = None) -> bool:
    """Claim the stream if it is due and nobody holds it; False otherwise."""
    now = time.time() if now is None else now
    try:
        aws.client("dynamodb").put_item(
            TableName=settings.state_table,
            Item={
                "pk": {"S": f"syncrun#{connector}#{stream}"},
                "sk": {"S": "run"},
                "started_at": {"N": str(int(now))},
                "held_until": {"N": str(int(now + hold_seconds))},
            },
            ConditionExpression="attribute_not_exists(pk) OR (started_at <= :due AND held_until <= :now)",
            ExpressionAttributeValues={":due": {"N": str(int(now - interval))}, ":now": {"N": str(int(now))}},
        )
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise


def release_lease(settings: Settings, connector: str, stream: str) -> None:
    aws.client("dynamodb").update_item(
        TableName=settings.state_table,
        Key={"pk": {"S": f"syncrun#{connector}#{stream}"}, "sk": {"S": "run"}},
        UpdateExpression="SET held_until = :zero",
        ExpressionAttributeValues={":zero": {"N": "0"}},
    )


def run_due_streams(config: Any, settings: Settings, deadline: Callable[[], float]) -> list[StreamRun]:
    from chalicelib.runtime import queue
    from chalicelib.sync.runner import run_stream

    def sink(records: list) -> None:
        queue.send(records, settings.bulk_queue_url)  # the bulk lane: a long sync never delays a webhook

    runs: list[StreamRun] = []
    for connector in config.connectors.values():
        if connector.api is None:
            continue
        for stream in connector.streams:
            if deadline() < 30:
                runs.append(StreamRun(connector.name, stream.name, "not_due", reason="no time left in this run"))
                continue
            if not take_lease(settings, connector.name, stream.name, interval_seconds(stream.schedule), int(deadline()) + 60):
                runs.append(StreamRun(connector.name, stream.name, "not_due"))
                continue
            try:
                result = run_stream(connector.api, stream, sink=sink, deadline=deadline)
                runs.append(StreamRun(connector.name, stream.name, "synced", result.records, result.reason))
            except Exception as exc:  # noqa: BLE001 - one failing vendor must not stop the others; the watermark holds
                log.exception("sync %s/%s failed", connector.name, stream.name)
                runs.append(StreamRun(connector.name, stream.name, "failed", reason=f"{type(exc).__name__}: {exc}"))
            finally:
                release_lease(settings, connector.name, stream.name)
    return runs
