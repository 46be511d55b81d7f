"""Auth over real HTTP: OAuth2 client credentials cached and refreshed on 401, API key, basic."""

from __future__ import annotations

import pytest

from chalicelib.connectors.auth import forget_tokens
from chalicelib.connectors.models import RequestSpec
from chalicelib.errors import AuthError
from tests.vendor_servers import configs
from tests.vendor_servers.generic import GenericServer
from tests.vendor_servers.harness import Sleeps, test_client
from tests.vendor_servers.salesforce import SalesforceServer

QUERY = RequestSpec(
    "GET", "/services/data/v60.0/query", params={"q": "SELECT Id, LastModifiedDate FROM Account ORDER BY LastModifiedDate ASC, Id ASC"}
)


@pytest.fixture(autouse=True)
def fresh_tokens():
    forget_tokens()
    yield
    forget_tokens()


def test_token_is_fetched_once_and_reused():
    with SalesforceServer(5) as server:
        with test_client(configs.salesforce(server.url)) as client:
            for _ in range(3):
                client.send(QUERY)
    assert server.token_requests == 1


def test_expired_token_is_refreshed_on_401_and_the_call_repeated():
    with SalesforceServer(5) as server:
        with test_client(configs.salesforce(server.url)) as client:
            client.send(QUERY)
            server.expire_tokens()  # the session times out between pages
            page = client.send(QUERY)
    assert page.body["totalSize"] == 5 and server.token_requests == 2


def test_refused_client_secret_is_a_clear_auth_error():
    with SalesforceServer(5, client_secret="rotated") as server:
        with test_client(configs.salesforce(server.url)) as client:
            with pytest.raises(AuthError, match="invalid_client"):
                client.send(QUERY)


def test_api_key_refused_is_an_auth_error_not_a_retry():
    sleeps = Sleeps()
    with GenericServer(5, api_key="other") as server:
        with test_client(configs.generic(server.url, "cursor"), sleeps) as client:
            with pytest.raises(AuthError) as caught:
                client.send(RequestSpec("GET", "/api/cursor/items"))
    assert caught.value.status == 401 and sleeps == []


def test_basic_auth():
    with GenericServer(5, basic=("sync", "pw")) as server:
        config = configs.load(f"""
name: basic-api
kind: generic_rest
api:
  base_url: {server.url}
  auth: {{type: basic, username: sync, password: {{env: GENERIC_PASSWORD}}}}
streams:
  - {{name: items, object: item, endpoint: /api/cursor/items, records_path: data, id_field: uuid,
      cursor_field: updated_at, pagination: {{style: body_cursor, cursor_path: meta.next_cursor, param: cursor}}}}
""")
        with test_client(config) as client:
            assert len(client.send(RequestSpec("GET", "/api/cursor/items")).body["data"]) == 5
