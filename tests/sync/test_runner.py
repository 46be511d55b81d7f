"""Incremental sync over real HTTP against each vendor's loopback server.

Datasets have 60 records and pages of 10, so a run is 6-7 pages.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC

import pytest

from chalicelib.errors import MalformedPageError, RetryableError
from chalicelib.runtime.settings import get_settings
from chalicelib.store.sync_state import DynamoWatermarkStore
from chalicelib.sync.runner import run_stream
from chalicelib.sync.watermark import MemoryWatermarkStore
from tests.vendor_servers import configs
from tests.vendor_servers.base import Response, json_response
from tests.vendor_servers.harness import KINDS, Sink, expected_keys, test_client

RECORDS, PAGE = 60, 10


def setup(kind: str, records: int = RECORDS, overlap: int = 0, **server_kw):
    make_server, make_config = KINDS[kind]
    server = make_server(records, **server_kw)
    config = make_config(server.url, PAGE, overlap)
    return server, config


def sync(config, sink, store, **kw):
    with test_client(config) as client:
        return run_stream(
            config,
            config.streams[0],
            sink=sink,
            deadline=kw.pop("deadline", lambda: 900.0),
            client=client,
            store=store,
            resolve=configs.resolve,
            **kw,
        )


@pytest.mark.parametrize("kind", list(KINDS))
def test_full_sync_then_nothing_new(kind):
    server, config = setup(kind)
    with server:
        store, sink = MemoryWatermarkStore(), Sink()
        first = sync(config, sink, store)
        again = sync(config, sink, store)
        expected = expected_keys(config.name, config.streams[0].object, server)
    assert set(sink.keys) == expected and len(sink.keys) == RECORDS
    assert first.reason == "caught_up" and first.records == RECORDS and again.records == 0
    assert all(r.via == "sync" and r.received_at.tzinfo is not None for r in sink.records)


@pytest.mark.parametrize("kind", list(KINDS))
def test_interrupted_at_every_page_resumes_without_loss_or_duplicates(kind):
    server, config = setup(kind)
    with server:
        expected = expected_keys(config.name, config.streams[0].object, server)
        probe = Sink()
        sync(config, probe, MemoryWatermarkStore())
        for failing_call in range(1, probe.calls + 1):
            store, accepted = MemoryWatermarkStore(), []
            broken = Sink(fail_on_call=failing_call)
            with pytest.raises(RuntimeError, match="queue unavailable"):
                sync(config, broken, store)
            healthy = Sink()
            sync(config, healthy, store)
            accepted = broken.keys + healthy.keys
            assert set(accepted) == expected, f"lost records after failing at page {failing_call}"
            assert len(accepted) == len(expected), f"duplicates after failing at page {failing_call}"


@pytest.mark.parametrize("kind", list(KINDS))
def test_server_failure_mid_sync_resumes(kind):
    server, config = setup(kind)
    with server:
        expected = expected_keys(config.name, config.streams[0].object, server)
        store, sink = MemoryWatermarkStore(), Sink()
        server.fail(json_response({"message": "internal error"}, 500), at=server.data_requests + 3, times=99)
        with pytest.raises(RetryableError):
            sync(config, sink, store)
        delivered_before = len(sink.keys)
        server.faults.clear()
        sync(config, sink, store)
    assert 0 < delivered_before < RECORDS
    assert set(sink.keys) == expected and len(sink.keys) == RECORDS


@pytest.mark.parametrize("kind", list(KINDS))
def test_records_modified_during_the_sync_are_not_skipped(kind):
    server, config = setup(kind)
    with server:
        ids = sorted(server.dataset.records, key=lambda i: server.dataset.records[i]["modified"])
        edited = {"done": False}

        def edit_mid_sync(number: int) -> None:
            # Before the third page: edit one record already read and one not yet read. Under an offset
            # cursor the first edit would shift a record over the page boundary and it would be skipped.
            if not edited["done"] and number >= 3 + first_request:
                edited["done"] = True
                server.dataset.touch(ids[2], name="edited early")
                server.dataset.touch(ids[45], name="edited late")

        first_request = server.data_requests
        server.on_data_request = edit_mid_sync
        store, sink = MemoryWatermarkStore(), Sink()
        original = expected_keys(config.name, config.streams[0].object, server)
        sync(config, sink, store)
        sync(config, sink, store)  # the next scheduled run
        final = expected_keys(config.name, config.streams[0].object, server)
    assert edited["done"]
    assert final <= set(sink.keys), f"missing: {sorted(final - set(sink.keys))}"
    assert set(sink.keys) <= original | final
    touched = {ids[2], ids[45]}
    assert len([k for k in final - original]) == len(touched)  # both new versions were delivered


@pytest.mark.parametrize("kind", ["salesforce", "odoo"])
def test_sink_failure_leaves_the_watermark_unchanged(kind):
    server, config = setup(kind)
    with server:
        store = MemoryWatermarkStore()
        sync(config, Sink(), store)
        before = store.load(config.name, config.streams[0].name)
        server.dataset.touch(next(iter(server.dataset.records)), name="changed")
        with pytest.raises(RuntimeError):
            sync(config, Sink(fail_on_call=1), store)
        assert store.load(config.name, config.streams[0].name) == before


def test_deadline_checkpoints_and_the_next_run_resumes():
    server, config = setup("salesforce")
    with server:
        store, sink = MemoryWatermarkStore(), Sink()
        left = iter([300.0, 300.0, 5.0])
        result = sync(config, sink, store, deadline=lambda: next(left, 5.0), stop_margin=10.0)
        assert result.reason == "deadline" and result.records == 30
        assert store.load(config.name, "accounts").position == result.watermark
        rest = sync(config, sink, store)
        expected = expected_keys(config.name, "Account", server)
    assert rest.reason == "caught_up" and set(sink.keys) == expected and len(sink.keys) == RECORDS


def test_non_json_page_is_a_clear_error_and_nothing_is_lost():
    server, config = setup("generic_rest")
    with server:
        store, sink = MemoryWatermarkStore(), Sink()
        server.fail(Response(200, b"<html><body>Gateway maintenance</body></html>", {"Content-Type": "text/html"}), at=3)
        with pytest.raises(MalformedPageError, match="not JSON.*Gateway maintenance"):
            sync(config, sink, store)
        assert len(sink.keys) == 19  # two pages; the second restarts at the first's newest timestamp
        sync(config, sink, store)
        expected = expected_keys(config.name, "item", server)
    assert set(sink.keys) == expected and len(sink.keys) == RECORDS


def test_record_missing_its_cursor_field_stops_the_page_whole():
    server, config = setup("generic_rest")
    with server:
        store, sink = MemoryWatermarkStore(), Sink()
        rows = [server.shape(r) for r in server.dataset.sorted(lambda r: (r["modified"], r["id"]))][:10]
        del rows[4]["updated_at"]
        server.fail(json_response({"data": rows, "meta": {"next_cursor": "10"}}), at=1)
        with pytest.raises(MalformedPageError, match=r"record 4 of the page: updated_at is missing"):
            sync(config, sink, store)
        assert sink.keys == [] and store.load(config.name, "items") is None


def test_missing_records_list_is_a_clear_error():
    server, config = setup("hubspot")
    with server:
        server.fail(json_response({"status": "ok", "paging": {"next": {"after": "10"}}}), at=1)
        with pytest.raises(MalformedPageError, match="expected a list of records at 'results'"):
            sync(config, Sink(), MemoryWatermarkStore())


def test_hubspot_unordered_ties_lose_nothing():
    """Seven records per timestamp, pages of ten: ties straddle every page boundary in random order."""
    server, config = setup("hubspot", same_time_groups=7)
    with server:
        expected = expected_keys(config.name, "companies", server)
        for failing_call in range(1, 8):
            store, broken, healthy = MemoryWatermarkStore(), Sink(fail_on_call=failing_call), Sink()
            with pytest.raises(RuntimeError):
                sync(config, broken, store)
            sync(config, healthy, store)
            keys = broken.keys + healthy.keys
            assert set(keys) == expected  # re-sent ties carry the same dedupe key: harmless
            assert all(count <= 2 for count in Counter(keys).values())


def test_overlap_rereads_carry_the_same_dedupe_keys():
    server, config = setup("odoo", overlap=30)
    with server:
        store, first, second = MemoryWatermarkStore(), Sink(), Sink()
        sync(config, first, store)
        sync(config, second, store)
    assert second.keys and set(second.keys) <= set(first.keys)  # the overlap window, nothing new
    assert len(second.keys) == 30  # 30 s of one-per-second records before the watermark record


def test_rate_limit_stops_cleanly_and_resumes():
    server, config = setup("salesforce", api_limit=3)
    with server:
        store, sink = MemoryWatermarkStore(), Sink()
        result = sync(config, sink, store)
        assert result.reason == "rate_limited" and "TotalRequests Limit exceeded" in result.error
        assert store.load(config.name, "accounts").position == result.watermark
        server.api_limit = 10_000
        sync(config, sink, store)
        expected = expected_keys(config.name, "Account", server)
    assert set(sink.keys) == expected and len(sink.keys) == RECORDS


def test_dynamodb_watermark_survives_interruption(aws):
    server, config = setup("odoo")
    with server:
        store, broken, healthy = DynamoWatermarkStore(get_settings()), Sink(fail_on_call=3), Sink()
        with pytest.raises(RuntimeError):
            sync(config, broken, store)
        assert store.load(config.name, "orders").position.id == "20"
        sync(config, healthy, DynamoWatermarkStore(get_settings()))  # a fresh Lambda reads the same item
        expected = expected_keys(config.name, "sale.order", server)
    assert set(broken.keys + healthy.keys) == expected and len(broken.keys + healthy.keys) == RECORDS


def test_dynamodb_watermark_never_moves_backwards(aws):
    from datetime import datetime

    from chalicelib.connectors.base import Position

    store, other = DynamoWatermarkStore(get_settings()), DynamoWatermarkStore(get_settings())
    late = Position(datetime(2024, 5, 1, tzinfo=UTC), "7")
    early = Position(datetime(2024, 4, 1, tzinfo=UTC), "9")
    tie = Position(datetime(2024, 5, 1, tzinfo=UTC), "10")  # same time, larger id (numeric order)
    assert store.advance("odoo", "orders", late, run_id="a")
    assert not other.advance("odoo", "orders", early, run_id="b")  # a slower concurrent run
    assert not other.advance("odoo", "orders", late, run_id="b")
    assert other.advance("odoo", "orders", tie, run_id="b")
    assert store.load("odoo", "orders").position == tie
