"""The base of every configuration file model, and the one translation of pydantic errors into Problems.

Each kind of configuration file (mapping, connector, subscribers, triggers ...) is a
pydantic model deriving from ``StrictModel``. ``validate`` checks a located YAML
document (chalicelib.config.yaml_lines) against such a model and turns every error
into a ``Problem`` that names file, line, column and the dotted field, with a message
an integrator can act on ("unknown field 'feilds'; did you mean 'fields'?").
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, get_args, overload

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from chalicelib.config.problems import Problem
from chalicelib.config.yaml_lines import LocatedDict, Position

ErrorDetails = dict[str, Any]
KEY_ERRORS = ("extra_forbidden", "missing", "union_tag_invalid", "union_tag_not_found")  # reported at the key, not its value
Hint = Callable[[ErrorDetails, Any], "str | None"]  # a model's own wording for some errors, or None


class StrictModel(BaseModel):
    """Configuration models: unknown keys are errors, values are immutable once loaded.

    ``defer_build``: a model's validator is built when first used, not at import. Nested models are
    built as part of the file models that contain them, so a cold start builds each schema once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


@overload
def validate[M: BaseModel](
    schema: type[M], doc: Any, filename: str, *, root: str = ..., hint: Hint | None = ..., models: list[type[BaseModel]] | None = ...
) -> tuple[M | None, list[Problem]]: ...


@overload
def validate[T](
    schema: TypeAdapter[T], doc: Any, filename: str, *, root: str = ..., hint: Hint | None = ..., models: list[type[BaseModel]] | None = ...
) -> tuple[T | None, list[Problem]]: ...


def validate(
    schema: type[BaseModel] | TypeAdapter[Any],
    doc: Any,
    filename: str,
    *,
    root: str = "",
    hint: Hint | None = None,
    models: list[type[BaseModel]] | None = None,
) -> tuple[Any, list[Problem]]:
    """The model of a located document, or the problems found (each with file:line:column and field).

    ``schema`` is a model class, or a TypeAdapter of a union of models (then ``models`` lists
    them, for "did you mean" hints); ``root`` prefixes every field name (a section's key).
    """
    try:
        if isinstance(schema, TypeAdapter):
            return schema.validate_python(doc), []
        return schema.model_validate(doc), []
    except ValidationError as exc:
        candidates = models if models is not None else ([] if isinstance(schema, TypeAdapter) else [schema])
        return None, problems_of(exc, doc, filename, candidates, root=root, hint=hint)


def problems_of(
    exc: ValidationError, doc: Any, filename: str, models: list[type[BaseModel]] | None = None, *, root: str = "", hint: Hint | None = None
) -> list[Problem]:
    problems: list[Problem] = []
    for error in exc.errors(include_url=False, include_input=False):
        problem = _problem(dict(error), doc, filename, models or [], root, hint)
        if problem not in problems:
            problems.append(problem)
    return problems


def problem_at(doc: Any, filename: str, path: tuple[str | int, ...], message: str, *, root: str = "") -> Problem:
    """A problem found after validation (a rule across fields or files), at the value ``path`` leads to."""
    parts, position, _, _ = _locate(doc, path, missing=True, at_value=True)
    return Problem(filename, position[0], position[1], _dotted(root, parts), message)


def _problem(error: ErrorDetails, doc: Any, filename: str, models: list[type[BaseModel]], root: str, hint: Hint | None) -> Problem:
    loc = tuple(error.get("loc", ()))
    kind = error.get("type")
    if loc and loc[-1] == "[key]":  # a dict key that is not allowed: report the key itself
        parts, position, node, container = _locate(doc, loc[:-1], missing=False, at_value=False)
        expected = error.get("ctx", {}).get("expected")
        unknown = f"unknown key {loc[-2]!r}" + (f"; expected one of {expected}" if expected else f": {error.get('msg')}")
        return Problem(filename, position[0], position[1], _dotted(root, parts), unknown)
    parts, position, node, container = _locate(doc, loc, missing=kind == "missing", at_value=kind not in KEY_ERRORS)
    message: str | None = hint(error, node) if hint else None
    if kind in ("union_tag_invalid", "union_tag_not_found") and message is None:
        tag = _tag_name(error)
        if tag is not None and isinstance(node, dict):
            parts = [*parts, tag]
            position = node.where(tag) if tag in node and hasattr(node, "where") else getattr(node, "position", position)
    if message is None:
        message = _message(error, node, parts, models, loc)
    return Problem(filename, position[0], position[1], _dotted(root, parts), message)


def _locate(doc: Any, loc: tuple[Any, ...], *, missing: bool, at_value: bool) -> tuple[list[str | int], Position, Any, Any]:
    """Follow an error location through the YAML: (field parts, position, node reached, its container).

    Elements that are not in the document are union tags pydantic adds (skipped), except
    the last element of a "missing" error: the key that is not there, reported at its parent.
    A wrong value is reported where the value starts (``at_value``), an unknown key at the key.
    """
    node: Any = doc
    container: Any = None
    position: Position = getattr(doc, "position", (1, 1))
    parts: list[str | int] = []
    for index, element in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(node, dict) and not isinstance(element, int) and element in node:
            if isinstance(node, LocatedDict):
                position = node.where_value(element) if at_value and _last_present(loc, index, node[element]) else node.where(element)
            parts.append(element)
            container, node = node, node[element]
        elif isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
            position = node.where(element) if hasattr(node, "where") else position
            parts.append(element)
            container, node = node, node[element]
        elif isinstance(node, dict) and isinstance(element, int) and element in node:
            position = node.where(element) if hasattr(node, "where") else position
            parts.append(element)
            container, node = node, node[element]
        elif missing and last and isinstance(node, dict):
            parts.append(element)
            position = getattr(node, "position", position)
    return parts, position, node, container


def _last_present(loc: tuple[Any, ...], index: int, value: Any) -> bool:
    """True when no later element of ``loc`` goes deeper into the document than ``value``."""
    for element in loc[index + 1 :]:
        if isinstance(value, dict) and element in value:
            return False
        if isinstance(value, list) and isinstance(element, int) and 0 <= element < len(value):
            return False
    return True


def _dotted(root: str, parts: list[str | int]) -> str:
    text = root
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _tag_name(error: ErrorDetails) -> str | None:
    name = str(error.get("ctx", {}).get("discriminator", "")).strip("'")
    return name if name.isidentifier() else None


def _message(error: ErrorDetails, node: Any, parts: list[str | int], models: list[type[BaseModel]], loc: tuple[Any, ...]) -> str:
    kind = error.get("type")
    ctx = error.get("ctx", {})
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else "?"
        allowed = _allowed_keys(models, loc[:-1])
        guess = difflib.get_close_matches(name, allowed, n=1)
        message = f"unknown field {name!r}"
        if guess:
            message += f"; did you mean {guess[0]!r}?"
        elif allowed:
            message += f" (expected one of: {', '.join(allowed)})"
        return message
    if kind == "missing":
        return f"missing required field {parts[-1]!r}" if parts else "missing required field"
    if kind == "union_tag_invalid":
        tag = _tag_name(error)
        if tag is None:
            return f"expected text or an object, got {_describe(node)}"
        value = node.get(tag) if isinstance(node, dict) else ctx.get("tag")
        return f"unknown {tag} {value!r}; expected one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"missing {_tag_name(error) or 'type'}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected an object (key: value lines), got {_describe(node)}"
    if kind == "string_type":
        return f"expected text, got {_describe(node)}"
    if kind == "list_type":
        return f"expected a list, got {_describe(node)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {_describe(node)}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}, got {node!r}"
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def _describe(node: Any) -> str:
    if isinstance(node, dict):
        return "an object"
    if isinstance(node, list):
        return "a list"
    if node is None:
        return "nothing (null)"
    return f"{type(node).__name__} {node!r}"


def _allowed_keys(models: list[type[BaseModel]], loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at ``loc`` accepts (for "did you mean" hints); [] when it cannot be told."""
    candidates = list(models)
    for element in loc:
        if isinstance(element, int) or not candidates:
            continue
        with_field = [c for c in candidates if element in c.model_fields]
        if with_field:
            candidates = _models_in(with_field[0].model_fields[element].annotation)
            continue
        tagged = [c for c in candidates if element in (c.__name__, *_literal_values(c))]
        if tagged:
            candidates = tagged[:1]
        # otherwise: a key of a dict of models, or a tag pydantic added; the candidates stay
    if len(candidates) != 1:
        return []
    return list(candidates[0].model_fields)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        found += [m for m in _models_in(arg) if m not in found]
    return found


def _literal_values(model: type[BaseModel]) -> list[str]:
    """Values of the model's Literal fields (a discriminated union's tag)."""
    values: list[str] = []
    for field in model.model_fields.values():
        args = get_args(field.annotation)
        if args and all(isinstance(a, str) for a in args) and getattr(field.annotation, "__origin__", None) is not None:
            values += [str(a) for a in args]
    return values
