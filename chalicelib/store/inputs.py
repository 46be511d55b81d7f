"""Raw inputs kept for replay and for the mapping regression diff (they expire after the retention)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.inbound import InboundRecord
from chalicelib.errors import PayloadMissing
from chalicelib.runtime.settings import Settings
from chalicelib.store import dynamo, keys, payloads


def recent(settings: Settings, connector: str, object_type: str, limit: int) -> list[InboundRecord]:
    """The newest raw inputs of one source object, newest first (the newest of each write shard, merged)."""
    newest: list[dict[str, Any]] = []
    for partition in keys.inputs_partitions(connector, object_type):
        items, _ = dynamo.query(
            settings.inputs_table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": partition}},
            ScanIndexForward=False,
            Limit=limit,
        )
        newest += items
    newest.sort(key=lambda i: str(i["sk"]), reverse=True)
    found = []
    for item in newest[:limit]:
        try:
            found.append(InboundRecord.from_message(payloads.raw_of(item)))
        except PayloadMissing:
            continue  # its payload expired a moment before its item: as if the item had expired too
    return found
