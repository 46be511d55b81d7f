"""What became of one input: exactly one of these, always."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from chalicelib.pipeline.evaluate import Evaluation

Status = Literal["applied", "stale", "duplicate", "quarantined", "skipped"]


@dataclass(frozen=True)
class RecordOutcome:
    status: Status
    dedupe_key: str
    entity_key: str | None = None
    event_ids: list[str] = field(default_factory=list)
    message: str = ""
    quarantine_id: str | None = None
    evaluation: Evaluation | None = field(default=None, repr=False, compare=False)  # what evaluation decided (applied / stale)
