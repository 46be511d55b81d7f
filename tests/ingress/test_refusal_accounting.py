"""Every refusal at the door is counted per (connector, reason, minute); only the first few of a minute are kept in full."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

from chalicelib.ingress.door import KEPT_IN_FULL, UNKNOWN_CONNECTOR
from chalicelib.store import stats
from tests.stack import demo_body, demo_signature, get_json, post_demo


def counted(connector: str, since: datetime) -> dict[str, int]:
    totals: dict[str, int] = {}
    for count in stats.read_refusals(os.environ["STATS_TABLE"], connector, since):
        totals[count.reason] = totals.get(count.reason, 0) + count.refused
    return totals


def kept_in_full(stack, receipt_ids: list[str]) -> int:
    return sum(1 for r in receipt_ids if get_json(stack, f"/audit?correlation={r}")[1]["entries"])


def test_a_flood_of_forged_deliveries_is_counted_in_full_and_kept_only_in_part(stack):
    since = datetime.now(UTC) - timedelta(minutes=1)
    flood = KEPT_IN_FULL + 4
    receipts = []
    for n in range(flood):
        body = demo_body(customer_id=f"C-{n}")
        response = post_demo(stack, body, signature=demo_signature(body, secret="wrong"))
        assert response.status_code == 401
        receipts.append(json.loads(response.body)["receipt_id"])
    per_minute = [c.refused for c in stats.read_refusals(os.environ["STATS_TABLE"], "demo_crm", since)]
    assert sum(per_minute) == flood
    assert kept_in_full(stack, receipts) == sum(min(n, KEPT_IN_FULL) for n in per_minute) < flood


def test_unknown_connectors_wrong_methods_and_media_types_are_counted_too(stack):
    since = datetime.now(UTC) - timedelta(minutes=1)
    body = demo_body()
    for name in ("nope", "x" * 300, "demo_crm%00"):
        assert stack.http.post(f"/webhooks/{name}", headers={"Content-Type": "application/json"}, body=body).status_code == 404
    assert stack.http.get("/webhooks/demo_crm").status_code == 405
    assert stack.http.put("/webhooks/nope", body=body).status_code == 405
    assert stack.http.post("/webhooks/demo_crm", headers={"Content-Type": "image/png"}, body=body).status_code == 415
    assert counted(UNKNOWN_CONNECTOR, since) == {"unknown_connector": 3, "method_not_allowed": 1}
    assert counted("demo_crm", since) == {"method_not_allowed": 1, "unsupported_media_type": 1}


def test_a_connector_without_a_webhook_is_counted_as_unknown_whatever_answered(stack):
    """distributor_dms is pulled, never pushed to: its 404, 405 and 415 all count under one name, not its own."""
    since = datetime.now(UTC) - timedelta(minutes=1)
    body = demo_body()
    assert stack.http.post("/webhooks/distributor_dms", headers={"Content-Type": "application/json"}, body=body).status_code == 404
    assert stack.http.get("/webhooks/distributor_dms").status_code == 405
    assert stack.http.post("/webhooks/distributor_dms", headers={"Content-Type": "image/png"}, body=body).status_code == 415
    assert counted(UNKNOWN_CONNECTOR, since) == {"unknown_connector": 1, "method_not_allowed": 1, "unsupported_media_type": 1}
    assert counted("distributor_dms", since) == {}


def test_the_unknown_connectors_name_is_not_echoed(stack):
    response = stack.http.post("/webhooks/<script>", headers={"Content-Type": "application/json"}, body=b"{}")
    assert response.status_code == 404 and "<script>" not in response.body.decode()
