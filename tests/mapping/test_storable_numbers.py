"""Numbers the store cannot hold are a mapping problem with a clear message, never an error while writing.

moto does not apply DynamoDB's number rules, so they are applied here directly: boto3's serialiser uses
DynamoDB's context (38 significant digits, exponents -130 to +125, any rounding an error).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.errors import ValueProblem
from chalicelib.mapping.transforms import to_decimal
from tests.stack import demo_body, drain, get_json, post_demo

FOUND = [Decimal("1e999999"), "1e300", "1e-300", "1" * 40, Decimal("1" * 40), 10**200, 1.5e308, 5e-324, "1e99999999999"]


@pytest.mark.parametrize("value", FOUND, ids=repr)
def test_a_number_beyond_dynamodbs_range_is_a_value_problem(value):
    with pytest.raises(ValueProblem) as err:
        to_decimal(value)
    assert err.value.code == "out_of_range" and "38 significant digits" in err.value.message


def test_trailing_zeros_do_not_count_when_dropping_them_keeps_the_value():
    assert to_decimal("12.500000000000000000000000000000000000000000") == Decimal("12.5")
    assert to_decimal(10**40) == Decimal("1E+40")
    assert str(to_decimal(Decimal("12.50"))) == "12.50", "a representation that fits is kept as it is"


@given(st.one_of(st.decimals(allow_nan=False, allow_infinity=False), st.integers(), st.floats(allow_nan=False, allow_infinity=False)))
def test_every_number_accepted_is_one_dynamodb_stores_unchanged(value):
    try:
        number = to_decimal(value)
    except ValueProblem:
        return
    assert number is not None
    serialised = TypeSerializer().serialize(number)["N"]  # raises on anything DynamoDB would refuse
    assert Decimal(serialised) == (Decimal(str(value)) if isinstance(value, float) else Decimal(value))


@pytest.mark.parametrize("credit_limit", ["1e300", "1e-300", "1" * 40, 1e300])
def test_such_a_number_in_a_delivery_is_quarantined_with_its_reason(stack, credit_limit):
    body = demo_body(credit_limit=credit_limit)
    if credit_limit == 1e300:
        body = body.replace(b"1e+300", b"1e999999")  # a JSON number no float holds
    assert post_demo(stack, body).status_code == 202
    assert drain() == 1
    status, listing = get_json(stack, "/quarantine?status=open")
    (record,) = listing["records"]
    assert record["field"] == "credit_limit" and "cannot be stored" in record["message"], json.dumps(record)
