"""Retries over real HTTP: Retry-After (seconds and HTTP date), 5xx, timeouts, vendor limit signals."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from chalicelib.connectors.models import RequestSpec
from chalicelib.connectors.retry import parse_retry_after, slowdown_seconds
from chalicelib.errors import RateLimited, RetryableError, VendorApiError
from tests.vendor_servers import configs
from tests.vendor_servers.base import Response, json_response
from tests.vendor_servers.generic import GenericServer
from tests.vendor_servers.harness import Sleeps, test_client
from tests.vendor_servers.hubspot import RATE_LIMIT_BODY, HubSpotServer
from tests.vendor_servers.salesforce import SalesforceServer
from tests.vendor_servers.shopify import ShopifyServer


def test_parse_retry_after_forms():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("2.0") == 2.0  # Shopify sends a decimal
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_429_retry_after_seconds_is_honoured():
    sleeps = Sleeps()
    with HubSpotServer(30) as server:
        server.fail(json_response(RATE_LIMIT_BODY, 429, {"Retry-After": "7"}), at=1, times=2)
        with test_client(configs.hubspot(server.url), sleeps) as client:
            page = client.send(RequestSpec("POST", "/crm/v3/objects/companies/search", json={"limit": 10}))
    assert len(page.body["results"]) == 10
    assert len(sleeps) == 2 and all(7.0 <= s <= 7.7 for s in sleeps)  # Retry-After plus ≤10 % jitter


def test_429_retry_after_http_date_is_honoured():
    sleeps = Sleeps()
    with GenericServer(5) as server:
        when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
        server.fail(json_response({"error": "slow down"}, 429, {"Retry-After": when}), at=1)
        with test_client(configs.generic(server.url, "cursor"), sleeps) as client:
            client.send(RequestSpec("GET", "/api/cursor/items"))
    assert len(sleeps) == 1 and 17.0 <= sleeps[0] <= 22.0


def test_5xx_backs_off_exponentially_then_succeeds():
    sleeps = Sleeps()
    with GenericServer(5) as server:
        server.fail(Response(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"}), at=1, times=3)
        with test_client(configs.generic(server.url, "cursor"), sleeps) as client:
            page = client.send(RequestSpec("GET", "/api/cursor/items"))
    assert len(page.body["data"]) == 5
    assert len(sleeps) == 3 and sleeps[0] <= 0.5 and 0.5 <= sleeps[2] <= 2.0  # 0.5·2^(n-1), full jitter ≥ half


def test_gives_up_after_max_attempts_with_the_last_error():
    sleeps = Sleeps()
    with GenericServer(5) as server:
        server.fail(json_response({"message": "boom"}, 500), at=1, times=99)
        with test_client(configs.generic(server.url, "cursor"), sleeps) as client:
            with pytest.raises(RetryableError, match="HTTP 500"):
                client.send(RequestSpec("GET", "/api/cursor/items"))
    assert len(sleeps) == 5  # six attempts


def test_a_wait_beyond_the_deadline_is_not_started():
    sleeps = Sleeps()
    with GenericServer(5) as server:
        server.fail(json_response({"error": "slow down"}, 429, {"Retry-After": "120"}), at=1)
        config = configs.generic(server.url, "cursor")
        with test_client(config, sleeps, deadline=lambda: 30.0) as client:
            with pytest.raises(RateLimited):
                client.send(RequestSpec("GET", "/api/cursor/items"))
    assert sleeps == []


def test_client_errors_are_not_retried():
    sleeps = Sleeps()
    with GenericServer(5) as server:
        server.fail(json_response({"error": "bad_request", "message": "unknown field 'colour'"}, 400), at=1)
        with test_client(configs.generic(server.url, "cursor"), sleeps) as client:
            with pytest.raises(VendorApiError, match="unknown field 'colour'") as caught:
                client.send(RequestSpec("GET", "/api/cursor/items"))
    assert caught.value.status == 400 and sleeps == []


def test_timeouts_are_retried():
    sleeps = Sleeps()
    with GenericServer(5) as server:
        slow = {"n": 0}

        def stall(number: int) -> None:
            if number == 1:
                slow["n"] += 1
                time.sleep(0.6)

        server.on_data_request = stall
        config = configs.generic(server.url, "cursor")
        from chalicelib.connectors.client import ApiClient

        with ApiClient(
            server.url, auth=httpx.Auth(), timeout=0.2, headers={"X-API-Key": "k-123"}, retry=test_client(config, sleeps).retry
        ) as client:
            page = client.send(RequestSpec("GET", "/api/cursor/items"))
    assert slow["n"] == 1 and len(page.body["data"]) == 5 and len(sleeps) == 1


def test_salesforce_request_limit_exceeded_is_a_rate_limit():
    """403 REQUEST_LIMIT_EXCEEDED (Salesforce 'Status Codes and Error Responses') is retried, then surfaces."""
    sleeps = Sleeps()
    with SalesforceServer(10, api_limit=0) as server:
        with test_client(configs.salesforce(server.url), sleeps) as client:
            with pytest.raises(RateLimited) as caught:
                client.send(
                    RequestSpec(
                        "GET",
                        "/services/data/v60.0/query",
                        params={"q": "SELECT Id, LastModifiedDate FROM Account ORDER BY LastModifiedDate ASC, Id ASC"},
                    )
                )
    assert caught.value.vendor_code == "REQUEST_LIMIT_EXCEEDED" and caught.value.status == 403
    assert len(sleeps) == 5


def test_shopify_bucket_header_slows_down_before_a_429():
    """X-Shopify-Shop-Api-Call-Limit: used/40 — pause once the bucket is 80 % full; leak 2/s."""
    assert slowdown_seconds({"x-shopify-shop-api-call-limit": "1/40"}) == 0.0
    assert slowdown_seconds({"x-shopify-shop-api-call-limit": "36/40"}) == pytest.approx(2.0)
    clock = {"t": 0.0}
    sleeps = Sleeps()

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock["t"] += seconds  # the server's bucket drains while we wait

    with ShopifyServer(500, clock=lambda: clock["t"]) as server:
        config = configs.shopify(server.url, page_size=10)
        with test_client(config, sleep) as client:
            request = RequestSpec("GET", "/admin/api/2024-01/orders.json", params={"limit": 10})
            for _ in range(45):  # more calls than the bucket holds, with no time passing except our pauses
                client.send(request)
    assert len(server.log) == 45  # no request was refused and retried: the pauses kept the bucket below its size
    assert sleeps and all(s > 0 for s in sleeps)


def test_shopify_429_retry_after_decimal():
    sleeps = Sleeps()
    with ShopifyServer(5, bucket=1, leak_per_second=0.0001) as server:
        with test_client(configs.shopify(server.url), sleeps) as client:
            client.send(RequestSpec("GET", "/admin/api/2024-01/orders.json"))
            with pytest.raises(RateLimited):
                client.send(RequestSpec("GET", "/admin/api/2024-01/orders.json"))
    retries = [s for s in sleeps if s >= 1.0]  # the rest are bucket-header pauses of (1 - 0.8·1)/2 s
    assert len(retries) == 5 and all(2.0 <= s <= 2.2 for s in retries)  # Retry-After: 2.0, plus ≤10 % jitter
