"""Forged cursors and wrong bodies on the operator API: a 400 with the JSON error shape, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.stack import ADMIN, demo_body, drain, get_json, post_demo


def b64(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


FORGED_CURSORS = {
    "pk is a number": "eyJwayI6eyJTIjoxfX0=",  # base64 of {"pk":{"S":1}}, as found
    "empty object": b64({}),
    "pk is a map": b64({"pk": {"M": {}}}),
    "not base64": "%%%not-base64%%%",
    "base64 of garbage": base64.b64encode(b"\x00\xff garbage \x80").decode(),
    "a JSON list": b64([1, 2]),
    "extra attribute": b64({"pk": {"S": "a"}, "sk": {"S": "b"}, "all": {"S": "all"}, "order_key": {"S": "x"}, "x": {"S": "y"}}),
    "over-long": b64({"pk": {"S": "a" * 5000}, "sk": {"S": "b"}}),
    "unicode digits": "²³",
}
LISTINGS = ["/quarantine", "/events", "/audit?day=2026-11-25", "/audit?entity=customer%23cus_1"]


def assert_error(status: int, body: Any, expected: int = 400) -> None:
    assert status == expected, body
    assert isinstance(body, dict) and set(body) >= {"error", "message"} and isinstance(body["message"], str), body


@pytest.mark.parametrize("listing", LISTINGS)
def test_a_forged_cursor_is_a_400_on_every_listing(stack, listing):
    separator = "&" if "?" in listing else "?"
    for name, cursor in FORGED_CURSORS.items():
        from urllib.parse import quote

        status, body = get_json(stack, f"{listing}{separator}next={quote(cursor)}")
        assert_error(status, body), name


def test_a_cursor_of_one_listing_is_refused_by_another(stack):
    for n in range(3):
        post_demo(stack, demo_body(customer_id=f"C-{n}", tier="Titanium"))  # quarantined: unknown grade
    drain()
    status, page = get_json(stack, "/quarantine?limit=1")
    assert status == 200 and page["next"]
    assert get_json(stack, f"/quarantine?limit=1&next={page['next']}")[0] == 200
    assert_error(*get_json(stack, f"/events?next={page['next']}"))
    assert_error(*get_json(stack, f"/quarantine?connector=demo_crm&next={page['next']}"))  # another index of the same table


BODIES = [
    ("POST", "/quarantine/replay", {"connector": {"a": 1}}, "connector"),
    ("POST", "/quarantine/replay", {"conector": "demo_crm"}, "conector"),
    ("POST", "/quarantine/replay", {"limit": "5"}, "limit"),
    ("POST", "/quarantine/replay", {"limit": 1e3}, "limit"),
    ("PUT", "/consent?source=demo_crm/customer/C-1001", {"category": "shoe_size", "status": "revoked"}, "category"),
    ("PUT", "/consent?source=demo_crm/customer/C-1001", {"category": "contact_personal", "status": True}, "status"),
    ("PUT", "/consent?source=demo_crm/customer/C-1001", {"category": "inquiry", "status": "granted", "purpose": ["x"]}, "purpose"),
    ("POST", "/erase?source=demo_crm/customer/C-1001", {"confirm": "yes"}, "confirm"),
    ("POST", "/customer-links?source=demo_crm/customer/C-1001", {"days": 7.5}, "days"),
    ("POST", "/customer-links?source=demo_crm/customer/C-1001", {"days": True}, "days"),
    ("POST", "/mappings/try", {"mapping": 3, "payload": {}}, "mapping"),
    ("POST", "/mappings/try", {"mapping": "kind: mapping"}, "payload"),
    ("POST", "/mappings/demo_crm_customer/regression", {"mapping": "x", "limit": -1}, "limit"),
    ("POST", "/events/redrive", {"limit": "all"}, "limit"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), BODIES)
def test_a_wrong_body_is_a_400_naming_the_field(stack, method, path, body, field):
    response = stack.http.request(method, path, headers={**ADMIN, "Content-Type": "application/json"}, body=json.dumps(body).encode())
    reply = json.loads(response.body)
    assert_error(response.status_code, reply)
    assert reply["error"] == "invalid_body" and field in reply["message"], reply


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"limit": NaN}',
        b'{"limit": Infinity}',
        b'{"limit": 1, "limit": 2}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"limit": ' + b"9" * 5000 + b"}",
        b"\xff\xfe{}",
        b"[]",
        b'"text"',
    ],
)
def test_an_unreadable_body_is_a_400(stack, raw):
    response = stack.http.post("/quarantine/replay", headers={**ADMIN, "Content-Type": "application/json"}, body=raw)
    reply = json.loads(response.body)
    assert_error(response.status_code, reply)
    assert reply["error"] == "malformed_json", reply


def test_a_valid_filter_still_replays(stack):
    post_demo(stack, demo_body(tier="Titanium"))
    drain()
    response = stack.http.post(
        "/quarantine/replay", headers={**ADMIN, "Content-Type": "application/json"}, body=json.dumps({"connector": "demo_crm", "limit": 5})
    )
    assert response.status_code == 200 and json.loads(response.body)["replayed"] == 1


def test_a_well_formed_cursor_outside_its_query_is_refused(stack):
    """DynamoDB answers a ValidationException for a starting key outside the key condition: refused first."""
    other_connector = {"pk": {"S": "q_1"}, "sk": {"S": "quarantine"}, "connector": {"S": "hubspot"}, "order_key": {"S": "2026"}}
    assert_error(*get_json(stack, f"/quarantine?connector=demo_crm&next={b64(other_connector)}"))
    other_connector["connector"] = {"S": "demo_crm"}
    assert get_json(stack, f"/quarantine?connector=demo_crm&next={b64(other_connector)}")[0] == 200
    before_since = {"pk": {"S": "e"}, "sk": {"S": "event"}, "all": {"S": "all"}, "time_id": {"S": "2026-01-01T00:00:00+00:00#e"}}
    assert_error(*get_json(stack, f"/events?since=2026-06-01T00:00:00%2B00:00&next={b64(before_since)}"))
    assert get_json(stack, f"/events?since=2025-06-01T00:00:00%2B00:00&next={b64(before_since)}")[0] == 200
    other_type = {"pk": {"S": "e"}, "sk": {"S": "event"}, "type": {"S": "customer.grade_changed"}, "time_id": {"S": "2026"}}
    assert_error(*get_json(stack, f"/events?type=order.anomaly&next={b64(other_type)}"))
    other_day = {"pk": {"S": "c"}, "sk": {"S": "000000000001"}, "day": {"S": "2026-11-24"}, "at": {"S": "2026-11-24T08:00:00+00:00"}}
    assert_error(*get_json(stack, f"/audit?day=2026-11-25&next={b64(other_day)}"))
    outside = dict(other_day, day={"S": "2026-11-25"}, at={"S": "2026-11-25T07:00:00+00:00"})
    assert_error(*get_json(stack, f"/audit?day=2026-11-25&from=2026-11-25T08:00:00%2B00:00&next={b64(outside)}"))
    too_long = dict(other_day, day={"S": "2026-11-25"}, sk={"S": "9" * 1025})
    assert_error(*get_json(stack, f"/audit?day=2026-11-25&next={b64(too_long)}"))


def test_dynamodbs_own_refusal_of_a_starting_key_is_a_400(stack):
    """moto accepts starting keys DynamoDB refuses; the rule is tested here with DynamoDB's answer."""
    from botocore.exceptions import ClientError

    from chalicelib.runtime import aws

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if "ExclusiveStartKey" in params:
            error = {"Error": {"Code": "ValidationException", "Message": "The provided starting key is invalid"}}
            raise ClientError(error, "Query")

    events = aws.client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb.Query", refuse)
    try:
        cursor = b64({"pk": {"S": "e"}, "sk": {"S": "event"}, "all": {"S": "all"}, "time_id": {"S": "2026"}})
        assert_error(*get_json(stack, f"/events?next={cursor}"))
        assert get_json(stack, "/events")[0] == 200  # without a cursor, nothing is refused
    finally:
        events.unregister("before-parameter-build.dynamodb.Query", refuse)
