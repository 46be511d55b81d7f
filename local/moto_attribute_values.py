"""DynamoDB attribute values read from and written to JSON in one pass by moto's protocol layer.

moto (5.x) parses every request and serializes every response by walking the botocore shape,
and a DynamoDB ``AttributeValue`` is a union of ten members, each value a further walk: for a
transaction of a few golden records, or a batch read of them, the walk costs more than
everything else moto does. An attribute value's JSON is its own dict (binary values in
base64), so ``PlainAttributeValues`` converts it in one pass, doing per member exactly what
moto's parser and serializer do (text as is, binary decoded from / encoded to base64, nulls
as moto treats them) and leaves every other shape to moto. Self-contained, so it can be
offered to moto.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from moto.core.parse import BaseJSONParser
from moto.core.serialize import BaseJSONSerializer

SERVICES = ("dynamodb", "dynamodbstreams")  # both name the union "AttributeValue", with the same members
TEXT = ("S", "N")
TEXT_SETS = ("SS", "NS")
AS_IS = ("BOOL", "NULL")


def _is_attribute_value(shape: Any, service_name: str) -> bool:
    return bool(shape.name == "AttributeValue" and service_name in SERVICES)


# ------------------------------------------------------------------ requests: JSON -> what moto's parser returns
def parsed(value: dict[str, Any], blob: Callable[[Any], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for member, v in value.items():
        if v is None:
            continue
        if member in TEXT or member in AS_IS:
            out[member] = v
        elif member in TEXT_SETS:
            out[member] = list(v)
        elif member == "B":
            out[member] = blob(v)
        elif member == "BS":
            out[member] = [blob(x) for x in v]
        elif member == "M":
            out[member] = {k: parsed(x, blob) if x is not None else None for k, x in v.items()}
        elif member == "L":
            out[member] = [parsed(x, blob) if x is not None else None for x in v]
    return out


# ------------------------------------------------------------------ responses: moto's values -> JSON
def _text(value: Any) -> Any:
    return str(value) if value not in (None, {}, []) else value  # as moto's string serializer


def _base64(value: bytes) -> str:
    return base64.b64encode(value).strip().decode("utf-8")


def plain(value: dict[str, Any]) -> dict[str, Any]:
    """An AttributeValue dict (binary values as bytes, as moto holds them) as its JSON form."""
    out: dict[str, Any] = {}
    for member, v in value.items():
        if v is None:
            continue
        if member in TEXT:
            out[member] = _text(v)
        elif member in TEXT_SETS:
            out[member] = [_text(x) for x in v]
        elif member == "B":
            out[member] = _base64(v)
        elif member == "BS":
            out[member] = [_base64(x) for x in v]
        elif member == "M":
            out[member] = {k: plain(x) for k, x in v.items() if x is not None}
        elif member == "L":
            out[member] = [plain(x) if x is not None else None for x in v]
        elif member in AS_IS:
            out[member] = v
    return out


class PlainAttributeValues:
    """Installs the one-pass AttributeValue parsing and serialization on moto's JSON protocol (process-wide)."""

    # moto's own: kept to uninstall and to compare with
    moto_parse_structure = BaseJSONParser._parse_structure
    moto_serialize_structure = BaseJSONSerializer._serialize_type_structure

    @classmethod
    def install(cls) -> None:
        BaseJSONParser._parse_structure = cls.parse_structure  # type: ignore[method-assign]
        BaseJSONSerializer._serialize_type_structure = cls.serialize_structure  # type: ignore[method-assign,assignment]

    @classmethod
    def uninstall(cls) -> None:
        BaseJSONParser._parse_structure = cls.moto_parse_structure  # type: ignore[method-assign]
        BaseJSONSerializer._serialize_type_structure = cls.moto_serialize_structure  # type: ignore[method-assign]

    @staticmethod
    def parse_structure(parser: BaseJSONParser, shape: Any, value: Any) -> Any:
        if isinstance(value, dict) and _is_attribute_value(shape, parser.operation_model.service_model.service_name):
            return parsed(value, parser._blob_parser)
        return PlainAttributeValues.moto_parse_structure(parser, shape, value)

    @staticmethod
    def serialize_structure(serializer: BaseJSONSerializer, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and isinstance(value, dict) and _is_attribute_value(shape, serializer.service_model.service_name):
            serialized[serializer.get_serialized_name(shape, key)] = plain(value)
            return
        PlainAttributeValues.moto_serialize_structure(serializer, serialized, value, shape, key)
