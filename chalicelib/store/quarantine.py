"""Quarantine: records that could not be applied, kept with an actionable reason until replayed."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.inbound import InboundRecord
from chalicelib.runtime import aws
from chalicelib.store import dynamo


def quarantine_id(dedupe_key: str) -> str:
    return "q_" + hashlib.sha256(dedupe_key.encode()).hexdigest()[:24]


def quarantine_item(
    inbound: InboundRecord,
    *,
    code: str,
    message: str,
    mapping: str | None,
    mapping_version: str | None,
    previous: dict[str, Any] | None,
    field: str | None = None,
) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    qid = quarantine_id(inbound.dedupe_key)
    first_at = previous["first_at"] if previous else now
    return {
        "pk": qid,
        "sk": "quarantine",
        "id": qid,
        "all": "all",
        "order_key": f"{first_at}#{qid}",
        "status": "open",
        "code": code,
        "message": message,
        "field": field,
        "connector": inbound.connector,
        "object": inbound.object,
        "mapping": mapping,
        "mapping_version": mapping_version,
        "dedupe_key": inbound.dedupe_key,
        "raw": inbound.to_message(),
        "first_at": first_at,
        "last_at": now,
        "attempts": int(previous["attempts"]) + 1 if previous else 1,
    }


def view(item: dict[str, Any], with_raw: bool = False) -> dict[str, Any]:
    shown = {k: v for k, v in item.items() if k not in ("pk", "sk", "all", "order_key", "raw")}
    if with_raw and "raw" in item:
        shown["input"] = json.loads(item["raw"])
    return shown


def get(table: str, qid: str) -> dict[str, Any] | None:
    return dynamo.get(table, qid, "quarantine")


def list_items(
    table: str, *, connector: str | None = None, status: str | None = None, limit: int = 50, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; ``cursor`` is the opaque ``next`` of the previous page."""
    kwargs: dict[str, Any] = {"ScanIndexForward": False, "Limit": limit}
    if connector:
        kwargs.update(IndexName="by-connector", KeyConditionExpression="connector = :h", ExpressionAttributeValues={":h": {"S": connector}})
    else:
        kwargs.update(
            IndexName="all",
            KeyConditionExpression="#a = :h",
            ExpressionAttributeNames={"#a": "all"},
            ExpressionAttributeValues={":h": {"S": "all"}},
        )
    if status:
        kwargs["FilterExpression"] = "#s = :s"
        kwargs.setdefault("ExpressionAttributeNames", {})["#s"] = "status"
        kwargs["ExpressionAttributeValues"][":s"] = {"S": status}
    if cursor:
        kwargs["ExclusiveStartKey"] = decode_cursor(cursor)
    items, last = dynamo.query(table, **kwargs)
    return items, encode_cursor(last) if last else None


def encode_cursor(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> dict[str, Any]:
    """Raises ValueError on a cursor we did not issue."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except Exception as exc:  # noqa: BLE001 - any decoding failure is a bad cursor
        raise ValueError("invalid cursor") from exc
    if not isinstance(key, dict) or not all(isinstance(v, dict) for v in key.values()):
        raise ValueError("invalid cursor")
    return key


def mark_replayed_update(table: str, qid: str, by: str) -> dict[str, Any]:
    """The Update action (inside the applying transaction) that closes a quarantined record."""
    return {
        "TableName": table,
        "Key": dynamo.key_of(qid, "quarantine"),
        "UpdateExpression": "SET #s = :s, replayed_by = :b, replayed_at = :t",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {
            ":s": {"S": "replayed"},
            ":b": {"S": by},
            ":t": {"S": datetime.now(UTC).isoformat()},
        },
    }


def raw_input(item: dict[str, Any]) -> InboundRecord:
    return InboundRecord.from_message(item["raw"])


def put_directly(table: str, item: dict[str, Any]) -> None:
    aws.client("dynamodb").put_item(TableName=table, Item=dynamo.to_item(item))
