"""Raw inputs kept for replay and for the mapping regression diff (they expire after the retention)."""

from __future__ import annotations

from chalicelib.domain.inbound import InboundRecord
from chalicelib.runtime.settings import Settings
from chalicelib.store import dynamo, keys


def recent(settings: Settings, connector: str, object_type: str, limit: int) -> list[InboundRecord]:
    """The newest raw inputs of one source object, newest first."""
    items, _ = dynamo.query(
        settings.inputs_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.inputs_partition(connector, object_type)}},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [InboundRecord.from_message(i["raw"]) for i in items]
