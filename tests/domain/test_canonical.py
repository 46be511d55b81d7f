"""The canonical model: money is Decimal, times are aware, and the editor schema is current."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from chalicelib.domain.canonical import Customer, Order, OrderLine, RebateSettlement, schema_document

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_matches_the_model():
    committed = json.loads((ROOT / "schemas" / "canonical.schema.json").read_text())
    assert committed == json.loads(json.dumps(schema_document())), "run: python -m chalicelib.domain.canonical"


def test_money_stays_decimal_and_serialises_as_text():
    order = Order(total="1234.50", lines=[OrderLine(sku="A", quantity="3", unit_price="10.10", discount="0.30")])
    assert order.total == Decimal("1234.50")
    assert order.lines[0].net_unit_price == Decimal("10.00")
    assert json.loads(order.model_dump_json())["total"] == "1234.50"


def test_naive_times_and_bad_periods_are_refused():
    with pytest.raises(ValidationError):
        Order(placed_at="2026-11-01T08:00:00")
    with pytest.raises(ValidationError):
        RebateSettlement(period="2026-13")
    with pytest.raises(ValidationError):
        Customer(unknown_field=1)
