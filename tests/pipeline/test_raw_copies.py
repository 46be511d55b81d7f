"""The raw input copies of a queue batch: written together after its records, outside their transactions.

A copy serves the mapping regression diff and troubleshooting; written in the record's
transaction it cost two write units per KB, in one BatchWriteItem per batch it costs one. What
stays the same: every applied or stale input keeps one copy, a duplicate none, and nothing of a
record's processing depends on it (a copy that cannot be written is logged and counted).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from tests.stack import demo_body


def message(n: int, customer: str, updated_at: str = "2026-11-01T08:00:00+08:00") -> Any:
    from chalicelib.domain.inbound import InboundRecord, event_dedupe_key
    from chalicelib.pipeline.batch import QueueMessage
    from chalicelib.runtime.queue import group_id

    payload = json.loads(demo_body(customer, updated_at=updated_at))
    inbound = InboundRecord(
        connector="demo_crm",
        object="customer",
        payload=payload,
        dedupe_key=event_dedupe_key("demo_crm", payload["event_id"]),
        received_at=datetime.now(UTC),
        receipt_id=f"rcp_raw_{n}",
        entity_hint=customer,
    )
    return QueueMessage(f"m-{n}", inbound.to_message(), group_id(inbound))


def processor() -> Any:
    from chalicelib.configuration import current
    from chalicelib.pipeline.processor import Processor
    from chalicelib.runtime.settings import get_settings

    return Processor.of(current(), get_settings())


def record_calls(calls: list[tuple[str, dict[str, Any]]]) -> Any:
    from chalicelib.runtime import aws

    def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, params))

    aws.client("dynamodb").meta.events.register("before-parameter-build.dynamodb.*", hook)
    return hook


def stored_copies() -> list[dict[str, Any]]:
    from chalicelib.runtime import aws

    return aws.client("dynamodb").scan(TableName=os.environ["INPUTS_TABLE"])["Items"]


def test_a_batchs_raw_copies_are_one_write_after_its_records_and_a_duplicate_keeps_none(harness):
    from chalicelib.pipeline.batch import process_batch
    from chalicelib.runtime.settings import get_settings
    from chalicelib.store import inputs

    calls: list[tuple[str, dict[str, Any]]] = []
    record_calls(calls)
    response, outcomes = process_batch([message(1, "C-1"), message(2, "C-2"), message(3, "C-1")], processor())
    assert response == {"batchItemFailures": []}
    assert [o.status for o in outcomes] == ["applied", "applied", "duplicate"]

    table = os.environ["INPUTS_TABLE"]
    transactions = [p for op, p in calls if op == "TransactWriteItems"]
    assert len(transactions) == 2
    assert not [a for p in transactions for a in p["TransactItems"] if a.get("Put", {}).get("TableName") == table]
    (batch_write,) = [p for op, p in calls if op == "BatchWriteItem"]
    assert [op for op, _ in calls][-1] == "BatchWriteItem", "written after the batch's records"
    assert len(batch_write["RequestItems"][table]) == 2
    kept = inputs.recent(get_settings(), "demo_crm", "customer", 10)
    assert sorted(r.receipt_id or "" for r in kept) == ["rcp_raw_1", "rcp_raw_2"]


def test_outside_a_batch_the_raw_copy_is_part_of_the_records_transaction(harness):
    """A replay by an operator is one record: its copy goes in with it, as before."""
    from chalicelib.domain.inbound import InboundRecord

    calls: list[tuple[str, dict[str, Any]]] = []
    record_calls(calls)
    outcome = processor().process(InboundRecord.from_message(message(1, "C-1").body))
    assert outcome.status == "applied"
    (transaction,) = [p for op, p in calls if op == "TransactWriteItems"]
    assert [a for a in transaction["TransactItems"] if a.get("Put", {}).get("TableName") == os.environ["INPUTS_TABLE"]]
    assert "BatchWriteItem" not in [op for op, _ in calls]
    assert len(stored_copies()) == 1


def test_copies_left_unprocessed_are_written_again(harness):
    from chalicelib.pipeline.batch import process_batch
    from chalicelib.runtime import aws

    rounds: list[dict[str, Any]] = []

    def first_round_unprocessed(params: dict[str, Any], **_: Any) -> Any:
        rounds.append(params)
        if len(rounds) == 1:  # DynamoDB's answer under load: nothing written, everything handed back
            answer = AWSResponse(params["url"], 200, {}, None)
            return answer, {"UnprocessedItems": json.loads(params["body"])["RequestItems"], "ResponseMetadata": {"HTTPStatusCode": 200}}
        return None

    aws.client("dynamodb").meta.events.register("before-call.dynamodb.BatchWriteItem", first_round_unprocessed)
    try:
        response, _ = process_batch([message(1, "C-1"), message(2, "C-2")], processor())
    finally:
        aws.client("dynamodb").meta.events.unregister("before-call.dynamodb.BatchWriteItem", first_round_unprocessed)
    assert response == {"batchItemFailures": []}
    assert len(rounds) == 2 and len(stored_copies()) == 2


def test_copies_that_cannot_be_written_are_logged_and_the_records_stay_committed(harness, caplog):
    from chalicelib.pipeline.batch import process_batch
    from chalicelib.runtime import aws, observability

    def refused(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "BatchWriteItem")

    aws.client("dynamodb").meta.events.register("before-call.dynamodb.BatchWriteItem", refused)
    caplog.set_level(logging.WARNING, logger="salesbridge.store")
    metric = ("RawCopiesNotKept", "Count", ())
    before = observability._sums.get(metric, 0)
    try:
        response, outcomes = process_batch([message(1, "C-1"), message(2, "C-2")], processor())
    finally:
        aws.client("dynamodb").meta.events.unregister("before-call.dynamodb.BatchWriteItem", refused)
    assert response == {"batchItemFailures": []} and [o.status for o in outcomes] == ["applied", "applied"]
    assert stored_copies() == []
    assert "raw input copies not kept (AccessDeniedException): 2 inputs" in caplog.text
    assert observability._sums.get(metric, 0) - before == 2
    # The records themselves are there: a second delivery of the batch finds them done.
    _, again = process_batch([message(1, "C-1"), message(2, "C-2")], processor())
    assert [o.status for o in again] == ["duplicate", "duplicate"]


def test_one_request_never_names_a_key_twice_and_more_than_25_copies_take_more_requests(harness):
    """DynamoDB refuses a BatchWriteItem that names one key twice (moto does not check): the same copy is written once."""
    from chalicelib.store.dynamo_store import keep_raw_copies

    copies = [{"pk": "demo_crm#customer#00", "sk": f"2026-12-01T00:00:00+00:00#demo_crm:e{n}", "raw": "{}"} for n in range(30)]
    calls: list[tuple[str, dict[str, Any]]] = []
    record_calls(calls)
    keep_raw_copies(os.environ["INPUTS_TABLE"], copies + copies[:3])
    sizes = [len(p["RequestItems"][os.environ["INPUTS_TABLE"]]) for op, p in calls if op == "BatchWriteItem"]
    assert sizes == [25, 5]
    for _, params in calls:
        written = [
            (r["PutRequest"]["Item"]["pk"]["S"], r["PutRequest"]["Item"]["sk"]["S"])
            for r in params["RequestItems"][os.environ["INPUTS_TABLE"]]
        ]
        assert len(written) == len(set(written))
    assert len(stored_copies()) == 30
