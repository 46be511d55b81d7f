"""The events rules fire: CloudEvents whose id names the occurrence, so it is fired once, ever."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.events import CloudEvent, deterministic_id
from chalicelib.triggers.outcome import json_data


def rule_event(
    event_type: str, id_parts: tuple[str, ...], subject: str, time: datetime, data: dict[str, Any], correlation: str | None
) -> CloudEvent:
    return CloudEvent(
        id=deterministic_id(event_type, *id_parts),
        type=event_type,
        subject=subject,
        time=time,
        data=json_data({k: v for k, v in data.items() if v is not None}),
        correlationid=correlation,
    )
