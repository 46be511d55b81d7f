"""Kingdee specifics beyond the shared sync properties (tests/sync/test_runner.py runs those on Kingdee too)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.connectors.kingdee import KingdeeSource, nest
from chalicelib.connectors.registry import build_source
from chalicelib.errors import VendorApiError
from tests.vendor_servers import configs
from tests.vendor_servers.harness import test_client
from tests.vendor_servers.kingdee import KingdeeServer


def test_base_data_keys_nest_like_the_view_api():
    keys = ["FNumber", "FBaseUnitId.FNumber", "FBaseUnitId.FName"]
    assert nest(keys, ["SKU-1", "Pcs", "个"]) == {"FNumber": "SKU-1", "FBaseUnitId": {"FNumber": "Pcs", "FName": "个"}}
    both = {"FCustId": {"Id": 1001, "FNumber": "C1"}}
    assert nest(["FCustId", "FCustId.FNumber"], [1001, "C1"]) == both == nest(["FCustId.FNumber", "FCustId"], ["C1", 1001])


def read_all(config, stream) -> list[dict]:
    with test_client(config) as client:
        source = build_source(config, stream, client, configs.resolve)
        assert isinstance(source, KingdeeSource)
        return [record for page in source.pages(None, timedelta(0)) for record in page.records]


def test_an_unknown_field_key_is_the_vendors_error_not_an_empty_sync():
    with KingdeeServer(3) as server:
        config = configs.kingdee(server.url)
        stream = config.streams[0].model_copy(update={"fields": ["FNumber", "F_NoSuchField"]})
        with pytest.raises(VendorApiError, match="BD_MATERIAL: 字段“F_NoSuchField”不存在"):
            read_all(config, stream)


def test_the_streams_where_condition_is_sent_with_the_keyset_filter():
    with KingdeeServer(12) as server:
        config = configs.kingdee(server.url, page_size=5)
        stream = config.streams[0]
        assert len(read_all(config, stream)) == 12
        disabled_only = stream.model_copy(update={"where": "FForbidStatus = 'B'"})
        assert read_all(config, disabled_only) == []
        filters = [r.json()["data"]["FilterString"] for r in server.log if server.is_data_request(r)]
    assert filters[-1] == "(FForbidStatus = 'B')"
    assert any("FModifyDate > '" in f and "FMATERIALID > 100005" in f for f in filters)  # keyset after page one
