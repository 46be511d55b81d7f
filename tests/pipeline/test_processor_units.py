"""Processor corner cases that are hard to reach through traffic."""

from __future__ import annotations

from tests.stack import demo_body, drain, get_json, post_demo


def test_an_event_already_in_the_outbox_is_not_emitted_again_but_the_change_is_applied(stack):
    """Deterministic ids make a second emission of one occurrence a conflict: the change lands, the event does not repeat."""
    from chalicelib.runtime import aws
    from chalicelib.runtime.settings import get_settings

    post_demo(stack, demo_body(tier="Gold", updated_at="2026-11-01T08:00:00+08:00"))
    drain()
    _, dry = _try(stack)
    (event,) = dry["events"]
    aws.client("dynamodb").put_item(
        TableName=get_settings().events_table,
        Item={
            "pk": {"S": event["id"]},
            "sk": {"S": "event"},
            "type": {"S": event["type"]},
            "subject": {"S": event["subject"]},
            "time_id": {"S": "x"},
            "all": {"S": "all"},
            "event": {"S": "{}"},
            "status": {"S": "delivered"},
        },
    )
    post_demo(stack, demo_body(tier="Platinum", updated_at="2026-11-02T08:00:00+08:00"))
    drain()
    _, state = get_json(stack, "/state?source=demo_crm/customer/C-1001")
    assert state["fields"]["grade"] == "S"
    _, trail = get_json(stack, "/audit?source=demo_crm/customer/C-1001")
    assert "trigger_fired" not in [e["action"] for e in trail["entries"]]


def _try(stack):
    import json

    from tests.stack import ADMIN

    body = json.loads(demo_body(tier="Platinum", updated_at="2026-11-02T08:00:00+08:00"))
    response = stack.http.post(
        "/mappings/demo_crm_customer/try", headers={**ADMIN, "Content-Type": "application/json"}, body=json.dumps(body)
    )
    return response.status_code, json.loads(response.body)
