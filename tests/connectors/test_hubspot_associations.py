"""HubSpot search returns no associations: each page's are read with the v4 batch API, as the mappings expect them.

Against the loopback HubSpot (tests/vendor_servers/hubspot.py): per-object paging of associations,
a 207 with an error for one object, a 429 on the association read, a malformed answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.errors import ConfigError, MalformedPageError
from chalicelib.sync.runner import run_stream
from chalicelib.sync.watermark import MemoryWatermarkStore
from tests.vendor_servers import configs
from tests.vendor_servers.base import json_response
from tests.vendor_servers.harness import Sink, test_client
from tests.vendor_servers.hubspot import RATE_LIMIT_BODY, HubSpotServer

DEALS = {"1000": [98765, 98766, 98767], "1002": [98770]}  # three: two answers of two (the fake pages by two)
COMPANIES = {"1000": [1246965]}


def calls_server(records: int = 5) -> HubSpotServer:
    server = HubSpotServer(records)
    server.associations = {("calls", "deals"): DEALS, ("calls", "companies"): COMPANIES}
    return server


def sync(server: HubSpotServer, *, page_size: int = 100) -> tuple[Sink, Any, MemoryWatermarkStore]:
    config = configs.hubspot(server.url, obj="calls", associations="deals, companies", page_size=page_size)
    sink, store = Sink(), MemoryWatermarkStore()
    with test_client(config) as client:
        result = run_stream(config, config.streams[0], sink=sink, deadline=lambda: 900.0, store=store, client=client)
    return sink, result, store


def payloads(sink: Sink) -> dict[str, dict[str, Any]]:
    return {r.payload["id"]: r.payload for r in sink.records}


def test_each_record_carries_its_associations_as_the_objects_api_shapes_them():
    with calls_server() as server:
        server.broken = {"1002"}  # an error for one object: 207, the others still come
        sink, result, _ = sync(server)
    records = payloads(sink)
    assert result.reason == "caught_up" and len(records) == 5
    assert records["1000"]["associations"] == {
        "deals": {"results": [{"id": "98765", "type": "call_to_deal"}, {"id": "98766", "type": "call_to_deal"},
                              {"id": "98767", "type": "call_to_deal"}]},
        "companies": {"results": [{"id": "1246965", "type": "call_to_company"}]},
    }  # fmt: skip
    assert "associations" not in records["1001"]  # none: no entry, as in the objects API
    assert "associations" not in records["1002"]  # its read failed (207): left without, not the page
    # one page of calls: per object type one read of the page's ids, and one more for 1000's third deal
    assert server.association_requests == 3


def test_the_shipped_calls_mapping_links_a_synced_call_to_its_deal_and_company():
    from chalicelib.configuration import load_configuration
    from chalicelib.mapping.examples import map_payload
    from tests.test_configuration import ROOT

    with calls_server() as server:
        sink, _, _ = sync(server)
    call = payloads(sink)["1000"]
    call["properties"] |= {"hs_timestamp": "2026-11-02T01:14:00Z", "hs_call_status": "COMPLETED"}
    mapping = load_configuration(ROOT).mappings.find("hubspot", "calls")
    assert mapping is not None
    mapped = map_payload(mapping, call)
    assert mapped["record"]["references"] == {
        "opportunity_id": {"system": "hubspot", "entity": "opportunity", "id": "98765"},
        "customer_id": {"system": "hubspot", "entity": "customer", "id": "1246965"},
    }, mapped


def test_a_429_on_the_association_read_is_waited_out_and_nothing_is_read_twice():
    with calls_server() as server:
        server.fail(json_response(RATE_LIMIT_BODY, 429, {"Retry-After": "1"}), at=2, times=2)  # the first association read
        sink, result, _ = sync(server)
    assert result.reason == "caught_up" and len(sink.records) == 5
    assert [r["id"] for r in payloads(sink)["1000"]["associations"]["deals"]["results"]] == ["98765", "98766", "98767"]


def test_a_malformed_association_answer_stops_before_the_page_is_sent():
    with calls_server() as server:
        server.fail(json_response({"status": "COMPLETE", "results": [{"to": []}]}), at=2)
        with pytest.raises(MalformedPageError):
            sync(server)


def test_pages_of_calls_each_read_their_own_associations():
    with calls_server(records=5) as server:
        sink, result, store = sync(server, page_size=2)
    assert len(sink.records) == 5 and result.pages >= 3  # pages of two (the keyset restart may end on an empty one)
    assert payloads(sink)["1000"]["associations"]["deals"]["results"][2]["id"] == "98767"
    assert store.load("hs", "calls") is not None and store.load("hs", "calls").position.modified > datetime(2024, 1, 1, tzinfo=UTC)


def test_associations_are_only_for_hubspot_and_named_at_their_line():
    with pytest.raises(ConfigError) as caught:
        configs.load(
            "name: sf\nkind: salesforce\napi:\n  base_url: https://x.example\n  api_version: v60.0\n"
            "streams:\n  - name: a\n    object: Account\n    fields: [Name]\n    associations: [deals]\n"
        )
    assert any("associations" in str(p) and "only for kind 'hubspot'" in str(p) and ":10:" in str(p) for p in caught.value.problems)
    with pytest.raises(ConfigError):
        configs.load(
            "name: hs\nkind: hubspot\napi:\n  base_url: https://x.example\n"
            "streams:\n  - name: a\n    object: calls\n    associations: ['../../admin']\n"
        )
