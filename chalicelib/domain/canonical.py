"""The canonical master-data dictionary (model v1).

Every source record is translated into one of these entities. Money is ``Decimal``
and every timestamp is timezone-aware: a naive datetime is a configuration or
mapping bug and is rejected here rather than guessed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

MODEL_VERSION = "1"

# Decimal that serialises as a JSON string so no float ever touches money.
Money = Annotated[Decimal, PlainSerializer(lambda v: str(v), return_type=str, when_used="json")]
Quantity = Annotated[Decimal, PlainSerializer(lambda v: str(v), return_type=str, when_used="json")]

EntityType = Literal["customer", "product", "order", "pos_sale", "rebate_settlement", "lead", "opportunity", "activity"]
ENTITY_TYPES: tuple[str, ...] = ("customer", "product", "order", "pos_sale", "rebate_settlement", "lead", "opportunity", "activity")


class CanonicalModel(BaseModel):
    """``defer_build``: validators are built by the first record that needs them (the door and the API never do)."""

    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=True, defer_build=True)


class Customer(CanonicalModel):
    """A buyer: end customer, account or distributor."""

    name: str | None = None
    grade: str | None = Field(None, description="Canonical grade from the configured scale")
    email: str | None = None
    phone: str | None = None
    tax_id: str | None = None
    country: str | None = None
    region: str | None = None
    city: str | None = None
    industry: str | None = None
    credit_limit: Money | None = None
    currency: str | None = None
    is_distributor: bool | None = None
    owner: str | None = Field(None, description="Sales owner in the source system")
    status: str | None = None


class Product(CanonicalModel):
    sku: str | None = None
    name: str | None = None
    category: str | None = None
    unit: str | None = None
    list_price: Money | None = None
    floor_price: Money | None = Field(None, description="Lowest allowed net unit price")
    currency: str | None = None
    active: bool | None = None


class OrderLine(CanonicalModel):
    line_id: str | None = None
    sku: str
    quantity: Quantity
    unit_price: Money
    discount: Money = Field(Decimal("0"), description="Discount amount for the whole line")
    amount: Money | None = Field(None, description="Net line amount as the source reports it")

    @property
    def net_unit_price(self) -> Decimal:
        if self.quantity == 0:
            return self.unit_price
        return self.unit_price - self.discount / self.quantity

    @property
    def net_amount(self) -> Decimal:
        if self.amount is not None:
            return self.amount
        return self.unit_price * self.quantity - self.discount


class Order(CanonicalModel):
    """A sales order (sell-in when it comes from the ERP)."""

    order_number: str | None = None
    customer_id: str | None = Field(None, description="Canonical customer id")
    placed_at: AwareDatetime | None = None
    status: str | None = Field(None, description="open, confirmed, paid, cancelled, ...")
    currency: str | None = None
    total: Money | None = None
    lines: list[OrderLine] | None = None


class PosSale(CanonicalModel):
    """A sell-through transaction reported by a POS or a distributor's stock-and-sales system.

    A return is a sale with negative quantity / amount.
    """

    distributor_id: str | None = Field(None, description="Canonical customer id of the distributor")
    sold_at: AwareDatetime | None = None
    currency: str | None = None
    lines: list[OrderLine] | None = None
    total: Money | None = None


class RebateSettlement(CanonicalModel):
    distributor_id: str | None = None
    period: str | None = Field(None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    policy: str | None = None
    settled_amount: Money | None = None
    currency: str | None = None
    settled_at: AwareDatetime | None = None


class Lead(CanonicalModel):
    """A prospect not yet qualified into a customer: someone to contact, quickly."""

    name: str | None = Field(None, description="The person's name")
    company: str | None = None
    email: str | None = None
    phone: str | None = None
    status: str | None = Field(None, description="new, working, qualified, unqualified, converted, ...")
    source: str | None = Field(None, description="Where the lead came from: web, event, referral, ...")
    rating: str | None = None
    industry: str | None = None
    country: str | None = None
    owner: str | None = Field(None, description="Sales owner in the source system")
    customer_id: str | None = Field(None, description="Canonical customer id once the lead is converted")
    created_at: AwareDatetime | None = Field(None, description="When the lead was created in the source")


class Opportunity(CanonicalModel):
    """A deal in the making: its stage moves through the sales process."""

    name: str | None = None
    customer_id: str | None = Field(None, description="Canonical customer id")
    lead_id: str | None = Field(None, description="Canonical lead id it was converted from")
    stage: str | None = Field(None, description="Canonical stage, e.g. qualification, needs_analysis, proposal, negotiation, won, lost")
    owner: str | None = Field(None, description="Sales owner in the source system")
    amount: Money | None = None
    currency: str | None = None
    probability: Quantity | None = Field(None, description="Percent, 0-100")
    close_date: AwareDatetime | None = None


class Activity(CanonicalModel):
    """Something that happened between the company and a lead or customer: who did what, when."""

    type: str | None = Field(None, description="call, email, message, meeting, task, note, quote, page_view, ...")
    subject: str | None = None
    status: str | None = Field(None, description="planned, completed, cancelled, ...")
    direction: str | None = Field(None, description="inbound or outbound")
    occurred_at: AwareDatetime | None = Field(None, description="When it happened (or is due)")
    actor: str | None = Field(None, description="Who did it: a user in the source, or a visitor id")
    page: str | None = Field(None, description="What was looked at: a page path or name (behaviour events)")
    duration_seconds: Quantity | None = None
    outcome: str | None = None
    lead_id: str | None = Field(None, description="Canonical lead id")
    opportunity_id: str | None = Field(None, description="Canonical opportunity id")
    customer_id: str | None = Field(None, description="Canonical customer id")


ENTITY_MODELS: dict[str, type[CanonicalModel]] = {
    "customer": Customer,
    "product": Product,
    "order": Order,
    "pos_sale": PosSale,
    "rebate_settlement": RebateSettlement,
    "lead": Lead,
    "opportunity": Opportunity,
    "activity": Activity,
}


class SourceRef(BaseModel):
    """Which system said it, and under which id."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    system: str
    entity: EntityType
    id: str


class CanonicalRecord(BaseModel):
    """One mapped source record on its way through the pipeline.

    ``fields`` holds only what the source sent (absent is not null), as a partial
    update of the canonical entity; ``references`` name other entities by their
    source ids until identity resolution turns them into canonical ids.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    entity: EntityType
    source: SourceRef
    source_time: AwareDatetime
    source_version: Decimal | None = Field(None, description="A version or sequence number the source gives its changes")
    time_is_receipt: bool = Field(False, description="The source gives no change time: source_time is when the record was read")
    fields: dict[str, Any]
    references: dict[str, SourceRef] = Field(default_factory=dict)
    lineage: dict[str, str] = Field(default_factory=dict)
    categories: dict[str, str] = Field(default_factory=dict, description="field -> data category")
    owners: dict[str, str] = Field(default_factory=dict, description="field -> owner system")
    mapping: str
    mapping_version: str

    def validated_fields(self) -> CanonicalModel:
        """The fields checked against the entity's model (raises pydantic.ValidationError)."""
        return ENTITY_MODELS[self.entity].model_validate(self.fields)


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of each canonical entity, for editors and API consumers."""
    return {name: model.model_json_schema(mode="serialization") for name, model in ENTITY_MODELS.items()}


def schema_document() -> dict[str, Any]:
    """One JSON Schema document with a definition per canonical entity (for editors and API users)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"salesbridge canonical model v{MODEL_VERSION}",
        "description": "Money is a decimal string; times are ISO 8601 with an offset.",
        "$defs": json_schemas(),
    }


if __name__ == "__main__":  # python -m chalicelib.domain.canonical  → rewrites schemas/canonical.schema.json
    import json
    from pathlib import Path

    target = Path(__file__).resolve().parents[2] / "schemas" / "canonical.schema.json"
    target.write_text(json.dumps(schema_document(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {target}")
