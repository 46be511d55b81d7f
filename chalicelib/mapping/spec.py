"""The mapping file format, as pydantic models.

These models are the single definition of the format: they check the shape of
each file (keys, types, required parts) and generate the JSON Schema editors use
(``schemas/mapping.schema.json``). Meaning-level checks — paths, transforms,
expressions, canonical field names, grade targets — happen in the compiler, which
knows positions as well. Shape errors are turned into ``Problem``s that point at
the offending key in the YAML file.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, ValidationError, WithJsonSchema

from chalicelib.config.models import StrictModel, validate
from chalicelib.config.problems import Problem
from chalicelib.domain.canonical import ENTITY_MODELS, EntityType
from chalicelib.domain.consent import DataCategory
from chalicelib.mapping.transforms import transform_list_schema

TransformList = Annotated[list[Any], WithJsonSchema(transform_list_schema())]


def _path_or_spec(value: Any) -> str:
    return "path" if isinstance(value, str) else "spec"


class ValueSpec(StrictModel):
    """Where a value comes from: exactly one of ``path``, ``value`` or ``expr``; then ``transforms``."""

    path: str | list[str] | None = Field(
        None, description='Source path, e.g. customer.tier, lines[0].sku, ["key.with.dots"]; a list gives a list of values'
    )
    value: Any = Field(None, description="A constant")
    expr: str | None = Field(None, description="A safe expression over `record` (and `line` inside lines)")
    transforms: TransformList = Field(default_factory=list)


def shorthand(model: type[BaseModel]) -> Any:
    """``field: Some.Path`` is short for ``field: {path: Some.Path}``."""
    return Annotated[
        Annotated[str, Tag("path")] | Annotated[model, Tag("spec")],
        Discriminator(_path_or_spec),
    ]


class FieldSpec(ValueSpec):
    """One canonical field of the entity."""

    when: str | None = Field(None, description="Produce the field only when this expression is true")
    nullable: bool = Field(False, description="An explicit null from the source clears the field (else it is ignored)")
    required: bool = Field(False, description="Refuse the record when the value is absent or null")
    category: DataCategory | None = Field(None, description="Data category, for consent and masking")
    owner: str | None = Field(None, description="System of record for this field (defaults to the mapping's owner)")
    description: str | None = None


class ReferenceSpec(StrictModel):
    """Another entity this record points at, by that entity's source id (resolved to a canonical id later).

    ``same_as`` is the one reference that fills no field: it says this record and another
    system's record (``connector``, ``id``) are one entity (SPEC §2.4).
    """

    entity: EntityType | None = Field(None, description="The entity pointed at (same_as: this mapping's entity)")
    connector: str | None = Field(None, description="System whose id this is (defaults to this mapping's connector)")
    id: shorthand(ValueSpec)  # type: ignore[valid-type]
    required: bool = False


class LinesSpec(StrictModel):
    """Item-by-item mapping of a list into order lines."""

    path: str | None = Field(None, description="The source list; omit it when the whole record is one line")
    filter: str | None = Field(None, description="Keep only items for which this expression (over `line`) is true")
    fields: dict[str, shorthand(FieldSpec)]  # type: ignore[valid-type]


class ExpectedError(StrictModel):
    code: str
    field: str | None = None
    message_contains: str | None = None


class Example(StrictModel):
    """An embedded test: this input must give this canonical output (or this error)."""

    name: str
    input: dict[str, Any]
    expect: dict[str, Any] | None = Field(
        None, description="Expected canonical record parts: id, source_time, fields, references, categories, owners"
    )
    expect_error: ExpectedError | None = None


class SourceSpec(StrictModel):
    connector: str = Field(description="Connector name, e.g. salesforce, hubspot, kingdee")
    object: str = Field(description="Source object, e.g. Account, company, sale.order")


class MappingFile(StrictModel):
    """One source object → one canonical entity."""

    kind: Literal["mapping"]
    name: str | None = Field(None, description="Defaults to the file name without .yaml")
    description: str | None = None
    source: SourceSpec
    entity: EntityType
    timezone: str | None = Field(None, description="IANA zone of the source's naive times, e.g. Asia/Shanghai")
    owner: str | None = Field(None, description="Default owner system for every field")
    id: shorthand(ValueSpec)  # type: ignore[valid-type]
    timestamp: shorthand(ValueSpec) | None = None  # type: ignore[valid-type]
    version: shorthand(ValueSpec) | None = Field(  # type: ignore[valid-type]
        None, description="A number the source increases with every change (a sequence or row version)"
    )
    filter: str | None = Field(None, description="Map only records for which this expression is true; others are skipped")
    fields: dict[str, shorthand(FieldSpec)] = Field(default_factory=dict)  # type: ignore[valid-type]
    lines: LinesSpec | None = None
    references: dict[str, ReferenceSpec] = Field(default_factory=dict)
    examples: list[Example] = Field(default_factory=list)


class GradeScaleFile(StrictModel):
    """The ordered canonical grade scale, lowest first."""

    kind: Literal["grade_scale"]
    name: str | None = Field(None, description="Defaults to the file name; mappings use the scale named grade_scale")
    description: str | None = None
    levels: list[str] = Field(min_length=2, description="Lowest first, e.g. [D, C, B, A, S]")


# ----------------------------------------------------------------------------- problems


def _hint(error: dict[str, Any], node: Any) -> str | None:
    """Mapping files' own wording: a value may be a path text or an object."""
    if error.get("type") in ("union_tag_invalid", "model_attributes_type") and not isinstance(node, (dict, list)):
        return f"expected a path text or an object, got {_describe(node)}"
    return None


def _describe(node: Any) -> str:
    if isinstance(node, list):
        return "a list"
    if node is None:
        return "nothing (null)"
    return f"{type(node).__name__} {node!r}"


def check_shape[M: BaseModel](doc: Any, file: str, model: type[M]) -> tuple[M | None, list[Problem]]:
    """Validate a loaded YAML document against a file model; every problem has file:line:column."""
    return validate(model, doc, file, hint=_hint)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _prune(doc: Any, loc: tuple[Any, ...]) -> bool:
    """Remove the node an error points at (so the rest of the file can still be checked)."""
    parent: Any = None
    key: Any = None
    node: Any = doc
    for item in loc:
        if isinstance(node, dict) and item in node:
            parent, key, node = node, item, node[item]
        elif isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node):
            parent, key, node = node, item, node[item]
    if parent is None:
        return False
    if isinstance(parent, list):
        del parent[key]
    else:
        del parent[key]
    return True


def check_shape_leniently(doc: Any, file: str, model: type[BaseModel]) -> tuple[BaseModel | None, BaseModel | None, list[Problem]]:
    """Like ``check_shape``, plus a model of the file without its broken parts.

    The second model lets the compiler check the meaning of everything else in the
    same pass, so an integrator sees every problem of the file at once.
    """
    checked, problems = check_shape(doc, file, model)
    if checked is not None:
        return checked, checked, problems
    pruned = _copy(doc)
    for _ in range(3):
        try:
            return None, model.model_validate(pruned), problems
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            if any(error["type"] == "missing" for error in errors):
                return None, None, problems
            if not all(_prune(pruned, tuple(error["loc"])) for error in errors):
                return None, None, problems
    return None, None, problems


def mapping_json_schema() -> dict[str, Any]:
    """JSON Schema for mapping files, with each entity's canonical field names offered for ``fields``."""
    schema = MappingFile.model_json_schema()
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    schema["title"] = "salesbridge mapping file"
    conditions = []
    for entity, entity_model in ENTITY_MODELS.items():
        names = [name for name in entity_model.model_fields if name != "lines"]
        conditions.append(
            {
                "if": {"properties": {"entity": {"const": entity}}, "required": ["entity"]},
                "then": {"properties": {"fields": {"propertyNames": {"enum": names}}}},
            }
        )
    schema["allOf"] = conditions
    return schema
