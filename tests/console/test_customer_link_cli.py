"""`salesbridge customer-link` against the app served over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.stack import ADMIN_TOKEN, demo_body, demo_signature, drain

ROOT = Path(__file__).resolve().parents[2]


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli", "--url", url, "--token", ADMIN_TOKEN, "--actor", "sales-ops", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ), timeout=60)


def test_the_cli_issues_a_link_that_opens_the_customers_page(live_url):
    body = demo_body()
    headers = {"Content-Type": "application/json", "X-Demo-Signature": demo_signature(body)}
    assert httpx.post(f"{live_url}/webhooks/demo_crm", content=body, headers=headers, timeout=30).status_code == 202
    drain()
    result = cli(live_url, "customer-link", "--source", "demo_crm/customer/C-1001", "--days", "7")
    assert result.returncode == 0, result.stderr
    link = json.loads(result.stdout)
    assert link["url"].startswith(f"{live_url}/my-data/") and link["customer"].startswith("customer#cus_")
    page = httpx.get(link["url"], headers={"Accept-Language": "en"}, timeout=30)
    assert page.status_code == 200 and "Your data with us" in page.text

    refused = cli(live_url, "customer-link", "--source", "demo_crm/customer/C-1001", "--days", "120")
    assert refused.returncode == 2 and "days: Input should be less than or equal to 90" in refused.stderr
