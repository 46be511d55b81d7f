"""The console and the customer page in a real browser (headless Chromium) against the app over HTTP.

The app runs in this process under Chalice's local server on 127.0.0.1, on the moto stand-in;
the queue is drained in-process between steps, as the local worker would. Each page's screenshot
goes to build/screenshots/ (ignored by git) for a reviewer to look at.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.console.conftest import screenshot
from tests.stack import ADMIN, demo_body, demo_signature, drain

pytestmark = pytest.mark.browser
SOURCE = "demo_crm/customer/C-1001"


def send(url: str, body: bytes, signature: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-Demo-Signature": signature or demo_signature(body)}
    return httpx.post(f"{url}/webhooks/demo_crm", content=body, headers=headers, timeout=30)


def wait_for(driver: Any, css: str, timeout: float = 20) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def text_of(driver: Any, css: str) -> str:
    return str(wait_for(driver, css).text)


def click(driver: Any, css: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, css).click()


def accept_confirm(driver: Any) -> str:
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    alert = WebDriverWait(driver, 10).until(expected_conditions.alert_is_present())
    question = str(alert.text)
    alert.accept()
    return question


def fits_the_screen(driver: Any) -> bool:
    return bool(driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"))


def audit(entity: str) -> list[dict[str, Any]]:
    from chalicelib.api.admin import audit_trail
    from chalicelib.runtime.settings import get_settings

    return audit_trail(get_settings(), {"entity": entity})["entries"]


def test_an_operator_logs_in_finds_a_quarantined_record_replays_it_and_reads_the_timeline(live_url, chromium, console_config: Path):
    assert send(live_url, demo_body(tier="Gold", updated_at="2026-11-01T08:00:00+08:00")).status_code == 202
    assert send(live_url, demo_body(tier="Titanium", updated_at="2026-11-03T08:00:00+08:00")).status_code == 202
    assert send(live_url, demo_body(tier="Gold"), signature="sha256=" + "0" * 64).status_code == 401
    drain()

    driver = chromium()
    driver.get(f"{live_url}/console")
    wait_for(driver, "#login")
    assert driver.current_url.endswith("/console/login")
    screenshot(driver, "01-login")
    driver.find_element("id", "token").send_keys("wrong-token")
    click(driver, "#login button[type=submit]")
    assert "opens no console session" in text_of(driver, "#login-error")
    driver.find_element("id", "token").send_keys("test-admin-token")
    driver.find_element("id", "name").send_keys("alice")
    click(driver, "#login button[type=submit]")

    # Overview: the counters of what just happened, per connector
    assert text_of(driver, "#identity") == "admin:alice"
    figure = "#connector-demo_crm"
    assert text_of(driver, f"{figure} .n-received") == "2"
    assert text_of(driver, f"{figure} .n-applied") == "1"
    assert text_of(driver, f"{figure} .n-quarantined") == "1"
    assert text_of(driver, f"{figure} .n-refused") == "1"
    assert len(driver.find_elements("css selector", f"{figure} svg rect.bar")) >= 1
    assert "demo_crm_customer" in text_of(driver, "#config")
    screenshot(driver, "02-overview")

    # Quarantine: the record, its reason, the mapping line it points to, the raw input masked
    click(driver, "nav a[href$='/console/quarantine']")
    assert "Titanium" in text_of(driver, "#quarantine-list")
    screenshot(driver, "03-quarantine")
    click(driver, "#quarantine-list a.qid")
    assert "unknown_value" in text_of(driver, "#code")
    assert text_of(driver, "#mapping-lines .line.hit").endswith("grade:"), "the rule of the field the reason names"
    assert "Gold: A" in text_of(driver, "#mapping-lines"), "with the map: to edit beside it"
    raw = text_of(driver, "#raw-input")
    assert "Titanium" in raw and "C-1001" in raw, "the mapped non-personal values are shown"
    assert "buyer@acme.example" not in raw and "masked:" in raw, "an operator sees the e-mail masked"
    screenshot(driver, "04-quarantined-record")

    # The integrator fixes the mapping (the local stack reloads it); the operator replays the record
    mapping = console_config / "mappings" / "demo_crm_customer.yaml"
    mapping.write_text(mapping.read_text().replace("Platinum: S,", "Platinum: S, Titanium: S,"))
    time.sleep(1.2)
    click(driver, "#replay button[type=submit]")
    assert text_of(driver, "#replay-results .outcome") == "applied"
    assert text_of(driver, "#replay-results td.events") != "none", "the replay fired the grade change (A → S)"
    screenshot(driver, "05-replayed")
    entries = audit(f"customer#{_customer_id()}")
    replayed = next(e for e in entries if e["action"] == "replayed")
    assert replayed["actor"] == "admin:alice"

    # The customer's timeline: golden record with lineage, the chain verified, the grade event
    click(driver, "#replay-results a.entity")
    assert text_of(driver, "#field-grade .value") == "S"
    assert "mappings/demo_crm_customer.yaml:" in text_of(driver, "#field-grade")
    assert text_of(driver, "#field-email .value").startswith("masked:")
    assert "chain verified" in text_of(driver, "#chain")
    assert "customer.grade_changed" in text_of(driver, "#events")
    assert "admin:alice" in text_of(driver, "#audit")
    screenshot(driver, "06-timeline")

    # A data-usage link for the customer, from the timeline
    click(driver, "#customer-link button[type=submit]")
    link = wait_for(driver, "#customer-url").get_attribute("value")
    assert link.startswith(f"{live_url}/my-data/")
    screenshot(driver, "07-customer-link")

    # Try a mapping: a payload through the deployed mapping, against the stored state
    click(driver, "nav a[href$='/console/try']")
    payload = {"customer": {"id": "C-1001", "tier": "Silver", "updated_at": "2026-11-09T08:00:00+08:00"}}
    driver.find_element("id", "payload").send_keys(json.dumps(payload))
    click(driver, "#try button[value=try]")
    assert text_of(driver, "#outcome") == "applied"
    assert "B" in text_of(driver, "#diff")
    assert "customer.grade_changed" in text_of(driver, "#result")
    screenshot(driver, "08-try-a-mapping")

    click(driver, "header .who button")
    wait_for(driver, "#login")
    driver.get(f"{live_url}/console/quarantine")
    wait_for(driver, "#login")  # the session is gone
    actions = [e["action"] for e in _console_audit()]
    assert {"console_login", "console_login_refused", "customer_link_issued", "console_logout"} <= set(actions)


def test_a_customer_revokes_a_category_on_their_page_in_chinese_on_a_phone(live_url, chromium):
    assert send(live_url, demo_body(tier="Gold")).status_code == 202
    drain()
    issued = httpx.post(f"{live_url}/customer-links", params={"source": SOURCE}, json={"days": 7}, headers=ADMIN, timeout=30)
    assert issued.status_code == 200, issued.text
    url = issued.json()["url"]

    driver = chromium(language="zh-CN", phone=True)
    driver.get(url)
    assert text_of(driver, "h1") == "您在我们这里的数据"
    card = "#category-contact_personal"
    assert text_of(driver, f"{card} .status") == "已授权"
    assert text_of(driver, f"{card} .held") == "email"
    assert "1 次" in text_of(driver, f"{card} .uses")
    assert "demo_crm" in text_of(driver, card)
    assert fits_the_screen(driver), "the page scrolls sideways on a phone"
    screenshot(driver, "09-customer-page-zh")

    click(driver, "#toggle-contact_personal")
    assert "停止使用" in accept_confirm(driver)
    assert "已删除" in text_of(driver, "#saved")
    assert text_of(driver, f"{card} .status") == "未授权"
    assert text_of(driver, f"{card} .held") == "未持有此类数据"
    screenshot(driver, "10-customer-page-revoked")

    # It took effect: the field is gone from the golden record, and the customer is the actor
    from chalicelib.api.admin import entity_state
    from chalicelib.runtime.settings import get_settings

    state = entity_state(get_settings(), {"source": SOURCE})
    assert "email" not in state["fields"] and state["fields"]["grade"] == "A"
    customer_id = _customer_id()
    consent = audit(f"consent#{customer_id}")
    assert [(e["action"], e["actor"]) for e in consent] == [("consent_revoked", f"customer:{customer_id}")]
    purged = next(e for e in audit(f"customer#{customer_id}") if e["action"] == "consent_purged")
    assert purged["actor"] == f"customer:{customer_id}" and purged["details"]["fields"] == ["email"]

    click(driver, "#switch-lang")
    assert text_of(driver, "h1") == "Your data with us"
    assert text_of(driver, f"{card} .status") == "Not allowed"
    screenshot(driver, "11-customer-page-en")

    # An altered link and an expired one are refused with a 403 page
    token = url.rsplit("/", 1)[1]
    body, expires, signature = token.split(".")
    tampered = f"{live_url}/my-data/{body}.{int(expires) + 86400}.{signature}"
    assert httpx.get(tampered, timeout=30).status_code == 403
    driver.get(tampered)
    assert text_of(driver, "#refused h1") == "此链接无法使用"
    screenshot(driver, "12-link-refused")

    from chalicelib.console.links import make_token

    expired = f"{live_url}/my-data/{make_token(get_settings(), f'customer#{customer_id}', int(time.time()) - 60)}"
    response = httpx.get(expired, headers={"Accept-Language": "en-GB,en;q=0.9"}, timeout=30)
    assert response.status_code == 403 and "This link cannot be used" in response.text
    driver.get(expired)
    assert text_of(driver, "#refused h1") == "此链接无法使用"


def _customer_id() -> str:
    from chalicelib.api.admin import entity_key_from

    return entity_key_from(None, SOURCE).partition("#")[2]


def _console_audit() -> list[dict[str, Any]]:
    from datetime import UTC, datetime

    from chalicelib.api.admin import audit_trail
    from chalicelib.runtime.settings import get_settings

    day = datetime.now(UTC).date().isoformat()
    entries = audit_trail(get_settings(), {"day": day, "limit": "200"})["entries"]
    return [e for e in entries if e["action"].startswith("console_") or e["action"] == "customer_link_issued"]
