"""Each pagination style over real HTTP against the loopback servers, and loop detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.connectors.models import Page, RequestSpec
from chalicelib.connectors.pagination import (
    BodyCursorPaginator,
    LinkHeaderPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    parse_link_header,
)
from chalicelib.errors import PaginationLoopError
from tests.vendor_servers import configs
from tests.vendor_servers.generic import GenericServer
from tests.vendor_servers.harness import test_client

VENDORS = Path(__file__).resolve().parent / "fixtures"  # published samples, copied with their SOURCES.md


def walk(client, paginator, request, records_path):
    from chalicelib.connectors.models import dig

    seen = []
    while not paginator.finished:
        page = client.send(paginator.prepare(request))
        records = dig(page.body, records_path) if records_path else page.body
        seen.extend(records)
        paginator.advance(page, records)
    return seen


@pytest.fixture(scope="module")
def server():
    with GenericServer(103) as srv:
        yield srv


@pytest.fixture()
def client(server):
    with test_client(configs.generic(server.url, "cursor")) as c:
        yield c


def ids(records):
    return [r["uuid"] for r in records]


ALL = [f"itm_{i:06d}" for i in range(103)]


def test_body_cursor(client, server):
    request = RequestSpec("GET", "/api/cursor/items", params={"size": 10})
    got = walk(client, BodyCursorPaginator("meta.next_cursor", "cursor"), request, "data")
    assert ids(got) == ALL


def test_offset_with_total_and_short_page(client):
    got = walk(client, OffsetPaginator(20, total_path="total"), RequestSpec("GET", "/api/offset/items"), "items")
    assert ids(got) == ALL
    got = walk(client, OffsetPaginator(20), RequestSpec("GET", "/api/offset/items"), "items")  # ends on the short page
    assert ids(got) == ALL


def test_page_number(client):
    got = walk(client, PageNumberPaginator(10, total_pages_path="total_pages"), RequestSpec("GET", "/api/page/items"), "data")
    assert ids(got) == ALL
    got = walk(client, PageNumberPaginator(10), RequestSpec("GET", "/api/page/items"), "data")
    assert ids(got) == ALL


@pytest.mark.parametrize("style, path", [("odata4", "value"), ("odata2", "d.results")])
def test_next_url_odata(client, style, path):
    request = RequestSpec("GET", f"/api/{style}/items", params={"$top": 17})
    got = walk(client, NextUrlPaginator(), request, path)
    assert ids(got) == ALL


def test_link_header(client):
    got = walk(client, LinkHeaderPaginator(), RequestSpec("GET", "/api/link/items", params={"$top": 30}), "")
    assert ids(got) == ALL


def test_loop_detected_when_the_same_cursor_comes_back(client, server):
    server.loop = True
    try:
        with pytest.raises(PaginationLoopError, match="already followed"):
            walk(
                client,
                BodyCursorPaginator("meta.next_cursor", "cursor"),
                RequestSpec("GET", "/api/cursor/items", params={"size": 10}),
                "data",
            )
    finally:
        server.loop = False


def test_loop_detected_when_the_api_ignores_the_offset():
    pager = OffsetPaginator(2)
    page = Page("http://x/a", 200, {}, {})
    pager.advance(page, [{"id": 1}, {"id": 2}])
    with pytest.raises(PaginationLoopError, match="same records"):
        pager.advance(page, [{"id": 1}, {"id": 2}])


def test_next_url_loop_detected():
    pager = NextUrlPaginator()
    pager.advance(Page("http://x/q", 200, {}, {"nextRecordsUrl": "/q/01g-2000"}), [{"Id": "a"}])
    with pytest.raises(PaginationLoopError):
        pager.advance(Page("http://x/q/01g-2000", 200, {}, {"nextRecordsUrl": "/q/01g-2000"}), [{"Id": "b"}])


def test_odata_v2_published_samples():
    """SAP Cloud SDK ODataNextLinkTest payloads (vendors/sap_odata/SOURCES.md)."""
    base = "https://host.example/v1/foo/bar/endpoint"
    nxt = json.loads((VENDORS / "sap_odata/odata_v2_next_link.json").read_text())
    pager = NextUrlPaginator()
    pager.advance(Page(base, 200, {}, nxt), [])
    assert pager.token == "https://host.example/v1/foo/bar/endpoint?$skiptoken=s3cReT-t0k3n&foo=bar"
    empty = json.loads((VENDORS / "sap_odata/odata_v2_empty_skiptoken.json").read_text())
    pager = NextUrlPaginator()
    pager.advance(Page(base, 200, {}, empty), [])
    assert not pager.finished and pager.token.endswith("?$skiptoken=&foo=bar")  # a next link is present
    last = json.loads((VENDORS / "sap_odata/odata_v2_no_next_link.json").read_text())
    pager = NextUrlPaginator()
    pager.advance(Page(base, 200, {}, last), [])
    assert pager.finished


def test_link_header_shopify_library_format():
    """The wire format from Shopify's shopify-api-php PaginationTestHelper (vendors/shopify/PAGINATION_AND_LIMITS.md)."""
    header = (
        "<https://test-shop.myshopify.io/admin/api/2024-01/products.json?limit=10&fields=test1%2Ctest2&page_info=prevTok>; "
        'rel="previous", <https://test-shop.myshopify.io/admin/api/2024-01/products.json?limit=10&fields=test1%2Ctest2'
        '&page_info=nextTok>; rel="next"'
    )
    links = parse_link_header(header)
    assert links["next"].endswith("page_info=nextTok")
    assert links["previous"].endswith("page_info=prevTok")
    pager = LinkHeaderPaginator()
    pager.advance(Page("https://test-shop.myshopify.io/x", 200, {"link": header}, []), [])
    assert pager.token == links["next"]
    last = LinkHeaderPaginator()
    last.advance(Page("https://test-shop.myshopify.io/x", 200, {}, []), [])
    assert last.finished
