"""Property-based: any JSON into any shipped mapping gives a record or a RecordMappingError."""

from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.domain.canonical import CanonicalRecord
from chalicelib.errors import RecordMappingError
from chalicelib.mapping import load_mapping_set
from chalicelib.mapping.examples import as_payload

MAPPINGS = load_mapping_set(Path(__file__).resolve().parents[2] / "mappings")
NAMES = sorted(MAPPINGS.mappings)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(
        [
            "Gold",
            "钻石",
            "2026-11-01T08:00:00+08:00",
            "2026-11-01 08:00:00",
            "/Date(1700000000000)/",
            "1700000000000",
            "",
            "12.50",
            "closedwon",
            "PRE001",
            "company.propertyChange",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def keys_of(example_input: dict) -> st.SearchStrategy:
    """Payloads shaped like an example's (so the mapping gets past its id), with random values."""

    def shaped(value):
        if isinstance(value, dict):
            return st.fixed_dictionaries({}, optional={k: shaped(v) | json_values for k, v in value.items()})
        if isinstance(value, list):
            return st.lists(shaped(value[0]) if value else json_values, max_size=3)
        return json_values

    return shaped(example_input)


def check(name: str, payload) -> None:
    try:
        result = MAPPINGS.mappings[name].apply(payload)
    except RecordMappingError as exc:
        assert exc.code in {"missing_required", "bad_type", "unknown_value", "expression_error", "filtered_out", "not_an_object"}, exc
        return
    assert isinstance(result, CanonicalRecord)
    assert result.source_time.tzinfo is not None
    for value in result.fields.values():
        assert not isinstance(value, float)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), payload=st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_arbitrary_json_never_raises_anything_else(name, payload):
    check(name, payload)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(NAMES))
def test_example_shaped_json_never_raises_anything_else(data, name):
    example = MAPPINGS.mappings[name].examples[0]
    payload = data.draw(keys_of(as_payload(example.input)))
    check(name, payload)


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(NAMES), payload=json_values)
def test_non_objects_are_mapping_errors(name, payload):
    check(name, payload)


@settings(max_examples=100, deadline=None)
@given(tier=st.text(max_size=10), email_present=st.booleans())
def test_absent_never_appears_and_null_only_where_nullable(tier, email_present):
    customer = {"id": "C-1", "updated_at": "2026-11-01T08:00:00+08:00", "tier": None, "name": None}
    if email_present:
        customer["email"] = None
    record = MAPPINGS.find("demo_crm", "customer").apply({"customer": customer})
    assert record.fields == ({"email": None} if email_present else {})


def test_decimal_money_from_float_input():
    record = MAPPINGS.find("demo_crm", "customer").apply(
        {"customer": {"id": "C", "updated_at": "2026-11-01T08:00:00+08:00", "credit_limit": 0.1}}
    )
    assert record.fields["credit_limit"] == Decimal("0.1")
