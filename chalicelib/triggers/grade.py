"""`customer.grade_changed` (SPEC §2.1): an owner update moved the customer's canonical grade.

The golden merge has already dropped stale/duplicate updates and non-owner values, so a grade
change here is exactly "owner update, newer than stored, different grade". What remains is the
first-sight baseline and the event itself.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain.canonical import CanonicalRecord
from chalicelib.domain.events import CloudEvent
from chalicelib.domain.golden import MergeResult, iso
from chalicelib.errors import TriggerInputError
from chalicelib.triggers.config import GradeConfig
from chalicelib.triggers.outcome import AuditNote, EventContext

EVENT_TYPE = "customer.grade_changed"


def check_grade_value(record: CanonicalRecord, config: GradeConfig) -> None:
    """An unknown grade is never guessed: the record is quarantined with a message saying what to edit."""
    value = record.fields.get("grade")
    if value is None or not config.levels or value in config.levels:
        return
    raise TriggerInputError(
        f"unknown grade {value!r} from connector {record.source.system!r} "
        f"(record {record.source.id}): it is not on the grade scale {list(config.levels)}; "
        f"add it to the grade vocabulary of mapping {record.mapping!r} and replay the record"
    )


def evaluate(
    merge: MergeResult, record: CanonicalRecord, customer_id: str, config: GradeConfig, ctx: EventContext
) -> tuple[list[CloudEvent], list[AuditNote]]:
    if not config.enabled or "grade" not in merge.changed:
        return [], []  # a non-owner's grade was kept per source and noted by the merge
    previous, current = merge.changed["grade"]
    if current is None:
        return [], [AuditNote("grade_cleared", "owner cleared the grade; nothing to compare", {"previous": previous})]
    if previous is None and config.baseline_on_first_sight:
        return [], [AuditNote("grade_baseline", "first grade seen for this customer: baseline, no event", {"current": current})]
    levels = config.levels
    if previous is not None and previous not in levels:
        return [], [
            AuditNote(
                "grade_unranked", "stored grade is not on the scale; no direction to report", {"previous": previous, "current": current}
            )
        ]
    before = levels.index(previous) if previous is not None else -1  # no grade ranks below the lowest
    after = levels.index(current)
    data: dict[str, Any] = {
        "customer_id": customer_id,
        "previous": previous,
        "current": current,
        "direction": "up" if after > before else "down",
        "steps": abs(after - before),
        "source_system": record.source.system,
        "source_record_id": record.source.id,
    }
    parts = (customer_id, record.source.system, iso(record.source_time), str(previous), current)
    return [ctx.event(EVENT_TYPE, parts, customer_id, data)], []
