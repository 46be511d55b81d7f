"""The audit trail: every step as an entry, chained per entity so tampering shows.

Each entry holds the hash of the previous entry of the same entity; the chain's
head (sequence number and hash) lives on the entity's golden item, so appending
needs no extra read and happens inside the same transaction as the change.

An entry's content (``details`` and ``changes``, where personal data can appear) is
sealed: the entry's hash covers a salted digest of it, and the content and its salt are
stored beside the hashed text. Erasure can then mask the content, keeping only that
digest, while every hash and link stays as written; the verifier accepts such an entry
as masked, never as the original (docs/sovereignty.md).

Stored, the entries one commit appends to one chain (with one correlation id, on one day)
are a single item, a *block*: the chain key, the first sequence number, the hash before the
first entry and after the last, and the entries packed (compressed JSON). Each entry's
hashed text is not stored: it is rebuilt from the block and the entry, exactly as it was
hashed. ``pack`` writes blocks, ``unpack`` gives back the entries one by one, as they were
before packing; the block's stored hash seals all of its entries at once. Items written
before blocks (one entry each, with its text) read back unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.consent import PERSONAL_CATEGORIES
from chalicelib.domain.state import StateKey
from chalicelib.store import dynamo, keys

GENESIS = "0" * 64


@dataclass
class AuditEntry:
    """One thing that happened, before it is chained."""

    action: str
    actor: str
    correlation_id: str
    details: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    connector: str | None = None
    mapping: str | None = None
    mapping_version: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class ChainHead:
    seq: int = 0
    hash: str = GENESIS

    @classmethod
    def of(cls, item: dict[str, Any] | None) -> ChainHead:
        if not item or "audit_seq" not in item:
            return cls()
        return cls(int(item["audit_seq"]), str(item["audit_hash"]))


def canonical_json(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# Attributes copied out of the hashed entry text so they can be queried; verify checks they still match.
_INDEXED = ("pk", "sk", "seq", "at", "action", "actor", "correlation_id", "prev_hash")


def chain(chain_id: str, entries: list[AuditEntry], head: ChainHead, retention_days: int) -> tuple[list[dict[str, Any]], ChainHead]:
    """Turn entries into audit items that continue a chain (an entity's, an input's, an event's ...).

    The hashed content is kept verbatim as JSON text (``entry``), so verification
    does not depend on how DynamoDB normalises numbers.
    """
    items = []
    expires_at = int(time.time()) + retention_days * 86400
    for entry in entries:
        seq = head.seq + 1
        at = entry.at.astimezone(UTC).isoformat(timespec="microseconds")
        pk, sk = keys.audit_entry(chain_id, seq)
        body: dict[str, Any] = {
            "pk": pk,
            "sk": sk,
            "seq": seq,
            "at": at,
            "action": entry.action,
            "actor": entry.actor,
            "correlation_id": keys.index_key(entry.correlation_id),  # a key of the by-correlation index
            "connector": entry.connector,
            "mapping": entry.mapping,
            "mapping_version": entry.mapping_version,
            "prev_hash": head.hash,
        }
        content = canonical_json({"details": entry.details, "changes": entry.changes})
        salt = secrets.token_urlsafe(12)  # 96 random bits, 16 characters: every byte of an audit item is billed
        text = _hashed_text(body)
        item = {k: body[k] for k in _INDEXED}
        item.update({k: body[k] for k in _HEADER if body[k] is not None})
        item.update(entry=text, hash=sealed_hash(text, sealed_digest(salt, content)), content=content, salt=salt, expires_at=expires_at)
        items.append(item)
        head = ChainHead(seq, item["hash"])
    return items, head


def _hashed_text(body: dict[str, Any]) -> str:
    return canonical_json({k: v for k, v in body.items() if v is not None})


# ---------------------------------------------------------------------------- blocks: how entries are stored

_HEADER = ("connector", "mapping", "mapping_version")  # hashed with the entry, not indexed
_PER_ENTRY = ("at", "action", "actor", *_HEADER, "content", "salt", "content_digest", "masked_by")
BLOCK_ENTRIES = 50  # at most this many entries in one block
BLOCK_TEXT = 64 * 1024  # and at most this much packed text (before compression): far from DynamoDB's 400 KB
_ENTRY_TEXT = 200  # what an entry packs besides its content (time, action, actor, connector, mapping, salt), about
_PACKED_V1 = b"\x01"  # the first byte of a block's packed entries: zlib with the preset dictionary below
# Words that recur in entries: a preset dictionary lets even a short block compress. Never edit it:
# blocks written with it are read with it; a new dictionary takes a new first byte.
_DICTIONARY_V1 = (
    b'{"action":"trigger_fired","actor":"pipeline","at":"2026-","connector":"","content":"{\\"changes\\":{},'
    b'\\"details\\":{\\"event_id\\":\\"\\",\\"subject\\":\\"customer#cus_\\",\\"type\\":\\"com.salesbridge.'
    b'\\"source\\":{\\"entity\\":\\"customer\\",\\"id\\":\\"\\",\\"system\\":\\"\\"},\\"source_time\\":\\"'
    b'\\"notes\\":[{\\"data\\":\\"\\",\\"kind\\":\\"\\",\\"message\\":\\"\\"}],'
    b'\\"after\\":\\"masked:\\",\\"before\\":null,\\"category\\":\\"contact_personal\\",'
    b'\\"from\\":\\"customer.\\",\\"rule\\":\\"mappings/.yaml:\\"},'
    b'\\"dedupe_key\\":\\"\\",\\"object\\":\\"customer\\",\\"receipt_id\\":\\"rcp_\\",'
    b'\\"received_at\\":\\"2026-T:00.000000+00:00\\",\\"via\\":\\"webhook\\"}}",'
    b'"mapping":"","mapping_version":"","salt":""},{"action":"received","actor":"connector:","at":"2026-'
    b'T:00.000000+00:00","action":"applied","actor":"pipeline","connector":"'
)


def pack(chain_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items to store for entries ``chain`` made: one block per run of one correlation id on one day.

    Each block is in the two audit indexes (``correlation_id`` and ``day_shard``, both sorted
    by ``run_at``): a listing finds a commit's entries with one index entry and one read.
    """
    blocks: list[dict[str, Any]] = []
    run: list[dict[str, Any]] = []
    size = 0
    for item in items:
        text = len(str(item.get("content", ""))) + _ENTRY_TEXT
        if run and (_run_key(run[0]) != _run_key(item) or len(run) >= BLOCK_ENTRIES or size + text > BLOCK_TEXT):
            blocks.append(_block(chain_id, run))
            run, size = [], 0
        run.append(item)
        size += text
    if run:
        blocks.append(_block(chain_id, run))
    return blocks


def _run_key(item: dict[str, Any]) -> tuple[str, str]:
    return str(item["correlation_id"]), str(item["at"])[:10]


def _block(chain_id: str, run: list[dict[str, Any]]) -> dict[str, Any]:
    first, last = run[0], run[-1]
    return {
        "pk": first["pk"],
        "sk": first["sk"],
        "seq": first["seq"],
        "correlation_id": first["correlation_id"],
        "prev_hash": first["prev_hash"],
        "hash": last["hash"],
        "entries": encode_entries([{k: item[k] for k in _PER_ENTRY if item.get(k) is not None} for item in run]),
        "expires_at": first.get("expires_at"),
        "day_shard": keys.sharded(str(first["at"])[:10], chain_id),
        "run_at": keys.audit_order(str(first["at"]), chain_id, int(first["seq"])),
    }


def encode_entries(entries: list[dict[str, Any]]) -> bytes:
    packer = zlib.compressobj(9, zdict=_DICTIONARY_V1)
    return _PACKED_V1 + packer.compress(canonical_json({"e": entries}).encode()) + packer.flush()


def decode_entries(packed: Any) -> list[dict[str, Any]]:
    raw = bytes(packed)
    if raw[:1] != _PACKED_V1:
        raise ValueError(f"audit block packed in an unknown format ({raw[:1]!r})")
    unpacker = zlib.decompressobj(zdict=_DICTIONARY_V1)
    entries: list[dict[str, Any]] = json.loads(unpacker.decompress(raw[1:]) + unpacker.flush())["e"]
    return entries


def is_block(item: dict[str, Any]) -> bool:
    return "entries" in item


def unpack(stored: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries stored items hold, one item per entry, in the order read (an item from before blocks as it is)."""
    return [entry for item in stored for entry in (_unpack_block(item) if is_block(item) else [item])]


def _unpack_block(block: dict[str, Any]) -> list[dict[str, Any]]:
    """A block's entries with their hashed text rebuilt; the last carries the hash stored with the block.

    An entry inside a block carries the hash computed from it, and the next entry links to that;
    if anything in the block was altered, the last entry's hash no longer matches the stored one.
    """
    try:
        packed = decode_entries(block["entries"])
        first, previous = int(block["seq"]), str(block["prev_hash"])
        if not all(isinstance(e, dict) for e in packed):
            raise ValueError("an entry that is not an object")
    except (ValueError, zlib.error, KeyError, TypeError) as exc:
        seq = int(str(block.get("sk", 0))) if str(block.get("sk", "")).isdigit() else 0
        return [{"pk": block.get("pk"), "sk": block.get("sk"), "seq": seq, "hash": block.get("hash"), "unreadable": str(exc)}]
    out: list[dict[str, Any]] = []
    for offset, packed_entry in enumerate(packed):
        seq = first + offset
        pk, sk = str(block["pk"]), f"{seq:0{keys.SEQUENCE_DIGITS}d}"
        body = {
            "pk": pk,
            "sk": sk,
            "seq": seq,
            "at": packed_entry.get("at"),
            "action": packed_entry.get("action"),
            "actor": packed_entry.get("actor"),
            "correlation_id": block.get("correlation_id"),
            **{k: packed_entry.get(k) for k in _HEADER},
            "prev_hash": previous,
        }
        entry = {k: body[k] for k in _INDEXED}
        entry.update({k: body[k] for k in _HEADER if body[k] is not None})
        entry.update({k: packed_entry[k] for k in ("content", "salt", "content_digest", "masked_by") if k in packed_entry})
        entry.update(entry=_hashed_text(body), expires_at=block.get("expires_at"))
        previous = expected_hash(entry) or ""
        entry["hash"] = previous
        out.append(entry)
    if out:
        out[-1]["hash"] = block.get("hash")
    return out


def mask_block(
    block: dict[str, Any], mask: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A block with some entries masked: ``mask`` gets each entry (unpacked) and returns its masked copy, or None to keep it.

    Returns the new block and the masked entries; the block's hashes stay as written.
    """
    packed = decode_entries(block["entries"])
    masked_entries = []
    for offset, entry in enumerate(_unpack_block(block)):
        masked = mask(entry)
        if masked is None:
            continue
        packed[offset] = {k: masked[k] for k in _PER_ENTRY if masked.get(k) is not None}
        masked_entries.append(masked)
    return dict(block, entries=encode_entries(packed)), masked_entries


def sealed_digest(salt: str, content: str) -> str:
    """The commitment to an entry's content: without the salt, the digest tells nothing about a short value."""
    return digest(salt + content)


def sealed_hash(text: str, content_digest: str) -> str:
    """An entry's hash: its hashed text and the digest of its content."""
    return digest(f"{text}\n{content_digest}")


def masked_content(item: dict[str, Any], content: str, erasure: str) -> dict[str, Any]:
    """The entry with its content replaced by a masked copy: the digest of the original stays, its salt goes."""
    masked = {k: v for k, v in item.items() if k != "salt"}
    if "salt" in item:  # else masked before, by another erasure: its digest is already kept
        masked["content_digest"] = sealed_digest(str(item["salt"]), str(item["content"]))
    masked.update(content=content, masked_by=erasure)
    return masked


def expected_hash(item: dict[str, Any]) -> str | None:
    """What an entry's hash must be: of its text alone (entries from before sealing), or of its text and content digest.

    A masked entry's content is no longer the original: the digest kept by the erasure stands in for it.
    """
    text = str(item.get("entry", ""))
    if "content" not in item:
        return digest(text)
    if "salt" in item:
        return sealed_hash(text, sealed_digest(str(item["salt"]), str(item["content"])))
    if item.get("masked_by") and item.get("content_digest"):
        return sealed_hash(text, str(item["content_digest"]))
    return None


def run_keys(item: dict[str, Any]) -> list[tuple[str, str]]:
    """The keys of the stored items an index entry stands for: a block's own, or the run of entries it starts (before blocks)."""
    chain_id, first = str(item["pk"]), int(str(item["sk"]))
    return [keys.audit_entry(chain_id, seq) for seq in range(first, first + int(item.get("run", 1)))]


def verify_items(items: list[dict[str, Any]]) -> list[str]:
    """Problems in a chain read back in sequence order (empty list: intact)."""
    problems = []
    previous = GENESIS
    expected_seq = 1
    for item in items:
        seq = int(item.get("seq", 0))
        if seq != expected_seq:
            problems.append(f"entry {expected_seq} is missing (found {seq})")
        if item.get("unreadable"):
            problems.append(f"entry {seq}: its stored block cannot be read ({item['unreadable']})")
            previous, expected_seq = str(item.get("hash")), seq + 1
            continue
        text = str(item.get("entry", ""))
        if expected_hash(item) != item.get("hash"):
            legacy = item.get("masked_by") and "content" not in item
            why = "masked by an erasure before content was sealed" if legacy else "content does not match its hash"
            problems.append(f"entry {seq}: {why}")
        try:
            body = json.loads(text)
        except ValueError:
            body = {}
        if body.get("prev_hash") != previous:
            problems.append(f"entry {seq}: link to the previous entry is broken")
        for name in _INDEXED:
            if str(body.get(name)) != str(item.get(name)):
                problems.append(f"entry {seq}: attribute {name} differs from the hashed entry")
        previous = str(item.get("hash"))
        expected_seq = seq + 1
    return problems


def entry_view(item: dict[str, Any]) -> dict[str, Any]:
    """An audit item as the API shows it: the hashed entry, its content (``masked`` once erased) and its hash."""
    try:
        body: dict[str, Any] = json.loads(item["entry"])
    except (KeyError, ValueError):
        body = {k: v for k, v in item.items() if k != "entry"}
    if "content" in item:
        try:
            body.update(json.loads(str(item["content"])))
        except ValueError:
            pass
    if item.get("masked_by"):
        body["masked"] = True
    body["hash"] = item.get("hash")
    return body


def mask(value: Any, key: bytes) -> str | None:
    """A keyed hash: the same person masks to the same token, the value cannot be read back."""
    if value is None:
        return None
    return "masked:" + hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()[:16]


def field_changes(
    changed: dict[str, tuple[Any, Any]],
    lineage: dict[str, str],
    categories: dict[str, str],
    key: bytes,
    rules: dict[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Before/after of each changed field, its source field and the mapping rule (file:line); personal data masked."""
    out: dict[str, dict[str, Any]] = {}
    for name, (before, after) in changed.items():
        personal = categories.get(name) in PERSONAL_CATEGORIES
        out[name] = {
            "before": mask(before, key) if personal else before,
            "after": mask(after, key) if personal else after,
            "from": lineage.get(name),
        }
        if rules and name in rules:
            out[name]["rule"] = rules[name]
        if personal:
            out[name]["category"] = categories[name]
    return out


def read_entity(
    table: str, entity_key: str, limit: int = 200, after: str | None = None, newest_first: bool = False
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``limit`` entries of one chain and the cursor after them (the sort key of the last block read).

    A page ends at a block's end, so it holds fewer than ``limit`` entries when the next block
    would not fit, and more only when one block alone holds more.
    """
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": keys.chain_key(entity_key)}},
        "Limit": limit,
        "ScanIndexForward": not newest_first,
    }
    if after:
        kwargs["ExclusiveStartKey"] = dynamo.key_of(keys.chain_key(entity_key), after)
    stored, last = dynamo.query(table, **kwargs)
    entries: list[dict[str, Any]] = []
    for index, item in enumerate(stored):
        block = unpack([item])
        if entries and len(entries) + len(block) > limit:
            return entries, str(stored[index - 1]["sk"])
        entries += reversed(block) if newest_first else block
    return entries, (last["sk"]["S"] if last else None)


def read_correlation(table: str, correlation_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """Every entry of one correlation id, in time order (the index holds the first entry of each run)."""
    runs, _ = dynamo.query(
        table,
        IndexName="by-correlation",
        KeyConditionExpression="correlation_id = :c",
        ExpressionAttributeValues={":c": {"S": keys.index_key(correlation_id)}},
        Limit=limit,
    )
    return read_runs(table, runs)[:limit]


def read_runs(table: str, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries of these runs (index entries), read by key, in time order."""
    wanted = [key for run in runs for key in run_keys(run)]
    found = dynamo.batch_get(table, wanted)
    entries = unpack(entry for entry in (found.get(key) for key in wanted) if entry is not None)
    return sorted(entries, key=lambda e: (str(e.get("at")), str(e["pk"]), str(e["sk"])))


def read_chain(table: str, chain_id: str) -> list[dict[str, Any]]:
    """Every entry of one chain, in order."""
    items: list[dict[str, Any]] = []
    after = None
    while True:
        page, after = read_entity(table, chain_id, limit=500, after=after)
        items += page
        if not after:
            return items


def verify_entity(table: str, entity_key: str) -> dict[str, Any]:
    items = read_chain(table, entity_key)
    problems = verify_items(items)
    problems += verify_head(items, stored_head(entity_key))
    return {"entity": entity_key, "entries": len(items), "intact": not problems, "problems": problems}


def verify_head(items: list[dict[str, Any]], head: ChainHead | None) -> list[str]:
    """The chain must end where the head written with its last entry says: a cut-off tail shows here."""
    if head is None or head.seq == 0:
        return []
    last_seq = int(items[-1].get("seq", 0)) if items else 0
    last_hash = str(items[-1].get("hash")) if items else GENESIS
    if last_seq != head.seq:
        return [f"the chain ends at entry {last_seq} but its head says entry {head.seq}: entries after {last_seq} are missing"]
    if last_hash != head.hash:
        return [f"entry {last_seq}: hash differs from the chain head"]
    return []


def stored_head(chain_id: str) -> ChainHead | None:
    """The head kept on the item that owns the chain (golden, consent, dedupe or event item)."""
    from chalicelib.runtime.settings import get_settings

    s = get_settings()
    owner = keys.chain_owner(chain_id)
    if owner is None:
        return None  # one-entry chains written alone; nothing else holds their head
    if isinstance(owner, StateKey):
        item = dynamo.get(s.state_table, *keys.state(owner))
    elif owner == keys.INPUT_OWNER:
        item = dynamo.get(s.state_table, *keys.dedupe(chain_id.removeprefix(keys.INPUT_CHAIN)))
    else:
        item = dynamo.get(s.events_table, *keys.event(owner[1]))
    return ChainHead.of(item) if item else None
