"""One-time console login links: issued by the authenticated API to its caller, used once, within five minutes."""

from __future__ import annotations

import json
from typing import Any

from tests.console.pages import Browser, header
from tests.console.test_pages import console_entries
from tests.stack import ADMIN


def ask_for_link(client: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    response = client.http.post(
        "/login-links", headers={"Content-Type": "application/json", **(ADMIN if headers is None else headers)}, body=b"{}"
    )
    return response.status_code, json.loads(response.body)


def test_a_link_opens_one_session_as_the_caller_and_only_once(client):
    status, link = ask_for_link(client, {**ADMIN, "X-Salesbridge-Actor": "alice"})
    assert status == 200 and link["path"].startswith("/console/login-link/") and link["url"].endswith(link["path"])
    browser = Browser(client)
    status, headers, _ = browser.get(link["path"])
    assert status in (302, 303) and header(headers, "location").endswith("/console")
    status, _, page = browser.get("/console")
    assert status == 200 and "admin:alice" in page

    again = Browser(client)
    status, _, page = again.get(link["path"])
    assert status == 403 and "not valid" in page, "a link works once"
    assert again.get("/console")[0] in (302, 303), "no session from a used link"

    actions = [(e["action"], e["actor"]) for e in console_entries()]
    assert ("console_login_link_issued", "admin:alice") in actions and ("console_login_link_used", "admin:alice") in actions
    assert ("console_login", "admin:alice") in actions


def test_links_need_the_api_credentials_and_cannot_be_altered_or_used_late(client, monkeypatch):
    assert ask_for_link(client, {})[0] == 401
    assert ask_for_link(client, {"Authorization": "Bearer guess"})[0] == 401
    refused = client.http.post("/login-links", headers={**ADMIN, "Content-Type": "application/json"}, body=b'{"identity": "root"}')
    assert refused.status_code == 400 and json.loads(refused.body)["error"] == "invalid_body"

    _, link = ask_for_link(client)
    prefix, _, rest = link["path"].rpartition("/")
    identity, expires, nonce, signature = rest.split(".")
    from chalicelib.console import signing

    forged_identity = signing.b64(b"admin:mallory")
    later = int(expires) + 600
    for token in (f"{forged_identity}.{expires}.{nonce}.{signature}", f"{identity}.{later}.{nonce}.{signature}", "x", "a.b.c.d"):
        assert Browser(client).get(f"{prefix}/{token}")[0] == 403, token

    import time

    from chalicelib.console import login_links

    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + login_links.LINK_SECONDS + 1)
    assert Browser(client).get(link["path"])[0] == 403, "expired"
