"""Erasure's sweep: every stored copy that names the customer is deleted or masked.

Inputs, quarantine records and events are not kept by customer, and a raw payload does not
carry the golden id, so the sweep reads every table once (a paginated Scan) and tests each
item with the subject's masker (chalicelib.domain.erasure). What it does with an item that
names the subject depends on what the item is:

| table      | the key names the subject            | only the content names it                          |
|------------|--------------------------------------|----------------------------------------------------|
| state      | deleted (golden, consent, orders,    | masked in place, if unchanged since read (another  |
|            | rules, window, xref, match, dedupe)  | entity's record pointing at the customer)          |
| audit      | deleted (the subject's own chains)   | content masked, salt dropped: the chain verifies   |
| events     | —                                    | masked in place (data, subject, source record id)  |
| quarantine | deleted                              | deleted (the raw payload is the point of it)       |
| inputs     | deleted                              | deleted (raw payloads kept for replay)             |

The stats table is not read: it holds outcome counts per connector and hour, nothing of a record.

The subject's own golden and consent items are deleted last, so an interrupted erasure can
be run again: the golden record still names everything to look for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.erasure import Masker
from chalicelib.errors import ConflictError, PayloadMissing
from chalicelib.runtime import aws
from chalicelib.runtime.settings import Settings
from chalicelib.store import audit, dynamo, payloads

# Copies of raw payloads: an item there that names the subject goes whole.
_DELETE_WHOLE = ("inputs", "quarantine")


@dataclass
class Removal:
    """What the sweep did, per table and kind of item: counts only, nothing about the person."""

    counts: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)
    scanned: Counter[str] = field(default_factory=Counter)

    def count(self, action: str, table: str, kind: str) -> None:
        """``action``: deleted, masked, or left (an audit entry whose hashed header names the subject)."""
        self.counts.setdefault(table, {}).setdefault(action, Counter())[kind] += 1

    def report(self) -> dict[str, dict[str, dict[str, int]]]:
        """``{table: {"deleted": {kind: n}, "masked": {kind: n}}}``; tables that held nothing are left out."""
        return {t: {a: dict(sorted(c.items())) for a, c in sorted(actions.items())} for t, actions in sorted(self.counts.items())}

    def total(self, table: str, action: str) -> int:
        return sum(self.counts.get(table, {}).get(action, Counter()).values())


# Bookkeeping no person is in (hashes, versions, index shards, expiry): never searched, never rewritten.
_UNTOUCHED = frozenset(
    {"pk", "sk", "version", "hash", "prev_hash", "audit_seq", "audit_hash", "salt", "run_at", "run", "day_shard", "time_shard"}
    | {"connector_shard", "timer_shard", "timer_due", "expires_at", "masked_by", "content_digest"}
)


def sweep(settings: Settings, masker: Masker, last: list[tuple[str, str]]) -> Removal:
    """Delete or mask every item that names the subject; the state items in ``last`` go at the very end."""
    removal = Removal()
    tables = {
        "inputs": settings.inputs_table,
        "quarantine": settings.quarantine_table,
        "events": settings.events_table,
        "audit": settings.audit_table,
        "state": settings.state_table,
    }
    deferred = set(last)
    claim_checked: list[str] = []
    for name, table in tables.items():
        doomed: list[tuple[str, str]] = []
        for item in _scan(table):
            removal.scanned[name] += 1
            key = (str(item["pk"]), str(item["sk"]))
            content = {k: v for k, v in item.items() if k not in _UNTOUCHED}
            if name == "audit" and audit.is_block(item):
                content = {"entries": [_visible(entry) for entry in audit.unpack([item])]}
            if name in _DELETE_WHOLE and item.get(payloads.REF):
                content["raw"] = _claim_checked(item)
            if not masker.names(content) and not masker.names(list(key)):
                continue
            kind = _kind(name, item)
            if name == "audit" and audit.is_block(item) and not masker.names(list(key)):
                _sweep_block(table, masker, item, removal)
                continue
            if name in _DELETE_WHOLE or masker.names(list(key)):
                for _ in audit.unpack([item]) if name == "audit" else [item]:  # an audit block counts its entries
                    removal.count("deleted", name, kind)
                if key not in deferred:
                    doomed.append(key)
                if item.get(payloads.REF):
                    claim_checked.append(str(item[payloads.REF]))
                    removal.count("deleted", "payloads", kind)
            elif name == "audit":
                masked = _mask_audit(table, masker, item)
                removal.count("left" if masker.names({k: v for k, v in masked.items() if k not in _UNTOUCHED}) else "masked", name, kind)
            else:
                _put_masked(table, {**item, **masker.value(content)}, item)
                removal.count("masked", name, kind)
        _delete(table, doomed)
    _delete(settings.state_table, list(last))
    payloads.erase(claim_checked)
    return removal


def _claim_checked(item: dict[str, Any]) -> str:
    """The raw input an item keeps in the payload bucket (empty once it expired: nothing left to search)."""
    try:
        return payloads.raw_of(item)
    except PayloadMissing:
        return ""


def _kind(table: str, item: dict[str, Any]) -> str:
    """How a removal is counted: a state item by its sort key, an audit entry by its chain's kind."""
    if table == "state":
        return str(item["sk"])
    if table == "audit":
        return str(item["pk"]).split("#", 1)[0]
    return {"events": "event", "quarantine": "record", "inputs": "raw_input"}[table]


def _mask_audit(table: str, masker: Masker, item: dict[str, Any]) -> dict[str, Any]:
    """Mask an entry's sealed content; what the entry's hash covers stays as written, so the chain still verifies.

    An entry from before content was sealed holds its details inside the hashed text: masking
    it there is the only way to remove them, and the verifier then reports that entry by name.
    """
    content = item.get("content")
    if content is None:
        unsealed = {k: v for k, v in item.items() if k not in _UNTOUCHED}
        masked = dict(item, **masker.value(unsealed), masked_by=masker.token)
    else:
        masked = audit.masked_content(item, masker.value(str(content)), masker.token)
    _put_masked(table, masked, item)
    return masked


def _visible(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in _UNTOUCHED}


def _sweep_block(table: str, masker: Masker, block: dict[str, Any], removal: Removal) -> None:
    """Mask the content of each entry of an audit block that names the subject; the block's hashes stay as written."""

    def mask(entry: dict[str, Any]) -> dict[str, Any] | None:
        if not masker.names(_visible(entry)):
            return None
        return audit.masked_content(entry, masker.value(str(entry["content"])), masker.token)

    masked_block, masked = audit.mask_block(block, mask)
    if masked:
        _put_masked(table, masked_block, block)
    for entry in masked:
        removal.count("left" if masker.names(_visible(entry)) else "masked", "audit", _kind("audit", block))


def _put_masked(table: str, masked: dict[str, Any], read: dict[str, Any]) -> None:
    """Write the masked item only if it is still the item read (same version, or same delivery head for an event)."""
    put: dict[str, Any] = {"TableName": table, "Item": dynamo.to_item(masked)}
    for attribute in ("version", "audit_seq"):
        if attribute in read:
            put["ConditionExpression"] = f"{attribute} = :v"
            put["ExpressionAttributeValues"] = {":v": {"N": str(read[attribute])}}
            break
    else:
        put["ConditionExpression"] = "attribute_exists(pk)"
    try:
        aws.client("dynamodb").put_item(**put)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise ConflictError(f"{table}: an item changed while it was being erased; erase again") from exc
        raise


def _scan(table: str) -> Iterator[dict[str, Any]]:
    client = aws.client("dynamodb")
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        for item in page.get("Items", []):
            yield dynamo.from_item(item)
        if not page.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _delete(table: str, item_keys: list[tuple[str, str]]) -> None:
    client = aws.client("dynamodb")
    for start in range(0, len(item_keys), 25):
        request: dict[str, Any] = {table: [{"DeleteRequest": {"Key": dynamo.key_of(pk, sk)}} for pk, sk in item_keys[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
