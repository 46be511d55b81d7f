"""One incremental sync run of one stream: pages since the watermark → sink → checkpoint.

Why nothing is skipped
----------------------
* Every source returns records in ascending (modified, id) order and starts at the
  watermark: strictly after it when the API can express the id tie-break
  (Salesforce, Odoo) and ``overlap_seconds`` is 0, otherwise at
  ``watermark.modified - overlap`` inclusive (``>=``), which also re-reads records
  whose commit lagged their timestamp (clock skew, long transactions).
* A record edited while the run pages gets a new, larger modified time. Sources
  whose cursor is a snapshot (Salesforce query locator) or a keyset (Shopify
  ``page_info``, Odoo's tie-break domain, HubSpot's per-page restart) either reach
  it later in this run or leave it beyond the final watermark, so the next run
  reads it. No source carries a live offset across pages, which is what loses
  records in other tools: an edit moves one record to the end and shifts the rest.
* The watermark only moves after ``sink`` returns (records durably enqueued), per
  page, with a conditional write that can only move it forwards. A crash, a sink
  error or the deadline leaves it at the last page fully enqueued; the next run
  re-reads from there.

Why nothing is processed twice
------------------------------
Each record's dedupe key is ``connector:object:id:modified`` — the same version
always yields the same key, a newer version a new one — so re-reads from the
overlap or a retried page are dropped by the pipeline's dedupe. Within one run the
same version is not even sent twice.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from chalicelib.connectors.api_config import ApiSections, StreamConfig
from chalicelib.connectors.base import Position, Source
from chalicelib.connectors.rate_budget import BucketStore
from chalicelib.domain.inbound import InboundRecord
from chalicelib.errors import BudgetExhausted, MalformedPageError, RateLimited
from chalicelib.sync.watermark import WatermarkStore

log = logging.getLogger(__name__)

Sink = Callable[[list[InboundRecord]], None]
StopReason = Literal["caught_up", "deadline", "rate_limited"]


@dataclass
class PageProgress:
    """Reported after each page is enqueued and checkpointed."""

    records: int  # delivered so far in this run
    pages: int
    position: Position | None
    total: int | None  # the vendor's count of matching records, when it gives one


@dataclass
class SyncResult:
    connector: str
    stream: str
    run_id: str
    records: int = 0
    pages: int = 0
    started_from: Position | None = None
    watermark: Position | None = None
    reason: StopReason = "caught_up"
    error: str | None = None
    seconds: float = 0.0
    delivered_keys: set[str] = field(default_factory=set, repr=False)


def dedupe_key(connector: str, object_type: str, position: Position) -> str:
    """Same record version → same key; a newer version → a new key."""
    modified = position.modified.astimezone(UTC).isoformat(timespec="microseconds")
    return f"{connector}:{object_type}:{position.id}:{modified}"


def to_inbound(
    connector: str, object_type: str, record: dict[str, Any], position: Position, key: str, run_id: str, received_at: datetime
) -> InboundRecord:
    return InboundRecord(
        connector=connector,
        object=object_type,
        payload=record,
        dedupe_key=key,
        received_at=received_at,
        via="sync",
        receipt_id=run_id,
        entity_hint=position.id,
    )


def run_stream(
    connector_config: ApiSections,
    stream_config: StreamConfig,
    *,
    sink: Sink,
    deadline: Callable[[], float],
    store: WatermarkStore,
    client: Any = None,
    budget_store: BucketStore | None = None,
    resolve: Callable[[dict[str, Any]], str] | None = None,
    stop_margin: float = 10.0,
    on_page: Callable[[PageProgress], None] | None = None,
    run_id: str | None = None,
) -> SyncResult:
    """Pull one stream from its watermark until caught up, near the deadline, or rate limited.

    ``deadline()`` returns the seconds left (Lambda's ``get_remaining_time_in_millis()/1000``).
    ``sink`` must return only once the records are durably enqueued; if it raises,
    the exception propagates and the watermark stays at the last enqueued page.
    """
    from chalicelib.connectors.registry import build_client, build_source

    owns_client = client is None
    if client is None:
        if resolve is None:
            from chalicelib.runtime.secrets import resolve as default_resolve

            resolve = default_resolve
        client = build_client(connector_config, resolve, deadline=deadline, budget_store=budget_store)
    source = build_source(connector_config, stream_config, client, resolve)
    result = SyncResult(connector_config.name, stream_config.name, run_id or f"sync-{uuid.uuid4().hex[:16]}")
    started = time.monotonic()
    try:
        _pull(source, connector_config.name, stream_config, store, sink, deadline, stop_margin, on_page, result)
    except (RateLimited, BudgetExhausted) as exc:
        result.reason, result.error = "rate_limited", str(exc)
        log.warning("sync %s/%s stopped by rate limit: %s", result.connector, result.stream, exc)
    finally:
        result.seconds = time.monotonic() - started
        if owns_client:
            client.close()
    return result


def _pull(
    source: Source,
    connector: str,
    stream: StreamConfig,
    store: WatermarkStore,
    sink: Sink,
    deadline: Callable[[], float],
    stop_margin: float,
    on_page: Callable[[PageProgress], None] | None,
    result: SyncResult,
) -> None:
    stored = store.load(connector, stream.name)
    after = stored.position if stored else None
    result.started_from = result.watermark = after
    overlap = timedelta(seconds=stream.overlap_seconds)
    delivered = result.delivered_keys
    if after is not None:
        delivered.add(dedupe_key(connector, stream.object, after))
    slowest_page = 0.0
    page_started = time.monotonic()
    for page in source.pages(after, overlap):
        batch, high = _page_records(source, connector, stream.object, page, delivered, result.run_id)
        if batch:
            sink(batch)  # returns once durably enqueued; raising leaves the watermark where it was
            delivered.update(r.dedupe_key for r in batch)
        result.records += len(batch)
        result.pages += 1
        if high is not None and (result.watermark is None or high > result.watermark):
            store.advance(connector, stream.name, high, run_id=result.run_id)
            result.watermark = high
        if on_page is not None:
            on_page(PageProgress(result.records, result.pages, result.watermark, page.total))
        now = time.monotonic()
        slowest_page, page_started = max(slowest_page, now - page_started), now
        if deadline() < stop_margin + 2 * slowest_page:
            result.reason = "deadline"
            return


def _page_records(
    source: Source, connector: str, object_type: str, page: Any, delivered: set[str], run_id: str
) -> tuple[list[InboundRecord], Position | None]:
    """The page's records not yet sent in this run, and the page's highest position.

    Positions are all computed before anything is sent: one malformed record stops
    the page whole, so nothing from it is half-delivered.
    """
    received_at = datetime.now(UTC)
    batch: list[InboundRecord] = []
    high: Position | None = None
    for index, record in enumerate(page.records):
        try:
            position = source.position_of(record)
        except MalformedPageError as exc:
            raise MalformedPageError(f"{connector}/{object_type}: record {index} of the page: {exc}", url=page.url) from None
        if high is None or position > high:
            high = position
        key = dedupe_key(connector, object_type, position)
        if key in delivered:
            continue
        batch.append(to_inbound(connector, object_type, record, position, key, run_id, received_at))
    return batch, high
