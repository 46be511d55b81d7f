"""The overview's hourly counters on the DynamoDB stand-in: one request per connector per batch, never a failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.store import stats
from tests.stack import demo_body, demo_signature, drain, post_demo


def count_requests(client: Any) -> list[str]:
    calls: list[str] = []
    client.meta.events.register("before-parameter-build.dynamodb.*", lambda model, **_: calls.append(model.name))
    return calls


def test_a_batch_adds_its_outcomes_with_one_request_per_connector(aws):
    from chalicelib.runtime import aws as clients

    table = aws.env["STATS_TABLE"]
    calls = count_requests(clients.client("dynamodb"))
    at = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    made = stats.count_outcomes(table, [("crm", "applied"), ("crm", "duplicate"), ("crm", "applied"), ("erp", "quarantined")], at)
    assert made == 2 and calls == ["UpdateItem", "UpdateItem"]
    stats.count_outcomes(table, [("crm", "applied")], at + timedelta(minutes=20))
    stats.add(table, "crm", {"refused": 1}, at)
    stats.count_outcomes(table, [("crm", "stale")], at + timedelta(hours=1))
    hours = stats.read_hours(table, "crm", 3, now=at + timedelta(hours=1))
    assert [h.hour for h in hours] == ["2026-11-25T07", "2026-11-25T08", "2026-11-25T09"]
    assert hours[0].counts == {}
    assert hours[1].counts == {"received": 4, "applied": 3, "duplicate": 1, "refused": 1}
    assert hours[2].counts == {"received": 1, "stale": 1}
    assert stats.read_hours(table, "erp", 1, now=at)[0].counts == {"received": 1, "quarantined": 1}
    assert stats.count_outcomes(table, []) == 0


def test_a_counter_that_cannot_be_written_is_dropped_not_raised(aws):
    assert stats.add("salesbridge-no-such-table", "crm", {"applied": 1}) is False


def test_counters_expire_after_their_retention(aws):
    from chalicelib.runtime import aws as clients

    at = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)
    stats.add(aws.env["STATS_TABLE"], "crm", {"applied": 1}, at)
    item = clients.client("dynamodb").get_item(
        TableName=aws.env["STATS_TABLE"], Key={"pk": {"S": "stats#crm"}, "sk": {"S": "hour#2026-11-25T08"}}
    )
    assert int(item["Item"]["expires_at"]["N"]) == int((at + timedelta(days=stats.RETENTION_DAYS)).timestamp())


def test_the_pipeline_and_the_door_count_what_happened(stack):
    post_demo(stack, demo_body(tier="Gold", updated_at="2026-11-01T08:00:00+08:00"))
    post_demo(stack, demo_body(tier="Titanium", updated_at="2026-11-02T08:00:00+08:00"))
    post_demo(stack, demo_body(), signature=demo_signature(b"something else"))  # refused at the door
    drain()
    from chalicelib.runtime.settings import get_settings

    (hour,) = stats.read_hours(get_settings().stats_table, "demo_crm", 1)
    assert hour.counts == {"received": 2, "applied": 1, "quarantined": 1, "refused": 1}
