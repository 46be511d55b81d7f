"""Quarantine: records that could not be applied, kept with an actionable reason until replayed.

Records are written by the processor's commit (chalicelib.store.dynamo_store); this
module reads them back for the operator surface and replay.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.inbound import InboundRecord
from chalicelib.store import dynamo, keys, payloads

HIDDEN = ("pk", "sk", "time_shard", "connector_shard", "order_key", "raw", payloads.REF)


def view(item: dict[str, Any], with_raw: bool = False) -> dict[str, Any]:
    shown = {k: v for k, v in item.items() if k not in HIDDEN}
    if with_raw and ("raw" in item or payloads.REF in item):
        shown["input"] = json.loads(payloads.raw_of(item))
    return shown


def get(table: str, qid: str) -> dict[str, Any] | None:
    """The record, or None; an id that is not one (a mistyped or 3,000-character path) is not read at all."""
    return dynamo.get(table, *keys.quarantine(qid)) if keys.is_quarantine_id(qid) else None


def raw_input(item: dict[str, Any]) -> InboundRecord:
    return InboundRecord.from_message(payloads.raw_of(item))
