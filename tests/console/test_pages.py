"""The console's rules, through Chalice's test client: sessions, CSRF, roles, masking, escaping, errors, audit."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.console.conftest import PRIVACY_TOKEN
from tests.console.pages import FORM, Browser, csrf_of, header
from tests.stack import ADMIN, ADMIN_TOKEN, demo_body, drain, post_demo

SOURCE = "demo_crm/customer/C-1001"
TEMPLATES = Path(__file__).resolve().parents[2] / "chalicelib" / "console" / "templates"
PAGES = ["/console", "/console/quarantine", "/console/customer", f"/console/customer?source={SOURCE}", "/console/try"]


def settings() -> Any:
    from chalicelib.runtime.settings import get_settings

    return get_settings()


def audit_of(entity: str) -> list[dict[str, Any]]:
    from chalicelib.api.admin import audit_trail

    return audit_trail(settings(), {"entity": entity})["entries"]


def console_entries() -> list[dict[str, Any]]:
    from datetime import UTC, datetime

    from chalicelib.api.admin import audit_trail

    entries = audit_trail(settings(), {"day": datetime.now(UTC).date().isoformat(), "limit": "200"})["entries"]
    return [e for e in entries if e["pk"].startswith("console#")]


def customer_key() -> str:
    from chalicelib.api.admin import entity_key_from

    return entity_key_from(None, SOURCE)


def quarantine_titanium(client: Any, **extra: Any) -> str:
    post_demo(client, demo_body(tier="Titanium", updated_at="2026-11-03T08:00:00+08:00", **extra))
    drain()
    from chalicelib.api.admin import list_quarantine

    (record,) = list_quarantine(settings(), {"status": "open"})["records"]
    return str(record["id"])


def logged_in(client: Any, token: str = ADMIN_TOKEN, name: str = "alice") -> Browser:
    browser = Browser(client)
    status, headers, _ = browser.login(token, name)
    assert status == 303 and header(headers, "location") == "/console", (status, headers)
    return browser


# ----------------------------------------------------------------------------- sessions and CSRF
def test_every_console_page_sends_a_visitor_without_a_session_to_the_login_page(client):
    qid = quarantine_titanium(client)
    browser = Browser(client)
    for path in [*PAGES, f"/console/quarantine/{qid}"]:
        status, headers, _ = browser.get(path)
        assert (status, header(headers, "location")) == (303, "/console/login"), path
    status, _, _ = browser.post(f"/console/quarantine/{qid}/replay", {"csrf": "x"})
    assert status == 303
    from chalicelib.api.admin import get_quarantined

    assert get_quarantined(settings(), qid)["status"] == "open", "nothing was replayed"


def test_login_cookie_is_signed_httponly_strict_and_refusals_are_audited(client):
    browser = Browser(client)
    status, _, html = browser.get("/console/login")
    assert status == 200 and "sb_console_login" in browser.cookies
    status, _, html = browser.post("/console/login", {"token": ADMIN_TOKEN})
    assert status == 403 and "sb_console" not in browser.cookies, "no CSRF field, no login"
    status, _, html = browser.post("/console/login", {"csrf": csrf_of(html), "token": "guess", "name": "mallory"})
    assert status == 401 and "opens no console session" in html
    status, headers, _ = browser.login(ADMIN_TOKEN, "alice")
    assert status == 303
    cookie = next(c for c in header(headers, "set-cookie") if c.startswith("sb_console="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie and "Max-Age=28800" in cookie
    assert "Secure" not in cookie, "plain HTTP on the local stage"
    actions = {(e["action"], e["actor"]) for e in console_entries()}
    assert ("console_login_refused", "caller:127.0.0.1") in actions
    assert ("console_login", "admin:alice") in actions


def test_the_session_cookie_is_secure_off_the_local_stage(client, monkeypatch):
    from chalicelib.console import session

    monkeypatch.setenv("SALESBRIDGE_STAGE", "prod")
    from tests.console.conftest import reset_caches

    reset_caches()
    assert "; Secure" in session.cookie(session.COOKIE, "v", "/console", settings(), 60)


def test_a_form_without_the_sessions_csrf_token_changes_nothing(client):
    qid = quarantine_titanium(client)
    browser = logged_in(client)
    other = logged_in(client, name="bob")  # a second session: its token is not valid for the first
    _, _, other_page = other.get("/console/quarantine")
    status, _, html = browser.post(f"/console/quarantine/{qid}/replay", {"csrf": csrf_of(other_page)})
    assert status == 403 and "expired" in html
    from chalicelib.api.admin import get_quarantined

    assert get_quarantined(settings(), qid)["status"] == "open"


def test_an_altered_or_expired_session_is_no_session(client):
    from chalicelib.console import session

    browser = logged_in(client)
    value = browser.cookies["sb_console"]
    body, signature = value.split(".")
    forged_body = session.signing.b64(
        json.dumps({"sub": "admin:alice", "role": "privacy_officer", "sid": "x", "exp": 9999999999, "via": "admin_token"}).encode()
    )
    for forged in (f"{forged_body}.{signature}", f"{body}.{signature[:-2]}AA", body, ""):
        browser.cookies["sb_console"] = forged
        assert browser.get("/console")[0] == 303
    _, minted = session.mint_session(settings(), "admin:alice", "operator", "admin_token", now=0)
    assert session.read_session(settings(), minted) is None, "expired in 1970"
    assert session.read_session(settings(), minted, now=10) is not None


def test_logout_ends_the_session_and_is_audited(client):
    browser = logged_in(client)
    status, headers, _ = browser.submit("/console", "/console/logout", {})
    assert status == 303 and header(headers, "location") == "/console/login"
    assert "sb_console" not in browser.cookies
    assert ("console_logout", "admin:alice") in {(e["action"], e["actor"]) for e in console_entries()}


# ----------------------------------------------------------------------------- what pages send
def test_every_page_has_a_strict_policy_and_templates_carry_no_inline_code(client):
    browser = logged_in(client)
    post_demo(client, demo_body())
    drain()
    for path in PAGES:
        status, headers, html = browser.get(path)
        assert status == 200, (path, html[:500])
        policy = header(headers, "content-security-policy")
        assert "default-src 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert header(headers, "x-frame-options") == "DENY" and header(headers, "cache-control") == "no-store"
        for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", html, re.S):
            assert 'name="csrf"' in form, (path, form[:200])
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"{template.name}: inline script"
        assert not re.search(r"\sstyle=|<style", text), f"{template.name}: inline style"
        assert not re.search(r"\son[a-z]+=|javascript:", text), f"{template.name}: inline handler"


def test_static_files_are_text_and_nothing_outside_the_folder_is_served(client):
    for name, kind in (("console.css", "text/css"), ("console.js", "text/javascript"), ("favicon.svg", "image/svg+xml")):
        response = client.http.get(f"/console/static/{name}")
        assert response.status_code == 200 and header(response, "content-type").startswith(kind)
    for name in ("..%2Froutes.py", "routes.py", "missing.css", "..%2F..%2F..%2Fapp.py", "a%00b.css", 'Uy3""(tZ2Q0\x00'):
        assert client.http.get(f"/console/static/{name}").status_code == 404, name


def test_values_from_a_payload_are_escaped_not_executed(client):
    qid = quarantine_titanium(client, name='<script>alert("x")</script><img src=x onerror=alert(1)>')
    browser = logged_in(client)
    status, _, html = browser.get(f"/console/quarantine/{qid}")
    assert status == 200
    assert "&lt;script&gt;alert(" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert" not in html and "<img src=x" not in html


# ----------------------------------------------------------------------------- roles and masking
def test_an_operator_sees_personal_data_masked_a_privacy_officer_unmasked_and_audited(client):
    post_demo(client, demo_body())
    drain()
    page = f"/console/customer?source={SOURCE}"
    operator = logged_in(client)
    _, _, html = operator.get(page)
    assert "buyer@acme.example" not in html and "masked:" in html
    assert "Acme Trading" in html, "fields of no personal category are shown"

    officer = logged_in(client, PRIVACY_TOKEN, "dora")
    _, _, html = officer.get(page)
    assert "buyer@acme.example" in html and "privacy officer" in html
    viewed = [e for e in console_entries() if e["action"] == "personal_data_viewed"]
    assert [(e["actor"], e["details"]["what"]) for e in viewed] == [("privacy_officer:dora", f"golden record of {customer_key()}")]


# ----------------------------------------------------------------------------- actions
def test_consent_changed_in_the_console_is_audited_with_the_operators_name(client):
    post_demo(client, demo_body())
    drain()
    browser = logged_in(client, name="olga")
    key = customer_key()
    fields = {"entity": key, "category": "contact_personal", "status": "revoked", "purpose": "asked by phone"}
    status, headers, _ = browser.submit(f"/console/customer?{urlencode({'entity': key})}", "/console/customer/consent", fields)
    assert status == 303 and header(headers, "location").startswith("/console/customer?entity=customer%23")
    consent = audit_of(f"consent#{key.partition('#')[2]}")
    assert [(e["action"], e["actor"], e["details"]["purpose"]) for e in consent] == [("consent_revoked", "admin:olga", "asked by phone")]
    from chalicelib.api.admin import entity_state

    assert "email" not in entity_state(settings(), {"entity": key})["fields"]


def test_replaying_a_filtered_set_and_errors_render_as_pages(client):
    qid = quarantine_titanium(client)
    browser = logged_in(client)
    status, _, html = browser.submit("/console/quarantine", "/console/quarantine/replay", {})
    assert status == 400 and "Choose a connector" in html
    status, _, html = browser.submit(
        "/console/quarantine", "/console/quarantine/replay", {"connector": "demo_crm", "code": "unknown_value"}
    )
    assert status == 200 and "Replayed 1 record" in html and "quarantined" in html, "the mapping is not fixed: quarantined again"
    status, _, html = browser.get("/console/quarantine/q_missing")
    assert status == 404 and "no quarantined record q_missing" in html
    status, _, html = browser.get("/console/customer?source=not-a-source")
    assert status == 400 and "source must look like" in html
    status, _, html = browser.submit("/console/try", "/console/try", {"mapping": "demo_crm_customer", "payload": "{not json"})
    assert status == 400 and "not valid JSON" in html
    assert qid in browser.get("/console/quarantine")[2]


def test_discarding_a_record_from_its_page_needs_a_reason_and_closes_it(client):
    from chalicelib.api.admin import get_quarantined

    qid = quarantine_titanium(client)
    browser = logged_in(client, name="ivy")
    page = f"/console/quarantine/{qid}"
    assert 'id="discard"' in browser.get(page)[2]
    status, _, html = browser.submit(page, f"/console/quarantine/{qid}/discard", {"reason": "   "})
    assert status == 400 and "reason:" in html
    status, _, html = browser.post(f"/console/quarantine/{qid}/discard", {"csrf": "forged", "reason": "x"})
    assert status == 403
    assert get_quarantined(settings(), qid)["status"] == "open"
    status, headers, _ = browser.submit(page, f"/console/quarantine/{qid}/discard", {"reason": "a <b>test</b> record"})
    assert status == 303 and header(headers, "location") == page
    status, _, html = browser.get(page)
    assert status == 200 and "by admin:ivy" in html and "a &lt;b&gt;test&lt;/b&gt; record" in html
    assert 'id="discard"' not in html and 'id="replay"' not in html
    assert get_quarantined(settings(), qid)["status"] == "discarded"
    status, _, html = browser.post(f"/console/quarantine/{qid}/discard", {"csrf": csrf_of(html), "reason": "again"})
    assert status == 409 and "only an open record can be discarded" in html
    status, _, html = browser.get("/console/quarantine?status=discarded")
    assert status == 200 and qid in html and '<option value="discarded" selected>' in html


def test_a_replay_that_ran_out_of_time_offers_the_rest_and_takes_each_record_once(client, monkeypatch):
    import html as markup
    import re

    from chalicelib.api import admin

    monkeypatch.setattr(admin, "REPLAY_PAGE", 1)
    monkeypatch.setattr(admin, "REPLAY_MARGIN_SECONDS", float("inf"))  # one page per request
    for n in range(3):
        post_demo(client, demo_body(f"C-{n}", tier="Titanium"))
    drain()
    browser = logged_in(client)
    status, _, page = browser.submit("/console/quarantine", "/console/quarantine/replay", {"connector": "demo_crm"})
    taken = re.findall(r'<td><a href="/console/quarantine/([^"]+)">', page)
    for _ in range(5):
        assert status == 200 and "Replayed 1 record" in page, page
        form = page[page.index('id="replay-more"') :] if 'id="replay-more"' in page else None
        if form is None:
            break
        fields = {name: markup.unescape(value) for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}
        assert fields["connector"] == "demo_crm" and fields["after"], fields
        status, _, page = browser.post("/console/quarantine/replay", fields)
        taken += re.findall(r'<td><a href="/console/quarantine/([^"]+)">', page)
    assert len(taken) == 3 == len(set(taken)), taken  # the last page offers no more
    forged = {"csrf": csrf_of(page), "connector": "demo_crm", "after": "forged"}
    status, _, page = browser.post("/console/quarantine/replay", forged)
    assert status == 400 and "after" in page


def test_discarding_a_filtered_set_needs_a_filter_and_a_reason_and_goes_on_with_the_rest(client, monkeypatch):
    import html as markup

    from chalicelib.api import admin
    from chalicelib.api.admin import get_quarantined

    monkeypatch.setattr(admin, "REPLAY_PAGE", 1)
    monkeypatch.setattr(admin, "REPLAY_MARGIN_SECONDS", float("inf"))  # one page per request
    for n in range(3):
        post_demo(client, demo_body(f"C-{n}", tier="Titanium"))
    drain()
    browser = logged_in(client, name="ivy")
    _, _, listing = browser.get("/console/quarantine")
    assert 'id="discard-matching"' in listing and 'action="/console/quarantine/discard"' in listing
    status, _, html = browser.submit("/console/quarantine", "/console/quarantine/discard", {"reason": "test data"})
    assert status == 400 and "a discard is final" in html, "no filter: never every record at once"
    status, _, html = browser.submit("/console/quarantine", "/console/quarantine/discard", {"connector": "demo_crm", "reason": "  "})
    assert status == 400 and "reason:" in html
    status, _, html = browser.post("/console/quarantine/discard", {"csrf": "forged", "connector": "demo_crm", "reason": "x"})
    assert status == 403
    status, _, html = browser.submit(
        "/console/quarantine", "/console/quarantine/discard", {"connector": "demo_crm", "reason": "x", "limit": "ten"}
    )
    assert status == 400 and "limit" in html
    assert len(admin.list_quarantine(settings(), {"status": "open"})["records"]) == 3, "nothing discarded yet"

    fields = {"connector": "demo_crm", "code": "unknown_value", "reason": "a <b>test</b> batch"}
    status, _, page = browser.submit("/console/quarantine", "/console/quarantine/discard", fields)
    taken = re.findall(r'<td><a href="/console/quarantine/([^"]+)">', page)
    for _ in range(5):
        assert status == 200 and "Discarded 1 record" in page and "a &lt;b&gt;test&lt;/b&gt; batch" in page, page
        form = page[page.index('id="discard-more"') :] if 'id="discard-more"' in page else None
        if form is None:
            break
        more = {name: markup.unescape(value) for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}
        assert more["reason"] == "a <b>test</b> batch" and more["code"] == "unknown_value" and more["after"], more
        status, _, page = browser.post("/console/quarantine/discard", more)
        taken += re.findall(r'<td><a href="/console/quarantine/([^"]+)">', page)
    assert len(taken) == 3 == len(set(taken)), taken  # the last page offers no more
    for qid in taken:
        record = get_quarantined(settings(), qid)
        assert (record["status"], record["discarded_by"], record["reason"]) == ("discarded", "admin:ivy", "a <b>test</b> batch")
    status, _, page = browser.submit("/console/quarantine", "/console/quarantine/discard", fields)
    assert status == 200 and "Discarded 0 records" in page and "No open record matched" in page
    forged = {"csrf": csrf_of(page), "connector": "demo_crm", "reason": "x", "after": "forged"}
    status, _, page = browser.post("/console/quarantine/discard", forged)
    assert status == 400 and "after" in page


def test_try_a_mapping_masks_stored_personal_values_in_the_diff(client):
    post_demo(client, demo_body())
    drain()
    browser = logged_in(client)
    payload = json.dumps({"customer": {"id": "C-1001", "email": "new@acme.example", "updated_at": "2026-11-05T08:00:00+08:00"}})
    status, _, html = browser.submit("/console/try", "/console/try", {"mapping": "demo_crm_customer", "payload": payload, "action": "try"})
    result = html[html.index('id="result"') :]
    assert status == 200 and 'id="diff"' in result
    assert "buyer@acme.example" not in result and "new@acme.example" not in result and "masked:" in result


def test_an_edited_mapping_is_compared_with_recent_inputs(client, console_config):
    post_demo(client, demo_body())
    drain()
    browser = logged_in(client)
    edited = (console_config / "mappings" / "demo_crm_customer.yaml").read_text().replace("Gold: A", "Gold: B")
    fields = {"mapping": "demo_crm_customer", "payload": "{}", "edited": edited, "action": "regression"}
    status, _, html = browser.submit("/console/try", "/console/try", fields)
    assert status == 200 and 'id="regression"' in html
    assert re.search(r"<td>fields.grade</td><td>A</td><td>B</td>", html), html[html.find('id="regression"') :][:1500]


# ----------------------------------------------------------------------------- customer links
def test_customer_links_are_issued_by_an_authenticated_endpoint_and_audited(client):
    post_demo(client, demo_body())
    drain()

    def issue(params: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        response = client.http.post(
            f"/customer-links?{params}",
            headers={"Content-Type": "application/json", **(ADMIN if headers is None else headers), "X-Salesbridge-Actor": "ops"},
            body=json.dumps(body),
        )
        return response.status_code, json.loads(response.body)

    assert issue(f"source={SOURCE}", {"days": 7}, headers={})[0] == 401
    for days in (0, 91, "x", 1.5, True):
        status, refused = issue(f"source={SOURCE}", {"days": days})
        assert status == 400 and refused["error"] == "invalid_body" and refused["message"].startswith("days: "), (days, refused)
    assert issue("source=demo_crm/order/1", {"days": 7})[0] == 400
    assert issue("source=demo_crm/customer/C-404", {"days": 7})[0] == 404
    status, link = issue(f"source={SOURCE}", {"days": 7})
    assert status == 200 and link["url"].startswith("http://") and "/my-data/" in link["url"]
    assert client.http.get(link["path"]).status_code == 200
    (issued,) = [e for e in audit_of_correlation(f"consent#{customer_key().partition('#')[2]}") if e["action"] == "customer_link_issued"]
    assert issued["actor"] == "admin:ops" and link["url"].rsplit("/", 1)[1] not in json.dumps(issued), (
        "the audit names the link, never holds it"
    )


def audit_of_correlation(correlation: str) -> list[dict[str, Any]]:
    from chalicelib.api.admin import audit_trail

    return audit_trail(settings(), {"correlation": correlation})["entries"]


def test_the_customer_page_speaks_the_browsers_language_and_checks_its_forms(client):
    from chalicelib.console.links import issue_link

    post_demo(client, demo_body())
    drain()
    link = issue_link(settings(), customer_key(), 7, "admin", "http://testserver")
    for accept, title in (
        ("zh-CN,zh;q=0.9", "您在我们这里的数据"),
        ("en-US,en;q=0.8", "Your data with us"),
        ("fr-FR", "Your data with us"),
        ("fr;q=1, zh-TW;q=0.5", "您在我们这里的数据"),
    ):
        response = client.http.get(link["path"], headers={"Accept-Language": accept})
        assert response.status_code == 200 and title in response.body.decode(), accept
        assert header(response, "referrer-policy") == "no-referrer"
    page = client.http.get(link["path"]).body.decode()
    forged = client.http.post(link["path"], headers=FORM, body=b"csrf=forged&category=contact_personal&status=revoked")
    assert forged.status_code == 403
    bad = client.http.post(link["path"], headers=FORM, body=f"csrf={csrf_of(page)}&category=secrets&status=revoked".encode())
    assert bad.status_code == 400 and "category: expected one of" in bad.body.decode()
    assert [e for e in audit_of(f"consent#{customer_key().partition('#')[2]}")] == [], "nothing changed"


@pytest.mark.parametrize("stage_path", ["", "/api"])
def test_pages_answer_a_real_api_gateway_event_with_a_json_serialisable_text_response(client, stage_path):
    """On Lambda the runtime json.dumps the handler's answer: bodies must be text (a bytes body is a 502)."""
    import app as application
    from chalicelib.console.links import issue_link

    post_demo(client, demo_body())
    drain()
    link = issue_link(settings(), customer_key(), 7, "admin", "https://example.test")

    def invoke(method: str, path: str, headers: dict[str, str], body: str | None = None) -> dict[str, Any]:
        event = api_gateway_event(method, path, headers, body, stage_path)
        response = application.app(event, LambdaContext())
        json.loads(json.dumps(response))  # what the Lambda runtime does with it
        assert isinstance(response["body"], str)
        return response

    login = invoke("GET", "/console/login", {"Host": "abc.execute-api.us-east-1.amazonaws.com"})
    assert login["statusCode"] == 200 and f'href="{stage_path}/console/static/console.css"' in login["body"]
    cookie = login["headers"]["Set-Cookie"]
    assert f"Path={stage_path}/console;" in cookie
    css = invoke("GET", "/console/static/console.css", {})
    assert css["statusCode"] == 200 and css["headers"]["Content-Type"].startswith("text/css") and ".panel" in css["body"]
    page = invoke("GET", link["path"], {"Accept-Language": "zh-CN"})
    assert page["statusCode"] == 200 and "数据" in page["body"]
    form = f"csrf={csrf_of(page['body'])}&category=inquiry&status=revoked&lang=en"
    changed = invoke("POST", link["path"], {"Content-Type": "application/x-www-form-urlencoded"}, form)
    assert changed["statusCode"] == 303 and changed["headers"]["Location"].startswith(f"{stage_path}/my-data/")


class LambdaContext:
    function_name = "salesbridge-dev"
    aws_request_id = "req-1"
    memory_limit_in_mb = 512

    def get_remaining_time_in_millis(self) -> int:
        return 30000


def api_gateway_event(method: str, path: str, headers: dict[str, str], body: str | None, stage_path: str) -> dict[str, Any]:
    """An API Gateway REST proxy event as Lambda receives it (path without the stage, requestContext.path with it)."""
    resource = re.sub(r"^/my-data/[^/]+$", "/my-data/{token}", path)
    resource = re.sub(r"^/console/static/[^/]+$", "/console/static/{name}", resource)
    params = (
        {"token": path.rsplit("/", 1)[1]} if "{token}" in resource else {"name": path.rsplit("/", 1)[1]} if "{name}" in resource else None
    )
    all_headers = {"Host": "abc.execute-api.us-east-1.amazonaws.com", "X-Forwarded-Proto": "https", **headers}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"{stage_path}{path}",
            "stage": stage_path.strip("/") or "$default",
            "requestId": "req-1",
            "identity": {"sourceIp": "203.0.113.9"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def test_a_reason_quoting_a_personal_value_is_masked_for_operators(client):
    post_demo(client, demo_body(email="not-an-address@", updated_at="2026-11-03T08:00:00+08:00"))
    drain()
    from chalicelib.api.admin import list_quarantine

    (record,) = list_quarantine(settings(), {"status": "open"})["records"]
    assert "not-an-address@" in record["message"] and record["field"] == "email"
    operator = logged_in(client)
    for path in ("/console/quarantine", f"/console/quarantine/{record['id']}"):
        status, _, html = operator.get(path)
        assert status == 200 and "not-an-address@" not in html and "not a valid e-mail address: &#39;masked:" in html
    _, _, html = logged_in(client, PRIVACY_TOKEN, "dora").get(f"/console/quarantine/{record['id']}")
    assert "not-an-address@" in html


def test_when_aws_does_not_answer_a_page_says_so_with_a_503(client, monkeypatch):
    from chalicelib.runtime import aws
    from tests.local_server import free_port

    browser = logged_in(client)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    aws.reset_clients()
    status, _, html = browser.get("/console/quarantine")
    assert status == 503 and "AWS did not answer (EndpointConnectionError)" in html
