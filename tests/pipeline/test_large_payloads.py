"""A record too large for a DynamoDB item (400 KB) is quarantined with its raw input in S3 (claim check).

moto refuses items over its own 405,000 bytes; DynamoDB's rule (400 KB, names and values
counted as benchmarks/capacity.py counts them) is checked here on the items written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.store import payloads
from tests.stack import ADMIN, demo_body, drain, get_json, post_demo

DYNAMODB_ITEM_BYTES = 400 * 1024


def _items(table: str) -> list[dict[str, Any]]:
    from chalicelib.runtime import aws

    return aws.client("dynamodb").scan(TableName=table)["Items"]


def _dead_letters() -> int:
    from chalicelib.runtime import aws

    sqs = aws.client("sqs")
    counts = [
        sqs.get_queue_attributes(QueueUrl=os.environ[name], AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        for name in ("INBOUND_DLQ_URL", "BULK_DLQ_URL")
    ]
    return sum(int(c["ApproximateNumberOfMessages"]) for c in counts)


def shopify_order(lines: int, currency: str = "USD", sku_chars: int = 0) -> bytes:
    """A Shopify order with ``lines`` line items (10,000: about 600 KB); ``sku_chars`` pads each SKU."""
    items = [{"id": 10_000_000 + n, "sku": f"S{n}".ljust(sku_chars, "x"), "quantity": 1, "price": "1.50"} for n in range(lines)]
    order = {"id": 4501, "name": "#4501", "created_at": "2026-11-20T10:00:00+08:00", "updated_at": "2026-11-20T10:00:00+08:00",
             "currency": currency, "total_price": f"{Decimal('1.50') * lines}", "financial_status": "paid",
             "customer": {"id": 77, "email": "buyer@acme.example"}, "line_items": items}  # fmt: skip
    return json.dumps(order).encode()


def post_shopify(stack: Any, body: bytes) -> int:
    from local.seed import LOCAL_PARAMETERS
    from tests.fuzz.campaign import seed_secrets

    seed_secrets()
    secret = LOCAL_PARAMETERS["/salesbridge/shopify/webhook-secret"]
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode(),
        "X-Shopify-Webhook-Id": hashlib.sha256(body).hexdigest(),
        "X-Shopify-Topic": "orders/create",
    }
    return int(stack.http.post("/webhooks/shopify", headers=headers, body=body).status_code)


def assert_fits_dynamodb(*tables: str) -> None:
    from benchmarks.capacity import item_size

    for table in tables:
        assert all(item_size(i) <= DYNAMODB_ITEM_BYTES for i in _items(table)), table


def test_a_large_quarantined_record_keeps_its_raw_input_in_s3(stack):
    from chalicelib.runtime.settings import get_settings

    body = shopify_order(8000, currency="not a currency")  # about 500 KB; the mapping refuses the currency
    assert len(body) > 400 * 1024
    assert post_shopify(stack, body) == 202
    drain()
    assert _dead_letters() == 0
    status, listed = get_json(stack, "/quarantine")
    assert status == 200 and len(listed["records"]) == 1, listed
    qid = listed["records"][0]["id"]

    settings = get_settings()
    [item] = _items(settings.quarantine_table)
    assert "raw" not in item and item[payloads.REF]["S"] == f"s3://{settings.payload_bucket}/{payloads.quarantine_key(qid)}"
    assert_fits_dynamodb(settings.quarantine_table, settings.inputs_table, settings.state_table, settings.audit_table)

    status, shown = get_json(stack, f"/quarantine/{qid}")
    assert status == 200 and len(shown["input"]["payload"]["line_items"]) == 8000 and payloads.REF not in shown

    replayed = stack.http.post(f"/quarantine/{qid}/replay", headers=ADMIN, body=b"")
    assert replayed.status_code == 200 and json.loads(replayed.body)["status"] == "quarantined", replayed.body  # still refused

    assert payloads.erase([item[payloads.REF]["S"]]) == 1  # what an erasure does with it
    status, gone = get_json(stack, f"/quarantine/{qid}")
    assert status == 410 and gone["error"] == "payload_expired", gone


def test_an_order_too_large_to_store_is_quarantined_on_the_first_attempt(stack):
    """Its golden record would be over 400 KB. Poison: quarantined at once, not retried into the DLQ.

    600 lines with 800-character SKUs rather than 10,000 short ones: the same rule (an item over
    400 KB), without the stand-in taking seconds to parse 10,000 nested maps on a loaded machine.
    """
    from chalicelib.runtime.settings import get_settings

    attempts: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        attempts.append("write")

    from chalicelib.runtime import aws

    client = aws.client("dynamodb")
    client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", count)
    try:
        assert post_shopify(stack, shopify_order(600, sku_chars=800)) == 202
        drain()
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.TransactWriteItems", count)
    assert _dead_letters() == 0
    status, listed = get_json(stack, "/quarantine")
    assert status == 200 and [r["code"] for r in listed["records"]] == ["cannot_store"], listed
    assert "cannot hold this record" in listed["records"][0]["message"]
    assert len(attempts) == 2, "one refused transaction, then the quarantine: no retries"
    settings = get_settings()
    assert_fits_dynamodb(settings.quarantine_table, settings.inputs_table, settings.state_table, settings.audit_table)


@pytest.mark.parametrize(
    "error",
    [
        {"Error": {"Code": "ValidationException", "Message": "Item size has exceeded the maximum allowed size"}},
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [{"Code": "None"}, {"Code": "ValidationError", "Message": "Item size has exceeded the maximum"}],
        },
    ],
)
def test_dynamodbs_refusal_of_an_item_is_unstorable_in_both_shapes(error: dict[str, Any]) -> None:
    """DynamoDB answers an item it cannot hold with a ValidationException, or inside a cancelled transaction."""
    from botocore.exceptions import ClientError

    from chalicelib.errors import Unstorable
    from chalicelib.runtime.settings import get_settings
    from chalicelib.store.dynamo_store import DynamoStore

    settings = get_settings()
    actions = [{"Put": {"TableName": settings.state_table}}, {"Put": {"TableName": settings.audit_table}}]
    with pytest.raises(Unstorable, match="Item size has exceeded"):
        DynamoStore(settings)._raise_for(ClientError(error, "TransactWriteItems"), actions)  # type: ignore[arg-type]


def test_a_small_record_keeps_its_raw_input_in_the_item(stack):
    from chalicelib.runtime.settings import get_settings

    assert post_demo(stack, demo_body(tier="Titanium")).status_code == 202
    drain()
    [item] = _items(get_settings().quarantine_table)
    assert "raw" in item and payloads.REF not in item


def test_the_payload_bucket_expires_objects_with_the_inputs_retention() -> None:
    from chalicelib.runtime.settings import get_settings
    from infra import resources

    assert resources.PAYLOADS.expire_days == get_settings().inputs_retention_days == 14
    bucket = resources.cloudformation_resources()[resources.PAYLOADS.logical_id]
    [rule] = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule == {"Id": "expire", "Status": "Enabled", "ExpirationInDays": 14}
    assert all(bucket["Properties"]["PublicAccessBlockConfiguration"].values())


def test_erasure_searches_claim_checked_payloads_and_deletes_the_ones_naming_the_customer(stack):
    from chalicelib.runtime import aws
    from chalicelib.runtime.settings import get_settings

    assert post_demo(stack, demo_body("C-1001", "Gold")).status_code == 202  # buyer@acme.example
    assert post_shopify(stack, shopify_order(8000, currency="not a currency")) == 202  # the same buyer, ~500 KB: quarantined
    drain()
    settings = get_settings()
    [item] = _items(settings.quarantine_table)
    bucket, _, key = item[payloads.REF]["S"].removeprefix("s3://").partition("/")
    assert aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()

    response = stack.http.post(
        "/erase?source=demo_crm/customer/C-1001", headers={**ADMIN, "Content-Type": "application/json"}, body=b'{"confirm": true}'
    )
    assert response.status_code == 200, response.body
    removed = json.loads(response.body)["removed"]
    assert removed["payloads"]["deleted"] == {"raw_input": 1, "record": 1} and removed["quarantine"]["deleted"] == {"record": 1}, removed
    assert _items(settings.quarantine_table) == []
    assert aws.client("s3").list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_a_delivery_whose_record_no_queue_message_can_carry_is_refused_with_a_413(stack):
    body = shopify_order(12_000, sku_chars=40)  # about 1.3 MB: under Shopify's door limit of 2 MiB, over SQS's 1 MiB
    assert 1_048_576 < len(body) < 2_097_152
    from local.seed import LOCAL_PARAMETERS
    from tests.fuzz.campaign import seed_secrets

    seed_secrets()
    secret = LOCAL_PARAMETERS["/salesbridge/shopify/webhook-secret"]
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode(),
        "X-Shopify-Webhook-Id": "too-large-1",
        "X-Shopify-Topic": "orders/create",
    }
    response = stack.http.post("/webhooks/shopify", headers=headers, body=body)
    assert response.status_code == 413, response.body  # final: the vendor stops retrying, unlike a 503
    answer = json.loads(response.body)
    assert answer["error"] == "record_too_large" and "1048576" in answer["message"], answer
    drain()
    assert _dead_letters() == 0


def test_records_are_queued_in_batches_of_at_most_one_mebibyte(stack):
    from datetime import UTC, datetime

    from chalicelib.domain.inbound import InboundRecord
    from chalicelib.runtime import aws, queue

    records = [
        InboundRecord(
            connector="demo_crm",
            object="customer",
            payload={"n": n, "notes": "x" * 200_000},
            dedupe_key=f"big-{n}",
            received_at=datetime.now(UTC),
        )
        for n in range(12)
    ]
    batches = queue.batches(records)
    assert [len(b) for b in batches] == [5, 5, 2]  # ten of them would be 2 MB: SQS refuses a batch over 1 MiB
    assert all(sum(len(e["MessageBody"].encode()) for e in b) <= queue.MAX_MESSAGE_BYTES for b in batches)
    queue.send(records, os.environ["INBOUND_QUEUE_URL"])
    sqs = aws.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=os.environ["INBOUND_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"])
    assert int(attributes["Attributes"]["ApproximateNumberOfMessages"]) == 12
