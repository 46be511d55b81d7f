"""The stand-in's faster item construction and attribute-value JSON give exactly what moto's own code gives.

Pure comparisons on random attribute values (no server): moto's original functions on one
side, the replacements in local/ on the other.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.core.parse import JSONParser
from moto.core.serialize import JSONSerializer
from moto.core.utils import get_service_model
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item

from local.moto_attribute_values import PlainAttributeValues
from local.moto_item_size import LinearItemSize

text = st.text(max_size=12)
name = text.filter(bool)  # DynamoDB refuses empty attribute names (moto mis-serializes them)
number = st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
blob = st.binary(max_size=12)


def attribute_values(with_nulls: bool) -> st.SearchStrategy[Any]:
    """AttributeValue dicts as moto holds them (binary as bytes); ``with_nulls``: maps and lists may hold None."""
    leaves = st.one_of(
        text.map(lambda v: {"S": v}),
        number.map(lambda v: {"N": v}),
        blob.map(lambda v: {"B": v}),
        st.lists(text, min_size=1, max_size=3, unique=True).map(lambda v: {"SS": v}),
        st.lists(number, min_size=1, max_size=3, unique=True).map(lambda v: {"NS": v}),
        st.lists(blob, min_size=1, max_size=3, unique=True).map(lambda v: {"BS": v}),
        st.booleans().map(lambda v: {"BOOL": v}),
        st.just({"NULL": True}),
    )

    def nest(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        child = st.one_of(children, st.none()) if with_nulls else children
        return st.one_of(
            st.dictionaries(name, child, max_size=4).map(lambda v: {"M": v}), st.lists(child, max_size=4).map(lambda v: {"L": v})
        )

    return st.recursive(leaves, nest, max_leaves=12)


def _operation(service: str, name: str) -> Any:
    return get_service_model(service).operation_model(name)


def _wire(value: Any) -> Any:
    """The request JSON of a value as moto holds it (binary values base64-encoded)."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


class MotoSerializer(JSONSerializer):
    _serialize_type_structure = PlainAttributeValues.moto_serialize_structure


class PlainSerializer(JSONSerializer):
    _serialize_type_structure = PlainAttributeValues.serialize_structure


class MotoParser(JSONParser):
    _parse_structure = PlainAttributeValues.moto_parse_structure


class PlainParser(JSONParser):
    _parse_structure = PlainAttributeValues.parse_structure


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(name, attribute_values(with_nulls=True), min_size=1, max_size=4))
def test_responses_serialize_as_moto_serializes_them(item: dict[str, Any]) -> None:
    for service, operation, result in (
        ("dynamodb", "GetItem", {"Item": item}),
        ("dynamodb", "BatchGetItem", {"Responses": {"t": [item, item]}, "UnprocessedKeys": {}}),
        ("dynamodbstreams", "GetRecords", {"Records": [{"eventName": "INSERT", "dynamodb": {"NewImage": item, "Keys": item}}]}),
    ):
        model = _operation(service, operation)
        expected = MotoSerializer(model).serialize(result)
        got = PlainSerializer(model).serialize(result)
        assert json.loads(got["body"]) == json.loads(expected["body"])


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(name, attribute_values(with_nulls=True), min_size=1, max_size=4))
def test_requests_parse_as_moto_parses_them(item: dict[str, Any]) -> None:
    body = json.dumps({"TransactItems": [{"Put": {"TableName": "t", "Item": _wire(item), "ExpressionAttributeValues": _wire(item)}}]})
    model = _operation("dynamodb", "TransactWriteItems")
    request = {"method": "POST", "values": {}, "headers": {}, "body": body.encode(), "url_path": "/", "url_params": {}}
    assert PlainParser(model).parse(request) == MotoParser(model).parse(request)


def _build(init: Any, attrs: dict[str, Any]) -> dict[str, Any] | str:
    item = Item.__new__(Item)
    try:
        init(item, DynamoType({"S": "h"}), None, attrs)
    except ItemSizeTooLarge as exc:
        return f"refused: {exc}"
    return {"attrs": {k: v.to_json() for k, v in item.attrs.items()}, "type": type(item.attrs).__name__}


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(name, attribute_values(with_nulls=False), min_size=1, max_size=8), st.integers(0, 420_000))
def test_items_are_built_and_refused_as_moto_builds_and_refuses_them(attrs: dict[str, Any], padding: int) -> None:
    attrs = {k: _wire(v) for k, v in attrs.items()} | {"pad": {"S": "x" * padding}}
    assert _build(LinearItemSize.init, attrs) == _build(LinearItemSize.moto_init, attrs)


@pytest.mark.parametrize("size", [404_990, 405_000, 405_001])
def test_the_size_limit_is_moto_s_to_the_byte(size: int) -> None:
    attrs = {"p": {"S": "x" * (size - 1)}}  # 1 byte of name + the value
    assert _build(LinearItemSize.init, attrs) == _build(LinearItemSize.moto_init, attrs)
