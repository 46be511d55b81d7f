"""Backfill: the whole history with progress, resuming after an interruption."""

from __future__ import annotations

import pytest

from chalicelib.sync.backfill import backfill
from chalicelib.sync.watermark import MemoryWatermarkStore
from tests.vendor_servers import configs
from tests.vendor_servers.harness import Sink, Sleeps, expected_keys, test_client
from tests.vendor_servers.salesforce import SalesforceServer


def run(config, sink, store, progress, **kw):
    with test_client(config) as client:
        return backfill(config, config.streams[0], sink=sink, progress=progress, client=client, store=store, resolve=configs.resolve, **kw)


def test_progress_and_resume_after_interruption():
    with SalesforceServer(250) as server:
        config = configs.salesforce(server.url, page_size=50)
        store, steps = MemoryWatermarkStore(), []
        broken = Sink(fail_on_call=3, error=KeyboardInterrupt)
        with pytest.raises(KeyboardInterrupt):
            run(config, broken, store, steps.append)
        assert [s.records for s in steps] == [50, 100] and steps[-1].total == 250
        resumed_steps, healthy = [], Sink()
        result = run(config, healthy, store, resumed_steps.append)
        expected = expected_keys(config.name, "Account", server)
    assert [s.records for s in resumed_steps] == [50, 100, 150]
    assert resumed_steps[0].total == 150  # the resumed query counts only what is left
    assert result.reason == "caught_up" and result.records == 150
    assert set(broken.keys + healthy.keys) == expected and len(broken.keys + healthy.keys) == 250


def test_rate_limit_pauses_and_carries_on():
    with SalesforceServer(120, api_limit=2) as server:
        config = configs.salesforce(server.url, page_size=50)
        sleeps, sink = Sleeps(), Sink()

        def pause(seconds: float) -> None:
            sleeps.append(seconds)
            server.api_limit = server.api_used + 2  # the rolling limit frees up while we wait

        result = run(config, sink, MemoryWatermarkStore(), None, sleep=pause, rate_limit_pause=60.0)
    assert result.reason == "caught_up" and len(set(sink.keys)) == 120 and 60.0 in sleeps
