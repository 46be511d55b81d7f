"""Erasure's deletes: a customer's state items, cross-references and audit entries.

An erasure can touch more items than one transaction holds, so the deletes go in
batches; the masked tombstone that records the erasure is then committed through
the store's one commit path (chalicelib.store.dynamo_store).
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.canonical import SourceRef
from chalicelib.domain.state import StateKey
from chalicelib.runtime import aws
from chalicelib.runtime.settings import Settings
from chalicelib.store import dynamo, keys


def delete(settings: Settings, state: list[StateKey], sources: list[SourceRef], entries: list[dict[str, Any]]) -> int:
    """Delete the state items, the sources' cross-references and the audit entries; returns state items removed."""
    state_keys = [keys.state(k) for k in state] + [keys.xref(ref) for ref in sources]
    _delete(settings.state_table, state_keys)
    _delete(settings.audit_table, [(str(i["pk"]), str(i["sk"])) for i in entries])
    return len(state_keys)


def _delete(table: str, item_keys: list[tuple[str, str]]) -> None:
    client = aws.client("dynamodb")
    for start in range(0, len(item_keys), 25):
        request: dict[str, Any] = {table: [{"DeleteRequest": {"Key": dynamo.key_of(pk, sk)}} for pk, sk in item_keys[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
