"""Each transform of the catalog, with its edge cases."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chalicelib.errors import TransformConfigError, ValueProblem
from chalicelib.mapping.code_lists import CodeList
from chalicelib.mapping.transforms import CATALOG, BuildContext, build_transform

SHANGHAI = ZoneInfo("Asia/Shanghai")


def step(spec, ctx=None):
    ctx = ctx or BuildContext()
    return build_transform(spec, ctx)[1]


def fails(spec, value, code="bad_type", ctx=None):
    ctx = ctx or BuildContext()
    with pytest.raises(ValueProblem) as info:
        step(spec, ctx)(value)
    assert info.value.code == code
    return info.value


@pytest.mark.parametrize(
    "spec, value, expected",
    [
        ("string", 12, "12"),
        ("string", Decimal("1.50"), "1.50"),
        ("string", "  a ", "a"),
        ("int", "42", 42),
        ("int", Decimal("3.0"), 3),
        ("decimal", "12.50", Decimal("12.50")),
        ("decimal", 0.1, Decimal("0.1")),
        ("decimal", 7, Decimal(7)),
        ("bool", "Yes", True),
        ("bool", 0, False),
        ("bool", "否", False),
        ("trim", "  x ", "x"),
        ("lower", "AbC", "abc"),
        ("upper", "abc", "ABC"),
        ({"split": ","}, "a, b,c", ["a", "b", "c"]),
        ({"split": {"separator": " ", "index": -1}}, "Ada King Lovelace", "Lovelace"),
        ({"concat": " "}, ["Ada", None, "Lovelace"], "Ada Lovelace"),
        ({"default": "CNY"}, None, "CNY"),
        ({"default": "CNY"}, "", "CNY"),
        ({"default": "CNY"}, "USD", "USD"),
        ({"null_if": False}, False, None),
        ({"null_if": [False, ""]}, "", None),
        ({"null_if": False}, 0, 0),
        ({"pick": 1}, [3, "EUR"], "EUR"),
        ({"pick": "FNumber"}, {"FNumber": "X"}, "X"),
        ({"scale": {"divide": 100}}, 12345, Decimal("123.45")),
        ({"scale": {"divide": 100}}, "1", Decimal("0.01")),
        ({"scale": {"multiply": "0.01"}}, 250, Decimal("2.50")),
        ({"round": 2}, "2.345", Decimal("2.35")),
        ({"round": 2}, "-0.001", Decimal("0.00")),
        ("currency", " rmb ", "CNY"),
        ("currency", "人民币", "CNY"),
        ("currency", "usd", "USD"),
        ({"currency": {"aliases": {"PRE001": "CNY"}}}, "pre001", "CNY"),
        ({"phone": "CN"}, "138 0013 8000", "+8613800138000"),
        ({"phone": "CN"}, "021-6234-5678", "+862162345678"),
        ({"phone": {"country": "US"}}, "(512) 757-6000", "+15127576000"),
        ({"phone": "US"}, "1-512-757-6000", "+15127576000"),
        ({"phone": "CN"}, "+44 20 7946 0958", "+442079460958"),
        ({"phone": "CN"}, "0044 20 7946 0958", "+442079460958"),
        ("email", " Ada@Example.COM ", "ada@example.com"),
        ({"map": {"Gold": "A", "钻石": "S"}}, "  GOLD ", "A"),
        ({"map": {"Gold": "A", "钻石": "S"}}, "钻石", "S"),
        ({"map": {"values": {"closedwon": "confirmed"}, "default": "open"}}, "other", "open"),
        ({"map": {1: "A"}}, 1, "A"),
        ({"expr": "value * 2"}, Decimal("1.5"), Decimal("3.0")),
        ({"strftime": "%Y-%m"}, date(2026, 10, 31), "2026-10"),
        ({"date": "%Y%m"}, "202610", date(2026, 10, 1)),
        ("date", "2026-11-01", date(2026, 11, 1)),
    ],
)
def test_transform(spec, value, expected):
    result = step(spec)(value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("name", [n for n in CATALOG if n not in ("default", "required", "null_if")])
def test_null_passes_through(name):
    args = {
        "strftime": "%Y",
        "split": ",",
        "null_if": False,
        "pick": 0,
        "scale": {"divide": 10},
        "map": {"a": "b"},
        "expr": "value",
        "default": 1,
        "code_list": "grades",
    }
    spec = {name: args[name]} if name in args else name
    grades = CodeList("grades", "grades.yaml", 1, None, ("A",), {"crm": {"A": ("Gold",)}})
    assert step(spec, BuildContext(code_lists={"grades": grades}, system="crm"))(None) is None


def test_decimal_never_float():
    assert step("decimal")(1.1) == Decimal("1.1")
    for bad in ["abc", "NaN", "Infinity", True, [1], {}]:
        fails("decimal", bad)


def test_iso8601_with_offsets():
    parse = step("datetime")
    assert parse("2026-11-01T08:00:00+08:00") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse("2026-11-01T00:00:00Z").utcoffset() == timedelta(0)
    assert parse("2023-10-04T18:35:13.000+0000") == datetime(2023, 10, 4, 18, 35, 13, tzinfo=UTC)


def test_naive_times_need_a_declared_timezone():
    problem = fails("datetime", "2026-11-01T08:00:00")
    assert "timezone" in problem.message + problem.hint
    parse = step("datetime", BuildContext(timezone=SHANGHAI))
    assert parse("2026-11-01T08:00:00") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(TransformConfigError):
        step({"datetime": "%Y-%m-%d %H:%M:%S"})  # no zone anywhere: refused at load time
    parse = step({"datetime": {"format": "%Y-%m-%d %H:%M:%S", "timezone": "Asia/Shanghai"}})
    assert parse("2026-11-01 08:00:00") == datetime(2026, 11, 1, tzinfo=UTC)


def test_epoch_and_odata_dates():
    expected = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert step({"datetime": "epoch_ms"})(1700000000000) == expected
    assert step({"datetime": "epoch_ms"})("1700000000000") == expected
    assert step({"datetime": "epoch_s"})(1700000000) == expected
    assert step({"datetime": "odata_date"})("/Date(1700000000000)/") == expected
    moment = step({"datetime": "odata_date"})("/Date(1700000000000+0800)/")
    assert moment == expected and moment.utcoffset() == timedelta(hours=8)
    fails({"datetime": "epoch_ms"}, "soon")
    fails({"datetime": "epoch_ms"}, 10**30)
    fails({"datetime": "odata_date"}, "/Date(abc)/")


def test_value_problems():
    fails("email", "not-an-email")
    fails({"phone": "CN"}, "call me")
    fails({"phone": "CN"}, "12")
    fails("currency", "dollars", code="unknown_value")
    problem = fails({"map": {"Gold": "A"}}, "Platinum", code="unknown_value")
    assert "Platinum" in problem.message and "gold" in problem.message
    fails("required", None, code="missing_required")
    fails("int", "1.5")
    fails("bool", "maybe")
    fails({"expr": "value / 0"}, 1, code="expression_error")
    fails("string", {"a": 1})


@pytest.mark.parametrize(
    "spec",
    [
        "nope",
        "scale",
        {"scale": {"divide": 0}},
        {"scale": {"times": 2}},
        {"split": ""},
        {"round": 99},
        {"phone": "XX"},
        {"currency": {"aliases": {"X": "dollar"}}},
        {"map": {}},
        {"map": {"Gold": "A", " gold": "B"}},
        {"datetime": "yesterday"},
        {"datetime": {"format": "iso8601", "timezone": "Mars/Base"}},
        {"expr": "value.__class__"},
        {"trim": 1},
        {"a": 1, "b": 2},
    ],
)
def test_bad_arguments_are_configuration_errors(spec):
    with pytest.raises(TransformConfigError):
        step(spec)


def test_map_targets_must_be_reachable():
    ctx = BuildContext(allowed_values=("D", "C", "B", "A", "S"), field="grade")
    with pytest.raises(TransformConfigError) as info:
        step({"map": {"Gold": "A", "Platinum": "SS"}}, ctx)
    assert "SS" in info.value.message
