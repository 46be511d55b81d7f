"""CloudEvents 1.0 (structured JSON) as salesbridge emits them."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SOURCE = "urn:salesbridge"
EVENT_TYPES = (
    "customer.grade_changed",
    "order.anomaly_detected",
    "rebate.deviation_detected",
    "rebate.deviation_resolved",
)


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    specversion: str = "1.0"
    id: str
    source: str = SOURCE
    type: str
    subject: str = Field(description="Canonical entity id")
    time: AwareDatetime = Field(description="Source system's time of the change")
    datacontenttype: str = "application/json"
    data: dict[str, Any]
    correlationid: str | None = Field(None, description="Extension: correlation id of the input")
    mappingversion: str | None = Field(None, description="Extension: mapping version that produced the data")

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def deterministic_id(event_type: str, *parts: str) -> str:
    """The same logical occurrence always gets the same id, so re-delivery never makes a new event."""
    digest = hashlib.sha256("\x1f".join((event_type, *parts)).encode()).hexdigest()
    return f"evt_{digest[:32]}"
