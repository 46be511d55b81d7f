"""Discarding a quarantined input: an operator gives it up, with a reason, once and for good.

A record that will never be valid (test data sent to production, an object since deleted at the
source, a payload whose claim check expired) would otherwise stay open for ever and be taken again
by every replay of its connector. A discard closes the quarantine record and gives the input its
final outcome in one commit, with an audit entry on the input's chain saying who and why: a
redelivered copy is then a duplicate, and no replay takes it. Nothing is applied to any entity;
the raw input stays on the record, as a replayed record's does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.inbound import InboundRecord
from chalicelib.errors import ConflictError
from chalicelib.store import keys
from chalicelib.store.audit import AuditEntry
from chalicelib.store.port import ChainAppend, InputOutcome, Plan, QuarantineClosing, Store

ATTEMPTS = 5  # reads and commits before a record that keeps changing under the discard is reported as a conflict


def discard(store: Store, item: dict[str, Any], actor: str, reason: str) -> bool:
    """Close the open quarantine record ``item`` as discarded; False if it is no longer open (replayed or discarded meanwhile)."""
    qid, dedupe_key = str(item["id"]), str(item["dedupe_key"])
    chain = keys.input_chain(dedupe_key)
    for _ in range(ATTEMPTS):
        snapshot = store.read([], input_key=dedupe_key, with_quarantine=True)
        if snapshot.quarantined is None or snapshot.quarantined.status != "open":
            return False
        entry = AuditEntry(
            action="discarded",
            actor=actor,
            correlation_id=f"discard#{qid}",
            connector=str(item["connector"]),
            mapping=item.get("mapping"),
            mapping_version=item.get("mapping_version"),
            details={"quarantine_id": qid, "code": item.get("code"), "reason": reason},
        )
        plan = Plan(
            snapshot=snapshot,
            audit=[ChainAppend(chain, [entry])],
            input=InputOutcome(_input_of(item), "discarded", chain, keep_raw=False),
            closes_quarantine=QuarantineClosing("discarded", actor, reason),
        )
        try:
            store.commit(plan)
        except ConflictError:
            continue  # a redelivery or a replay of the same input committed in between: read again
        return True
    raise ConflictError(f"{qid}: the record kept changing while it was being discarded; try again")


def _input_of(item: dict[str, Any]) -> InboundRecord:
    """The input as its dedupe mark names it (key, connector, object); its payload is not read: it may have expired."""
    return InboundRecord(
        connector=str(item["connector"]),
        object=str(item["object"]),
        payload={},
        dedupe_key=str(item["dedupe_key"]),
        received_at=datetime.fromisoformat(str(item["first_at"])),
    )
