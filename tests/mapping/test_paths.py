"""Source paths: syntax, absent vs null, wrong shapes."""

import pytest

from chalicelib.errors import PathError, ValueProblem
from chalicelib.mapping.paths import MISSING, compile_getter, format_path, parse_path


@pytest.mark.parametrize(
    "text, segments",
    [
        ("a", ("a",)),
        ("properties.hs_lead_status.value", ("properties", "hs_lead_status", "value")),
        ("FSaleOrderEntry[0].FMaterialId.FNumber", ("FSaleOrderEntry", 0, "FMaterialId", "FNumber")),
        ('["FBillNo"]', ("FBillNo",)),
        ('attributes["odata.type"]', ("attributes", "odata.type")),
        ("a['x y'].b", ("a", "x y", "b")),
        ('a["say \\"hi\\""]', ("a", 'say "hi"')),
        ("经销商编码", ("经销商编码",)),
        ("金额(分)", ("金额(分)",)),
        ("lines[-1]", ("lines", -1)),
        ("matrix[0][1]", ("matrix", 0, 1)),
    ],
)
def test_parse(text, segments):
    assert parse_path(text) == segments


@pytest.mark.parametrize("text, column", [("", 1), ("a..b", 3), (".a", 1), ("a.", 2), ("a[x]", 2), ("a b", 2), ('a["x]', 2), ("a[0]b", 5)])
def test_parse_errors_name_the_column(text, column):
    with pytest.raises(PathError) as info:
        parse_path(text)
    assert info.value.column == column


def test_format_round_trips():
    for text in ['a.b[0]["x.y"]', "经销商编码", "a[-1]"]:
        assert parse_path(format_path(parse_path(text))) == parse_path(text)


@pytest.mark.parametrize("text", ["a", "a.b", "a.b.c", "a[0].b"])
def test_absent_is_missing_and_null_is_none(text):
    get = compile_getter(parse_path(text))
    assert get({}) is MISSING
    assert get({"a": None}) is None  # a null parent: the source says there is nothing


def test_values_and_indexes():
    data = {"a": {"b": [{"c": 1}, {"c": 2}]}, "k.dot": 5}
    assert compile_getter(parse_path("a.b[1].c"))(data) == 2
    assert compile_getter(parse_path("a.b[5].c"))(data) is MISSING
    assert compile_getter(parse_path('["k.dot"]'))(data) == 5
    assert compile_getter(parse_path("a.b"))(data) == [{"c": 1}, {"c": 2}]


@pytest.mark.parametrize("text, data", [("a.b", {"a": "text"}), ("a[0]", {"a": {"x": 1}}), ("a.b.c", {"a": {"b": 3}}), ("a", [1])])
def test_wrong_shape_is_a_bad_type_problem(text, data):
    with pytest.raises(ValueProblem) as info:
        compile_getter(parse_path(text))(data)
    assert info.value.code == "bad_type"
