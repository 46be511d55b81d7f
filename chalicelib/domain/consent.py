"""Data sovereignty: what use of a customer's data is granted, per data category.

Every mapped field carries a data category. A customer's revocation takes effect
for the next record processed: fields of a category without consent are dropped
before they are stored or forwarded, and the drop is audited (names, never values).
Categories listed as opt-in need an explicit grant; the others are allowed until
revoked. The registry item is read in the processor's one batched read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from chalicelib.domain.canonical import CanonicalRecord

Status = Literal["granted", "revoked"]

# The data categories every mapped field is filed under: consent, masking and usage reports speak of these.
DataCategory = Literal["contact_personal", "inquiry", "meeting_recording", "trial_behaviour", "commercial", "location"]
DATA_CATEGORIES: tuple[DataCategory, ...] = (
    "contact_personal",  # names, e-mail, phone of people
    "inquiry",  # what a prospect asked
    "meeting_recording",  # notes, recordings, transcripts
    "trial_behaviour",  # product-trial usage
    "commercial",  # prices, orders, grades, credit
    "location",  # addresses
)
# Personal data: masked in the audit trail (before/after values are keyed hashes).
PERSONAL_CATEGORIES: frozenset[str] = frozenset({"contact_personal", "inquiry", "meeting_recording", "trial_behaviour"})
# Used only after an explicit grant, unless consent_policy.yaml says otherwise.
DEFAULT_OPT_IN: tuple[DataCategory, ...] = ("meeting_recording", "trial_behaviour")


def customer_of(record: CanonicalRecord, entity_id: str) -> str | None:
    """The customer whose data this record carries (itself, or the customer it refers to)."""
    if record.entity == "customer":
        return entity_id
    customer = record.fields.get("customer_id") or record.fields.get("distributor_id")
    return str(customer) if customer else None


def allowed(item: dict[str, Any] | None, category: str | None, opt_in: tuple[str, ...] = DEFAULT_OPT_IN) -> bool:
    if category is None:
        return True
    status = ((item or {}).get("categories") or {}).get(category, {}).get("status")
    if status is None:
        return category not in opt_in
    return bool(status == "granted")


@dataclass(frozen=True)
class Dropped:
    fields: dict[str, str]  # field -> category

    def __bool__(self) -> bool:
        return bool(self.fields)


def apply_consent(
    record: CanonicalRecord, item: dict[str, Any] | None, opt_in: tuple[str, ...] = DEFAULT_OPT_IN
) -> tuple[CanonicalRecord, Dropped]:
    """The record without the fields its customer has not consented to."""
    denied = {name: record.categories[name] for name in record.fields if not allowed(item, record.categories.get(name), opt_in)}
    if not denied:
        return record, Dropped({})
    keep = {k: v for k, v in record.fields.items() if k not in denied}
    lineage = {k: v for k, v in record.lineage.items() if k not in denied}
    return record.model_copy(update={"fields": keep, "lineage": lineage}), Dropped(denied)


def updated_item(
    item: dict[str, Any] | None, customer_id: str, category: str, status: Status, by: str, purpose: str | None
) -> dict[str, Any]:
    categories = dict((item or {}).get("categories") or {})
    categories[category] = {"status": status, "at": datetime.now(UTC).isoformat(), "by": by, "purpose": purpose}
    updated = {k: v for k, v in (item or {}).items() if k not in ("categories",)}
    updated.update(customer_id=customer_id, categories=categories)
    return updated
