"""The scheduled sync: every few minutes, pull each due stream into the inbound queue.

One Lambda schedule drives all streams. A stream's ``schedule:`` ("15m", "1h",
"30 minutes"; default: every run) says how often it is due. A lease item per stream
(a conditional write in the state table) keeps two overlapping invocations from
pulling the same stream at once; the watermark makes a run that stops near the time
limit resume where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.connectors.api_config import interval_seconds
from chalicelib.runtime import observability
from chalicelib.runtime.settings import Settings

log = logging.getLogger("salesbridge.sync")


@dataclass(frozen=True)
class StreamRun:
    connector: str
    stream: str
    status: str  # synced | not_due | busy | failed
    records: int = 0
    reason: str = ""


def run_due_streams(config: Any, settings: Settings, deadline: Callable[[], float]) -> list[StreamRun]:
    from chalicelib.store.sync_state import DynamoBucketStore, DynamoWatermarkStore, SyncLeases
    from chalicelib.sync.runner import run_stream
    from chalicelib.sync.sink import bulk_lane_sink, processor_quarantine

    leases, watermarks, budgets = SyncLeases(settings), DynamoWatermarkStore(settings), DynamoBucketStore(settings)
    sink = bulk_lane_sink(settings.bulk_queue_url, processor_quarantine(config, settings))  # a long sync never delays a webhook

    runs: list[StreamRun] = []
    for connector in config.connectors.values():
        if connector.api is None:
            continue
        for stream in connector.api.streams:
            if deadline() < 30:
                runs.append(StreamRun(connector.name, stream.name, "not_due", reason="no time left in this run"))
                continue
            lease = leases.take(connector.name, stream.name, interval_seconds(stream.schedule), int(deadline()) + 60)
            observability.gauge("SyncOverdueSeconds", lease.overdue_seconds, connector=connector.name)
            if not lease.taken:
                runs.append(StreamRun(connector.name, stream.name, "not_due"))
                continue
            caught_up = False
            try:
                result = run_stream(connector.api, stream, sink=sink, deadline=deadline, store=watermarks, budget_store=budgets)
                runs.append(StreamRun(connector.name, stream.name, "synced", result.records, result.reason))
                observability.count("SyncRecordsPulled", result.records, connector=connector.name)
                caught_up = result.reason == "caught_up"
            except Exception as exc:  # noqa: BLE001 - one failing vendor must not stop the others; the watermark holds
                log.exception("sync %s/%s failed", connector.name, stream.name)
                observability.count("SyncFailures", connector=connector.name)
                runs.append(StreamRun(connector.name, stream.name, "failed", reason=f"{type(exc).__name__}: {exc}"))
            finally:
                leases.release(connector.name, stream.name, caught_up)
    return runs
