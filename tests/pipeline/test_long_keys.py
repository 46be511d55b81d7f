"""Keys longer than DynamoDB allows: an event id, a source id, a webhook id of thousands of characters.

Each input applies (or quarantines) and is deduplicated like any other, never dead-lettered:
store/keys.py bounds the key and the item keeps the original. DynamoDB's key size rule is
checked on every request by ``KeyRule`` (tests/dynamodb_key_rule.py), beside moto's own checks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import quote

import pytest

from chalicelib.domain.canonical import SourceRef
from chalicelib.store import keys
from tests.dynamodb_key_rule import KeyRule, request_breaches
from tests.stack import demo_body, drain, get_json, post_demo


@pytest.fixture()
def checked(stack):
    from chalicelib.runtime import aws
    from tests.fuzz.campaign import seed_secrets

    seed_secrets()  # the HubSpot and Shopify secrets of the local stage
    client = aws.client("dynamodb")
    rule = KeyRule().install(client)
    yield stack, rule
    rule.uninstall(client)
    assert not rule.breaches, rule.breaches[:5]
    assert _dead_letters() == 0


def _dead_letters() -> int:
    import os

    from chalicelib.runtime import aws

    sqs = aws.client("sqs")
    total = 0
    for name in ("INBOUND_DLQ_URL", "BULK_DLQ_URL"):
        attributes = sqs.get_queue_attributes(QueueUrl=os.environ[name], AttributeNames=["ApproximateNumberOfMessages"])
        total += int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    return total


def _outcome(dedupe_key: str) -> dict[str, Any] | None:
    from chalicelib.runtime.settings import get_settings
    from chalicelib.store import dynamo

    return dynamo.get(get_settings().state_table, *keys.dedupe(dedupe_key))


def test_bounded_keys_fit_and_find_the_same_item_again() -> None:
    for text, limit in (("e" * 2100, 2048), ("é" * 1500, 2048), ("x" * 1100, 1024), ("🙂" * 300, 1024)):
        key = keys.bounded(text, limit)
        assert len(key.encode()) <= limit and key == keys.bounded(text, limit) and keys.bounded(key, limit) == key
        assert key != keys.bounded(text + "!", limit), "another text, another key"
    assert keys.bounded("C-1001") == "C-1001", "a key that fits is kept as it is"
    long_id = "c" * 3000
    for pk, sk in (
        keys.dedupe(long_id),
        keys.xref(SourceRef(system="demo_crm", entity="customer", id=long_id)),
        keys.audit_entry(keys.input_chain(long_id), 1),
    ):
        assert len(pk.encode()) <= keys.HASH_KEY_BYTES and len(sk.encode()) <= keys.RANGE_KEY_BYTES
    from datetime import UTC, datetime

    _, sk = keys.raw_input("demo_crm", "customer", datetime.now(UTC), long_id)
    assert len(sk.encode()) <= keys.RANGE_KEY_BYTES


def test_the_rule_checker_sees_what_dynamodb_refuses() -> None:
    """The checker itself: an over-long key of a table or of an index is a breach, one at the limit is not."""
    fits = {"pk": {"S": "p" * 2048}, "sk": {"S": "s" * 1024}}
    assert request_breaches("PutItem", {"TableName": "salesbridge-state", "Item": fits}) == []
    over = {"pk": {"S": "é" * 1025}, "sk": {"S": "s"}}
    assert request_breaches("PutItem", {"TableName": "salesbridge-state", "Item": over})
    index_over = {"pk": {"S": "e"}, "sk": {"S": "event"}, "subject": {"S": "s" * 2049}}
    assert request_breaches("TransactWriteItems", {"TransactItems": [{"Put": {"TableName": "salesbridge-events", "Item": index_over}}]})


def test_a_2100_character_event_id_applies_once(checked) -> None:
    stack, _ = checked
    event_id = "evt-" + "e" * 2100
    body = demo_body(event_id=event_id)
    assert post_demo(stack, body).status_code == 202
    drain()
    outcome = _outcome(f"demo_crm:{event_id}")
    assert outcome is not None and outcome["status"] == "applied" and outcome["dedupe_key"] == f"demo_crm:{event_id}"
    assert post_demo(stack, body).status_code == 202  # the vendor delivers it again
    drain()
    status, trail = get_json(stack, "/audit?source=demo_crm/customer/C-1001")
    assert status == 200 and [e["action"] for e in trail["entries"]] == ["received", "applied"], trail


def test_a_3000_character_customer_id_applies_and_is_found_by_it(checked) -> None:
    stack, _ = checked
    for customer_id in ("C" * 3000, "é" * 1500):
        assert post_demo(stack, demo_body(customer_id=customer_id, tier="Platinum")).status_code == 202
        drain()
        status, state = get_json(stack, f"/state?source={quote(f'demo_crm/customer/{customer_id}')}")
        assert status == 200 and state["fields"]["grade"] == "S", state
        assert state["provenance"]["grade"]["record_id"] == customer_id, "the golden record keeps the source id whole"
        status, verdict = get_json(stack, f"/audit/verify?source={quote(f'demo_crm/customer/{customer_id}')}")
        assert status == 200 and verdict["intact"] and verdict["entries"] == 2, verdict


def test_a_3000_character_shopify_webhook_id_and_hubspot_object_id_are_applied(checked) -> None:
    from local.seed import LOCAL_PARAMETERS

    stack, _ = checked
    order = {"id": 4501, "name": "#4501", "created_at": "2026-11-20T10:00:00+08:00", "updated_at": "2026-11-20T10:00:00+08:00",
             "currency": "USD", "total_price": "10.00", "financial_status": "paid", "customer": {"id": 77},
             "line_items": [{"id": 1, "sku": "SKU-1", "quantity": 1, "price": "10.00", "total_discount": "0.00"}]}  # fmt: skip
    body = json.dumps(order).encode()
    secret = LOCAL_PARAMETERS["/salesbridge/shopify/webhook-secret"]
    webhook_id = "w" * 3000
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode(),
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Topic": "orders/create",
    }
    assert stack.http.post("/webhooks/shopify", headers=headers, body=body).status_code == 202

    events = [{"eventId": 1, "subscriptionId": 25, "portalId": 33, "occurredAt": int(time.time() * 1000),
               "subscriptionType": "company.propertyChange", "objectId": "9" * 3000, "propertyName": "name",
               "propertyValue": "Acme"}]  # fmt: skip
    hub_body = json.dumps(events).encode()
    stamp = str(int(time.time() * 1000))
    from chalicelib.ingress.verify.hubspot import v3_signature

    signature = v3_signature(
        LOCAL_PARAMETERS["/salesbridge/hubspot/client-secret"], "POST", "https://hooks.example.com/webhooks/hubspot", hub_body, stamp
    )
    hub_headers = {"Content-Type": "application/json", "X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
    assert stack.http.post("/webhooks/hubspot", headers=hub_headers, body=hub_body).status_code == 202
    drain()
    for dedupe_key in (f"shopify:{webhook_id}", "hubspot:33:25:1"):
        outcome = _outcome(dedupe_key)
        assert outcome is not None and outcome["status"] in ("applied", "quarantined"), (dedupe_key, outcome)
    status, state = get_json(stack, f"/state?source={quote('hubspot/customer/' + '9' * 3000)}")
    assert status == 200 and state["fields"]["name"] == "Acme" and state["provenance"]["name"]["record_id"] == "9" * 3000
