"""Forged cursors and wrong bodies on the operator API: a 400 with the JSON error shape, never a 500."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
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
    "no query": b64({"after": "2026-11-25T08:00:00+00:00#x"}),
    "another query": b64({"after": "2026-11-25T08:00:00+00:00#x", "of": "0123456789abcdef"}),
    "after is a number": b64({"after": 1, "of": "0123456789abcdef"}),
    "extra attribute": b64({"after": "x", "of": "0123456789abcdef", "x": "y"}),
    "over-long": b64({"after": "a" * 5000, "of": "0123456789abcdef"}),
    "a lone surrogate": base64.urlsafe_b64encode(b'{"after": "\\ud800", "of": "0123456789abcdef"}').decode(),
    "unicode digits": "\u00b2\u00b3",
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


def unpack(cursor: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(cursor))


def test_a_tampered_cursor_outside_its_query_is_refused(stack):
    """A starting point outside the key condition's range is a ValidationException on DynamoDB: refused first."""
    for tier, day in (("Gold", "01"), ("Platinum", "02"), ("Silver", "03")):  # one customer's grade changes: events
        post_demo(stack, demo_body(tier=tier, updated_at=f"2026-11-{day}T08:00:00+08:00"))
    for n in range(2):
        post_demo(stack, demo_body(customer_id=f"C-{n}", tier="Titanium"))  # quarantined: unknown grade
    drain()
    since = "2000-01-01T00:00:00%2B00:00"
    status, page = get_json(stack, f"/events?since={since}&limit=1")
    assert status == 200 and page["next"]
    cursor = unpack(page["next"])
    assert get_json(stack, f"/events?since={since}&limit=1&next={page['next']}")[0] == 200
    assert_error(*get_json(stack, f"/events?since={since}&limit=1&next={b64(dict(cursor, after='1999-12-31T00:00:00+00:00#e'))}"))
    assert get_json(stack, f"/events?since={since}&limit=1&next={b64(dict(cursor, after='2001-01-01T00:00:00+00:00#e'))}")[0] == 200
    assert_error(*get_json(stack, f"/events?since={since}&limit=1&next={b64(dict(cursor, after='9' * 1025))}"))
    assert_error(*get_json(stack, f"/events?since={since}&limit=1&next={b64(dict(cursor, after=''))}"))
    assert_error(*get_json(stack, f"/events?since=2001-01-01T00:00:00%2B00:00&limit=1&next={page['next']}"))  # another since
    assert_error(*get_json(stack, f"/events?type=customer.grade_changed&limit=1&next={page['next']}"))  # another filter

    status, quarantined = get_json(stack, "/quarantine?limit=1")
    assert status == 200 and quarantined["next"]
    assert_error(*get_json(stack, f"/quarantine?status=open&limit=1&next={quarantined['next']}"))
    assert_error(*get_json(stack, f"/quarantine?limit=1&next={b64(dict(unpack(quarantined['next']), after='x' * 1025))}"))

    today = datetime.now(UTC).date().isoformat()
    start = f"{today}T00:00:00%2B00:00"
    status, audited = get_json(stack, f"/audit?day={today}&from={start}&limit=1")
    assert status == 200 and audited["next"], audited
    assert get_json(stack, f"/audit?day={today}&from={start}&limit=1&next={audited['next']}")[0] == 200
    before = b64(dict(unpack(audited["next"]), after=f"{today}T00:00:00+00:00"[:10]))  # sorts before the day's first moment
    assert_error(*get_json(stack, f"/audit?day={today}&from={start}&limit=1&next={before}"))
    assert_error(*get_json(stack, f"/audit?day=2026-01-01&from=2026-01-01T00:00:00%2B00:00&limit=1&next={audited['next']}"))
    assert_error(*get_json(stack, f"/audit?day={today}&limit=1&next={audited['next']}"))  # the same day without its from


def test_dynamodbs_own_refusal_of_a_starting_point_is_a_400(stack):
    """moto accepts starting points DynamoDB refuses; the rule is tested here with DynamoDB's answer."""
    from botocore.exceptions import ClientError

    from chalicelib.runtime import aws

    for tier, day in (("Gold", "01"), ("Platinum", "02"), ("Silver", "03")):
        post_demo(stack, demo_body(tier=tier, updated_at=f"2026-11-{day}T08:00:00+08:00"))
    drain()
    status, page = get_json(stack, "/events?limit=1")
    assert status == 200 and page["next"]

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if "#s" in params.get("ExpressionAttributeNames", {}):  # a query that starts at a cursor's point
            error = {"Error": {"Code": "ValidationException", "Message": "Invalid KeyConditionExpression"}}
            raise ClientError(error, "Query")

    events = aws.client("dynamodb").meta.events
    events.register("before-parameter-build.dynamodb.Query", refuse)
    try:
        assert_error(*get_json(stack, f"/events?limit=1&next={page['next']}"))
        assert get_json(stack, "/events")[0] == 200  # without a cursor, nothing is refused
    finally:
        events.unregister("before-parameter-build.dynamodb.Query", refuse)
