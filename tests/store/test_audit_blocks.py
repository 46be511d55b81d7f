"""How audit entries are stored: one block per commit and chain, read back entry by entry (pure, no AWS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalicelib.store import audit, dynamo
from chalicelib.store.audit import AuditEntry, ChainHead

CHAIN = "customer#cus_0123456789abcdef0123"
AT = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)


def commit(correlation: str = "rcp_1", at: datetime = AT, changes: int = 3) -> list[AuditEntry]:
    """The entries one applied record appends: received, applied with field changes, trigger_fired."""
    return [
        AuditEntry(
            "received", "connector:demo_crm", correlation, {"via": "webhook", "dedupe_key": "demo_crm:e1"}, connector="demo_crm", at=at
        ),
        AuditEntry(
            "applied",
            "pipeline",
            correlation,
            {"source": {"system": "demo_crm", "id": "C-1"}},
            {f"field_{n}": {"before": None, "after": f"value {n}", "from": f"customer.f{n}"} for n in range(changes)},
            connector="demo_crm",
            mapping="demo_crm_customer",
            mapping_version="ec6256d2baec",
            at=at,
        ),
        AuditEntry("trigger_fired", "pipeline", correlation, {"event_id": "evt-1", "type": "customer.grade_changed"}, at=at),
    ]


def stored(blocks: list[dict]) -> list[dict]:
    """Blocks as DynamoDB hands them back (Binary, Decimal)."""
    return [dynamo.from_item(dynamo.to_item(b)) for b in blocks]


def test_one_commit_is_one_block_and_reads_back_as_the_entries_it_was_made_of():
    items, head = audit.chain(CHAIN, commit(), ChainHead(), retention_days=30)
    (block,) = audit.pack(CHAIN, items)
    assert (block["pk"], block["sk"], block["seq"]) == (CHAIN, "000000000001", 1)
    assert block["prev_hash"] == audit.GENESIS and block["hash"] == head.hash
    entries = audit.unpack(stored([block]))
    for made, read in zip(items, entries, strict=True):
        for name in ("pk", "sk", "seq", "at", "action", "actor", "correlation_id", "prev_hash", "entry", "hash", "content", "salt"):
            assert read[name] == made[name], name
    assert audit.verify_items(entries) == []
    assert [audit.entry_view(e)["action"] for e in entries] == ["received", "applied", "trigger_fired"]


def test_a_block_is_smaller_than_the_entries_it_holds():
    items, _ = audit.chain(CHAIN, commit(changes=8), ChainHead(), retention_days=30)
    (block,) = audit.pack(CHAIN, items)
    as_entries = sum(len(json.dumps(dynamo.to_item(i))) for i in items)
    assert len(json.dumps(dynamo.to_item(dict(block, entries="")))) + len(block["entries"]) < as_entries / 2


def test_another_correlation_or_another_day_starts_another_block():
    first, head = audit.chain(CHAIN, commit("rcp_1"), ChainHead(), retention_days=30)
    other, head = audit.chain(CHAIN, commit("rcp_2"), head, retention_days=30)
    next_day, _ = audit.chain(CHAIN, commit("rcp_2", AT + timedelta(seconds=2)), head, retention_days=30)  # past midnight
    blocks = audit.pack(CHAIN, first + other + next_day)
    assert [b["seq"] for b in blocks] == [1, 4, 7]
    assert [b["correlation_id"] for b in blocks] == ["rcp_1", "rcp_2", "rcp_2"]
    assert blocks[1]["day_shard"].startswith("2026-11-30#") and blocks[2]["day_shard"].startswith("2026-12-01#")
    assert audit.verify_items(audit.unpack(stored(blocks))) == []


def test_a_long_commit_is_split_into_blocks_far_below_the_item_limit():
    big = [
        AuditEntry("delivered", "dispatcher", "rcp_1", {"response": "x" * 20_000, "n": n}, connector="subscriber", at=AT) for n in range(12)
    ]
    items, head = audit.chain(CHAIN, big, ChainHead(), retention_days=30)
    blocks = audit.pack(CHAIN, items)
    assert len(blocks) > 1 and all(len(b["entries"]) < 100_000 for b in blocks)
    entries = audit.unpack(stored(blocks))
    assert [e["seq"] for e in entries] == list(range(1, 13)) and audit.verify_items(entries) == []
    assert entries[-1]["hash"] == head.hash


def test_entries_stored_before_blocks_read_back_as_they_are_and_a_block_continues_their_chain():
    legacy, head = audit.chain(CHAIN, commit("rcp_1"), ChainHead(), retention_days=30)
    newer, _ = audit.chain(CHAIN, commit("rcp_2"), head, retention_days=30)
    entries = audit.unpack(stored(legacy) + stored(audit.pack(CHAIN, newer)))
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert audit.verify_items(entries) == []


def test_masking_an_entry_keeps_the_block_sealed():
    items, _ = audit.chain(CHAIN, commit(), ChainHead(), retention_days=30)
    (block,) = stored(audit.pack(CHAIN, items))

    def erase(entry: dict) -> dict | None:
        return audit.masked_content(entry, '{"masked":true}', "masked:tok") if entry["action"] == "applied" else None

    masked_block, masked = audit.mask_block(block, erase)
    assert [e["seq"] for e in masked] == [2]
    entries = audit.unpack(stored([masked_block]))
    assert audit.verify_items(entries) == []
    assert "salt" not in entries[1] and entries[1]["masked_by"] == "masked:tok" and entries[1]["content"] == '{"masked":true}'
    assert entries[0]["salt"] == items[0]["salt"]  # the others keep theirs


def test_a_block_in_an_unknown_format_is_reported_by_the_verifier():
    items, _ = audit.chain(CHAIN, commit(), ChainHead(), retention_days=30)
    (block,) = audit.pack(CHAIN, items)
    entries = audit.unpack([dict(block, entries=b"\x02" + block["entries"][1:])])
    assert audit.verify_items(entries) == ["entry 1: its stored block cannot be read (audit block packed in an unknown format (b'\\x02'))"]


def test_a_block_missing_what_it_needs_is_reported_not_raised():
    items, _ = audit.chain(CHAIN, commit(), ChainHead(), retention_days=30)
    (block,) = audit.pack(CHAIN, items)
    for broken in (
        {k: v for k, v in block.items() if k != "prev_hash"},
        {k: v for k, v in block.items() if k != "seq"},
        dict(block, seq="one"),
        dict(block, entries=audit.encode_entries(["not an entry"])),  # type: ignore[list-item]
        dict(block, entries=b"\x01" + b"not zlib"),
    ):
        (entry,) = audit.unpack([broken])
        assert entry["seq"] == 1 and entry["unreadable"]
        assert audit.verify_items([entry])[0].startswith("entry 1: its stored block cannot be read")
