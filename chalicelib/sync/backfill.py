"""The initial load of a stream: the sync loop run to the end, with progress, resumable.

It uses the stream's own watermark, so an interrupted backfill (Ctrl-C, a crash,
a rate limit) resumes from the last enqueued page, and the schedule carries on
from where the backfill finished. Runs from a CLI, so there is no Lambda deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalicelib.connectors.api_config import ApiSections, StreamConfig
from chalicelib.sync.runner import PageProgress, Sink, SyncResult, run_stream
from chalicelib.sync.watermark import WatermarkStore


def backfill(
    connector_config: ApiSections,
    stream_config: StreamConfig,
    *,
    sink: Sink,
    progress: Callable[[PageProgress], None] | None = None,
    client: Any = None,
    store: WatermarkStore | None = None,
    resolve: Callable[[dict[str, Any]], str] | None = None,
    rate_limit_pause: float = 60.0,
    max_rate_limit_pauses: int = 60,
    sleep: Callable[[float], None] = time.sleep,
    deadline: Callable[[], float] = lambda: float("inf"),
) -> SyncResult:
    """Sync until caught up; on a vendor rate limit, pause and go on (the watermark holds the place)."""
    pauses = 0
    total = SyncResult(connector_config.name, stream_config.name, run_id="")
    counted = {"records": 0, "pages": 0}

    def report(step: PageProgress) -> None:
        if progress is not None:
            progress(PageProgress(counted["records"] + step.records, counted["pages"] + step.pages, step.position, step.total))

    budget_store = None
    if store is None:  # the deployed stage's own watermark and rate budget
        from chalicelib.runtime.settings import get_settings
        from chalicelib.store.sync_state import DynamoBucketStore, DynamoWatermarkStore

        store, budget_store = DynamoWatermarkStore(get_settings()), DynamoBucketStore(get_settings())
    while True:
        result = run_stream(
            connector_config,
            stream_config,
            sink=sink,
            deadline=deadline,
            client=client,
            store=store,
            budget_store=budget_store,
            resolve=resolve,
            on_page=report,
        )
        counted["records"] += result.records
        counted["pages"] += result.pages
        total.run_id = total.run_id or result.run_id
        total.started_from = total.started_from or result.started_from
        total.watermark, total.reason, total.error = result.watermark, result.reason, result.error
        if result.reason != "rate_limited" or pauses >= max_rate_limit_pauses or deadline() < rate_limit_pause:
            break
        pauses += 1
        sleep(rate_limit_pause)
    total.records, total.pages = counted["records"], counted["pages"]
    return total
