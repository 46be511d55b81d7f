"""The overview: counters per connector, events per type, dead deliveries, sync lag, configuration."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from chalicelib.connectors.base import Position
from tests.console.test_pages import logged_in, settings
from tests.stack import demo_body, drain, post_demo
from tests.sync.test_scheduled_sync import config_dir


def test_the_overview_shows_events_dead_deliveries_and_sync_lag(client, tmp_path, monkeypatch):
    from chalicelib.runtime import aws
    from chalicelib.store.sync_state import DynamoWatermarkStore
    from tests.console.conftest import reset_caches

    monkeypatch.setenv("SALESBRIDGE_CONFIG_DIR", str(config_dir(tmp_path / "pulled", "http://127.0.0.1:9")))
    reset_caches()
    post_demo(client, demo_body(tier="Gold", updated_at="2026-11-01T08:00:00+08:00"))
    post_demo(client, demo_body(tier="Platinum", updated_at="2026-11-02T08:00:00+08:00"))
    drain()
    synced = datetime.now(UTC) - timedelta(hours=3)
    assert DynamoWatermarkStore(settings()).advance("salesforce", "accounts", Position(synced, "001"), run_id="r1")
    events = aws.client("dynamodb").scan(TableName=settings().events_table)["Items"]
    (event,) = [e for e in events if e["sk"]["S"] == "event"]
    aws.client("dynamodb").update_item(  # as dispatch leaves an event whose every attempt failed
        TableName=settings().events_table,
        Key={"pk": event["pk"], "sk": event["sk"]},
        UpdateExpression="SET #s = :dead",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":dead": {"S": "dead"}},
    )

    status, _, html = logged_in(client).get("/console")
    assert status == 200
    events_section = html[html.index('id="events"') : html.index('id="dead"')]
    assert re.search(r"<code>customer.grade_changed</code></td><td class=\"num\">1</td>", events_section)
    dead = html[html.index('id="dead"') : html.index('id="sync"')]
    assert "customer.grade_changed" in dead and "/console/customer?entity=customer%23cus_" in dead
    lag = html[html.index('id="sync"') : html.index('id="config"')]
    assert "salesforce / accounts" in lag and "15m" in lag and synced.strftime("%Y-%m-%d %H:%M") in lag and "3 h ago" in lag
    counts = html[html.index('id="connector-demo_crm"') :]
    assert re.search(r'class="n-received">2<', counts) and re.search(r'class="n-applied">2<', counts)
