"""The overview page's figures, from the same functions the JSON API uses plus the hourly counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.configuration import Configuration
from chalicelib.console.charts import Chart, hourly_chart
from chalicelib.runtime.settings import Settings

HOURS = 24
EVENT_PAGES = 5  # at most 5 x 200 events are read; the page says when there were more
DEAD_SHOWN = 20


@dataclass(frozen=True)
class StreamLag:
    connector: str
    stream: str
    schedule: str | None
    synced_up_to: datetime | None  # source time of the newest record durably queued
    last_advance: datetime | None
    lag_seconds: int | None


def connector_charts(config: Configuration, settings: Settings, now: datetime) -> dict[str, Chart]:
    from chalicelib.store import stats

    return {name: hourly_chart(stats.read_hours(settings.stats_table, name, HOURS, now)) for name in sorted(config.connectors)}


def events_by_type(settings: Settings) -> tuple[dict[str, int], bool]:
    """The newest events (at most 1,000) per type; True when there are older ones not counted.

    Not "in the last 24 hours": an event's time is the source system's time of the change (SPEC),
    which for a backfill or a late record lies long before it fired.
    """
    from chalicelib.api.admin import list_events

    params = {"limit": "200"}
    counts: Counter[str] = Counter()
    for _ in range(EVENT_PAGES):
        page = list_events(settings, params)
        counts.update(str((e["event"] or {}).get("type")) for e in page["events"])
        if "next" not in page:
            return dict(counts.most_common()), False
        params["next"] = page["next"]
    return dict(counts.most_common()), True


def dead_deliveries(settings: Settings) -> list[dict[str, Any]]:
    """The newest dead-lettered deliveries (events whose delivery gave up)."""
    from chalicelib.api.admin import list_events

    params = {"status": "dead", "limit": "200"}
    dead: list[dict[str, Any]] = []
    for _ in range(EVENT_PAGES):
        page = list_events(settings, params)
        dead += page["events"]
        if len(dead) >= DEAD_SHOWN or "next" not in page:
            break
        params["next"] = page["next"]
    return dead[:DEAD_SHOWN]


def sync_lag(config: Configuration, settings: Settings, now: datetime) -> list[StreamLag]:
    """Per pulled stream: how far its watermark has got, and how long ago that was."""
    from chalicelib.store.sync_state import DynamoWatermarkStore

    store = DynamoWatermarkStore(settings)
    lags = []
    for name in sorted(config.connectors):
        for stream in config.connectors[name].streams or []:
            mark = store.load(name, stream.name)
            synced = mark.position.modified.astimezone(UTC) if mark else None
            lags.append(
                StreamLag(
                    connector=name,
                    stream=stream.name,
                    schedule=stream.schedule,
                    synced_up_to=synced,
                    last_advance=mark.updated_at if mark else None,
                    lag_seconds=int((now - synced).total_seconds()) if synced else None,
                )
            )
    return lags
