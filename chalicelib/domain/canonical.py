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

EntityType = Literal["customer", "product", "order", "pos_sale", "rebate_settlement"]
ENTITY_TYPES: tuple[str, ...] = ("customer", "product", "order", "pos_sale", "rebate_settlement")


class CanonicalModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=True)


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


ENTITY_MODELS: dict[str, type[CanonicalModel]] = {
    "customer": Customer,
    "product": Product,
    "order": Order,
    "pos_sale": PosSale,
    "rebate_settlement": RebateSettlement,
}


class SourceRef(BaseModel):
    """Which system said it, and under which id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str
    entity: EntityType
    id: str


class CanonicalRecord(BaseModel):
    """One mapped source record on its way through the pipeline.

    ``fields`` holds only what the source sent (absent is not null), as a partial
    update of the canonical entity; ``references`` name other entities by their
    source ids until identity resolution turns them into canonical ids.
    """

    model_config = ConfigDict(extra="forbid")

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
