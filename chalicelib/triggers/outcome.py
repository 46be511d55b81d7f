"""What trigger evaluation hands back to the pipeline, and how its events are built.

The pipeline commits ``Outcome.puts`` + audit + ``Outcome.events`` in one transaction; nothing here
touches storage, so every function is pure and testable without AWS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.events import CloudEvent, deterministic_id
from chalicelib.domain.state import StateKey


@dataclass(frozen=True)
class AuditNote:
    """A fact worth an audit entry that is not a state change (stale input, ignored value, baseline...)."""

    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    puts: dict[StateKey, dict[str, Any]] = field(default_factory=dict)
    events: list[CloudEvent] = field(default_factory=list)
    notes: list[AuditNote] = field(default_factory=list)
    changed_fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    stale: bool = False


def json_data(value: Any) -> Any:
    """Event data is JSON: Decimals become strings (no float ever touches money)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_data(v) for v in value]
    return value


def number_text(value: Decimal) -> str:
    """A canonical text of a number for event ids: 100, 100.0 and 100.00 name the same amount."""
    normal = value.normalize()
    return format(normal, "f") if normal != 0 else "0"


@dataclass(frozen=True)
class EventContext:
    """What every event of one processed record shares."""

    time: datetime
    correlation_id: str | None
    mapping_version: str | None

    def event(self, event_type: str, id_parts: tuple[str, ...], subject: str, data: dict[str, Any]) -> CloudEvent:
        return CloudEvent(
            id=deterministic_id(event_type, *id_parts),
            type=event_type,
            subject=subject,
            time=self.time,
            data=json_data(data),
            correlationid=self.correlation_id,
            mappingversion=self.mapping_version,
        )
