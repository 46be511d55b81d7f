"""`salesbridge send` signs a payload for every configured connector with its local secret, and the
door of a running app accepts it; a wrong secret is refused, as a forged delivery would be."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from cli import main as cli
from tests.stack import demo_body

ROOT = Path(__file__).resolve().parents[2]
VENDORS = ROOT / "tests" / "ingress" / "fixtures" / "vendors"


def answer(out: str) -> str:
    """What the CLI printed (the in-process server's log and metric lines come before it on standard output)."""
    found = re.search(r"^(\d{3} |curl )", out, re.MULTILINE)
    assert found, out
    return out[found.start() :].strip()


def payloads(tmp_path: Path) -> dict[str, tuple[Path, list[str]]]:
    """A sample delivery per configured connector, and the headers its vendor adds beside the signature."""
    salesforce = (VENDORS / "salesforce" / "outbound_message.xml").read_text().replace("012345678901234", "00D000000000062")
    files = {
        "demo_crm": (demo_body(), []),
        "demo_erp": (json.dumps({"event_id": "erp-77-1", "object": "customer", "data": {"id": "ERP-77", "name": "艾克米"}}).encode(), []),
        "kingdee": (json.dumps({"object": "SAL_SaleOrder", "bill": {"FBillNo": "XSDD000123", "FDate": "2026-11-03"}}).encode(), []),
        "odoo": (json.dumps({"_model": "sale.order", "_id": 42, "name": "S00042"}).encode(), []),
        "hubspot": ((VENDORS / "hubspot" / "contact_creation_webhook_body.json").read_bytes(), []),
        "shopify": ((VENDORS / "shopify" / "products_update_example.json").read_bytes(), ["-H", "X-Shopify-Topic: products/update"]),
        "salesforce": (salesforce.encode(), []),
        "web_events": (
            json.dumps(
                {
                    "event_id": "ev-7f3a",
                    "event": "page_view",
                    "page": "/pricing",
                    "visitor": "v-81",
                    "occurred_at": "2026-11-02T09:00:00+08:00",
                }
            ).encode(),
            [],
        ),
    }
    out = {}
    for name, (body, headers) in files.items():
        path = tmp_path / f"{name}.payload"
        path.write_bytes(body)
        out[name] = (path, headers)
    return out


def test_every_configured_webhook_connector_has_a_sample(tmp_path):
    from chalicelib.configuration import load_configuration

    configured = {name for name, c in load_configuration(ROOT).connectors.items() if c.webhook is not None}
    assert configured == set(payloads(tmp_path))


@pytest.mark.parametrize("connector", ["demo_crm", "demo_erp", "hubspot", "kingdee", "odoo", "shopify", "salesforce", "web_events"])
def test_send_signs_for_the_connector_and_the_door_accepts_it(served, tmp_path, capsys, connector):
    from chalicelib.runtime import aws
    from local.seed import LOCAL_PARAMETERS

    name = f"/salesbridge/{connector}/webhook-secret"
    if connector in ("kingdee", "odoo") and name not in LOCAL_PARAMETERS:  # not seeded locally: the operator stores it
        aws.client("ssm").put_parameter(Name=name, Value=f"{connector}-secret", Type="SecureString", Overwrite=True)
    path, headers = payloads(tmp_path)[connector]
    code = cli.main(["--url", served, "send", connector, str(path), *headers])
    out = answer(capsys.readouterr().out)
    assert code == 0 and out.startswith(("202 ", "200 ")), out

    forged = cli.main(["--url", served, "send", connector, str(path), *headers, "--secret", "not-the-secret"])
    out = answer(capsys.readouterr().out)
    assert forged == 1 and out.startswith("401 "), out


def test_the_printed_curl_is_accepted_as_it_is(served, tmp_path, capsys):
    path, headers = payloads(tmp_path)["shopify"]
    assert cli.main(["--url", served, "send", "shopify", str(path), *headers, "--curl"]) == 0
    command = answer(capsys.readouterr().out)
    assert command.startswith("curl ") and "X-Shopify-Hmac-Sha256" in command
    result = subprocess.run(["bash", "-c", command + " -o /dev/null -w '%{http_code}'"], capture_output=True, text=True, timeout=30)
    assert result.stdout == "202", result


def test_what_send_cannot_do_is_said_plainly(served, tmp_path, capsys):
    path, _ = payloads(tmp_path)["shopify"]
    from local.seed import LOCAL_PARAMETERS

    if "/salesbridge/odoo/webhook-secret" not in LOCAL_PARAMETERS:
        assert cli.main(["--url", served, "send", "odoo", str(path)]) == 2
        assert "cannot read the connector's secret" in capsys.readouterr().err
    assert cli.main(["--url", served, "send", "shopify", str(path)]) == 2
    assert "X-Shopify-Topic" in capsys.readouterr().err
    assert cli.main(["--url", served, "send", "nosuch", str(path)]) == 2
    assert "no connector 'nosuch'" in capsys.readouterr().err
