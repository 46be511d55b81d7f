"""What enters the pipeline: one source record, from a webhook delivery or a sync page."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class InboundRecord(BaseModel):
    """One source record with the key that makes its processing effectively-once.

    ``dedupe_key`` is the vendor's event id where it has one, else a hash of
    connector + object + body; the same input always yields the same key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    connector: str
    object: str = Field(description="Source object type, e.g. company, Account, sale.order")
    payload: dict[str, Any]
    dedupe_key: str
    received_at: AwareDatetime
    via: Literal["webhook", "sync", "replay"] = "webhook"
    receipt_id: str | None = Field(None, description="The webhook delivery (or sync run) it came in")
    entity_hint: str | None = Field(None, description="Source record id when known before mapping, for queue ordering")

    def to_message(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_message(cls, body: str) -> InboundRecord:
        return cls.model_validate_json(body)


def content_dedupe_key(connector: str, object_type: str, payload: Any) -> str:
    """Dedupe key for inputs without a vendor event id: a hash of what was sent."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    digest = hashlib.sha256(f"{connector}\x1f{object_type}\x1f{canonical}".encode()).hexdigest()
    return f"sha256:{digest[:40]}"


def event_dedupe_key(connector: str, event_id: str) -> str:
    return f"{connector}:{event_id}"


def utc_iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")
