"""The shipped sample configuration is complete: every mapping has its connector, and a shipped
stream syncs end to end (loopback Kingdee Web API → queue → pipeline → golden products)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.stack import drain, get_json
from tests.vendor_servers.base import json_response
from tests.vendor_servers.kingdee import KingdeeServer

ROOT = Path(__file__).resolve().parents[2]


class _Context:
    function_name = "scheduled_sync"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 120_000


EVENT = {
    "version": "0",
    "id": "x",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "1",
    "time": "",
    "region": "",
    "resources": [],
    "detail": {},
}


def test_the_shipped_configuration_loads_and_every_mapping_has_its_connector():
    from chalicelib.configuration import load_configuration

    config = load_configuration(ROOT)  # raises ConfigError listing every problem
    missing = {m.file: m.connector for m in config.mappings.mappings.values() if m.connector not in config.connectors}
    assert missing == {}
    for name in ("kingdee", "odoo", "distributor_dms"):
        api = config.connectors[name].api
        assert api is not None and api.streams, f"connectors/{name}.yaml declares no stream to pull"
    pulled = {(c.name, s.object) for c in config.connectors.values() if c.api for s in c.api.streams}
    for connector, obj in pulled:  # every pulled object has a mapping that takes it
        assert config.mappings.find(connector, obj) is not None, f"{connector} stream {obj} has no mapping"
    assert any(m.entity == "product" for m in config.mappings.mappings.values())


def shipped_config_dir(tmp_path: Path, kingdee_url: str) -> Path:
    """The shipped files, with only the Kingdee site address (and a smaller page) pointed at the loopback server."""
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    shutil.copytree(ROOT / "connectors", tmp_path / "connectors")
    path = tmp_path / "connectors" / "kingdee.yaml"
    text = path.read_text()
    assert "https://erp.example.com/K3Cloud" in text and "page_size: 500" in text
    path.write_text(text.replace("https://erp.example.com/K3Cloud", f"{kingdee_url}/K3Cloud").replace("page_size: 500", "page_size: 10"))
    return tmp_path


@pytest.fixture()
def kingdee_stack(stack, tmp_path, monkeypatch):
    from chalicelib import configuration as loader
    from chalicelib.runtime import aws, settings

    server = KingdeeServer(25)
    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(shipped_config_dir(tmp_path, server.url)))
    settings.reset_settings()
    loader.reset()
    prefix = settings.get_settings().ssm_prefix
    aws.client("ssm").put_parameter(Name=f"{prefix}/kingdee/password", Value=server.password, Type="SecureString", Overwrite=True)
    yield stack, server
    server.stop()


def kingdee_run(result: dict) -> dict:
    return next(r for r in result["runs"] if r["connector"] == "kingdee")


def test_kingdee_materials_sync_into_golden_products_through_429_and_a_lost_session(kingdee_stack):
    import app as application

    stack, server = kingdee_stack
    server.fail(json_response({"message": "Too Many Requests"}, 429, headers={"Retry-After": "1"}), at=2)

    def expire(number: int) -> None:
        if number == 4:
            server.expire_sessions()  # the next page answers MsgCode 1 and the source logs in again

    server.on_data_request = expire
    result = application.scheduled_sync(EVENT, _Context())
    run = kingdee_run(result)
    assert run == {"connector": "kingdee", "stream": "materials", "status": "synced", "records": 25, "reason": "caught_up"}
    assert server.logins == 2
    queries = [r for r in server.log if server.is_data_request(r)]
    assert len(queries) >= 5  # three pages, the retried 429 and the page re-asked after the new login
    assert drain() == 25

    status, product = get_json(stack, "/state?entity=product%23SKU-003")
    assert status == 200, product
    fields = product["fields"]
    assert fields["sku"] == "SKU-003" and fields["category"] == "beverages" and fields["unit"] == "pcs"
    assert fields["floor_price"] == "10.1" and fields["list_price"] == "12.1" and fields["active"] is True


def test_a_kingdee_error_fails_the_run_clearly_and_lands_nothing(kingdee_stack):
    import app as application

    stack, server = kingdee_stack
    server.password = "rotated-elsewhere"  # the data centre no longer accepts the stored password
    run = kingdee_run(application.scheduled_sync(EVENT, _Context()))
    assert run["status"] == "failed" and "AuthError" in run["reason"] and "用户名或密码错误" in run["reason"]
    assert drain() == 0
    status, _ = get_json(stack, "/state?entity=product%23SKU-001")
    assert status == 404


def test_a_pushed_kingdee_order_below_a_synced_floor_price_is_an_anomaly(kingdee_stack):
    import hashlib
    import hmac
    import json

    import app as application
    from chalicelib.runtime import aws, settings

    stack, server = kingdee_stack
    assert kingdee_run(application.scheduled_sync(EVENT, _Context()))["records"] == 25
    assert drain() == 25  # SKU-003: list price 12.1, floor price 10.1

    secret = "kd-webhook-secret"
    prefix = settings.get_settings().ssm_prefix
    aws.client("ssm").put_parameter(Name=f"{prefix}/kingdee/webhook-secret", Value=secret, Type="SecureString", Overwrite=True)
    bill = {
        "FBillNo": "XSDD000900",
        "FDate": "2026-11-20T00:00:00",
        "FModifyDate": "2026-11-20T09:30:00.000",
        "FDocumentStatus": "C",
        "FCustId": {"FNumber": "CUST0001"},
        "FSettleCurrId": {"FNumber": "PRE001"},
        "FBillAllAmount": 95.0,
        "FSaleOrderEntry": [
            {"FEntryID": 900001, "FMaterialId": {"FNumber": "SKU-003"}, "FQty": 10, "FTaxPrice": 9.5, "FDiscount": 0, "FAllAmount": 95.0}
        ],
    }
    body = json.dumps({"object": "SAL_SaleOrder", "bill": bill}, ensure_ascii=False).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    response = stack.http.post(
        "/webhooks/kingdee", headers={"Content-Type": "application/json", "X-Kingdee-Signature": signature}, body=body
    )
    assert response.status_code in (200, 202), response.body
    assert drain() == 1
    status, listed = get_json(stack, "/events?type=order.anomaly_detected")
    assert status == 200, listed
    rules = [e["event"]["data"].get("rule") for e in listed["events"]]
    assert rules == ["below_floor_price"], listed
    finding = listed["events"][0]["event"]["data"]
    assert "SKU-003" in json.dumps(finding) and "10.1" in json.dumps(finding)
