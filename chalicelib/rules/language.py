"""The rule language: the safe expressions (chalicelib.domain.expressions) with what rules need.

- A *condition* (``when:``) reads the entity the rule is on, by its name or by bare field names
  (``lead.status == "new"`` or ``status == "new"``), what the fields were before this record
  (``previous.status``), whether the entity is new (``created``), and which fields this record
  changed (``changed(status)``).
- A *filter* (the ``where`` of ``expect:``, of a window's ``count(...)``, of a gate's activity)
  reads the occurrence's own fields, bare or by entity name (``type == "call"``).
- A *window* condition is one aggregate compared with a threshold:
  ``count(activity, type == "page_view", within="24h", per="customer_id") >= 3`` or
  ``sum(activity.duration_seconds, type == "call", within="7d") >= 3600``.

A name of the entity that is not one of its canonical fields is refused at its column.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.domain.canonical import ENTITY_MODELS
from chalicelib.domain.expressions import Compiler, Evaluator, Expression, compile_expression
from chalicelib.errors import EvaluationError, ExpressionError

Fields = Mapping[str, Any]
CHANGED = "_changed"  # the env key of the fields this record changed (not reachable by name)


def field_names(entity: str) -> frozenset[str]:
    return frozenset(ENTITY_MODELS[entity].model_fields)


class Predicate:
    """A compiled condition or filter: true, or false (also when it cannot be evaluated on this data)."""

    __slots__ = ("source", "_expression")

    def __init__(self, source: str, expression: Expression):
        self.source = source
        self._expression = expression

    def __call__(self, env: Mapping[str, Any]) -> bool:
        try:
            return self._expression(env) is True
        except EvaluationError:
            return False

    def __repr__(self) -> str:
        return f"Predicate({self.source!r})"


def _changed_form(entity: str) -> Callable[[ast.Call, Compiler], Evaluator]:
    fields = field_names(entity)

    def changed(node: ast.Call, compiler: Compiler) -> Evaluator:
        if len(node.args) != 1 or node.keywords:
            raise compiler.fail(node, "changed() takes one field, e.g. changed(status)")
        arg = node.args[0]
        if isinstance(arg, ast.Name):
            name = arg.id
        elif isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == entity:
            name = arg.attr
        elif isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            name = arg.value
        else:
            raise compiler.fail(arg, f"changed() takes a field of {entity}, e.g. changed(status)")
        if name not in fields:
            raise compiler.fail(arg, f"{entity} has no field {name!r} (fields: {', '.join(sorted(fields))})")
        return lambda env: name in env.get(CHANGED, ())

    return changed


def _check_attributes(source: str, names: Mapping[str, frozenset[str]]) -> None:
    """``lead.stauts``: an entity (or ``previous``) has only its canonical fields."""
    tree = ast.parse(source.strip(), mode="eval")
    lead = len(source) - len(source.lstrip())
    encoded = source.strip().encode("utf-8")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names:
            allowed = names[node.value.id]
            if node.attr not in allowed:
                end = node.end_col_offset if node.end_col_offset is not None else node.col_offset
                column = len(encoded[:end].decode("utf-8", errors="ignore")) - len(node.attr) + 1 + lead
                raise ExpressionError(f"{node.value.id} has no field {node.attr!r} (fields: {', '.join(sorted(allowed))})", column)


def compile_condition(source: str, entity: str) -> Predicate:
    """A ``when:`` condition on ``entity``; raises ExpressionError (with its column)."""
    fields = field_names(entity)
    names = {entity, "previous", "created", *fields}
    expression = compile_expression(source, names, forms={"changed": _changed_form(entity)})
    _check_attributes(source, {entity: fields, "previous": fields})
    return Predicate(source, expression)


def compile_filter(source: str, entity: str) -> Predicate:
    """A filter on one occurrence of ``entity`` (an activity, say); raises ExpressionError."""
    fields = field_names(entity)
    expression = compile_expression(source, {entity, *fields})
    _check_attributes(source, {entity: fields})
    return Predicate(source, expression)


def condition_env(entity: str, current: Fields, previous: Fields | None, changed: Collection[str]) -> dict[str, Any]:
    return {**current, entity: dict(current), "previous": dict(previous or {}), "created": previous is None, CHANGED: frozenset(changed)}


def filter_env(entity: str, fields: Fields) -> dict[str, Any]:
    return {**fields, entity: dict(fields)}


# ----------------------------------------------------------------------------- window conditions


@dataclass(frozen=True)
class WindowSpec:
    aggregate: str  # count | sum
    entity: str
    field: str | None  # what sum() adds up
    where: Predicate | None
    within: str  # as written, e.g. "24h"
    per: str
    late: str | None
    threshold: Decimal
    strict: bool  # '>' rather than '>='


AGGREGATES = ("count", "sum")


def is_window(source: str) -> bool:
    """Whether a condition is a window condition (it calls count() or sum() of an entity)."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        return False
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in AGGREGATES and node.args
        for node in ast.walk(tree)
    )


def parse_window(source: str, default_per: str = "customer_id") -> WindowSpec:
    """``count(activity, <filter>, within="24h", per="customer_id", late="24h") >= 3``; raises ExpressionError."""
    text = source.strip()
    lead = len(source) - len(source.lstrip())
    encoded = text.encode("utf-8")

    def column(node: ast.AST) -> int:
        return len(encoded[: getattr(node, "col_offset", 0)].decode("utf-8", errors="ignore")) + 1 + lead

    def fail(node: ast.AST, message: str) -> ExpressionError:
        return ExpressionError(message, column(node))

    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error: {exc.msg}", (exc.offset or 1) + lead) from None
    shape = 'a window condition is count(<entity>, <filter>, within="24h") >= N, or sum(<entity>.<field>, ...) >= N'
    body = tree.body
    if not (isinstance(body, ast.Compare) and len(body.ops) == 1):
        raise fail(body, shape)
    left, op, right = body.left, body.ops[0], body.comparators[0]
    if isinstance(right, ast.Call) and isinstance(left, ast.Constant):  # 3 <= count(...)
        flipped = {ast.LtE: ast.GtE, ast.Lt: ast.Gt}.get(type(op))
        if flipped is None:
            raise fail(body, shape + " (the condition must become true as occurrences add up)")
        left, right, op = right, left, flipped()
    if not isinstance(op, (ast.GtE, ast.Gt)):
        raise fail(body, "use >= or >: the condition must become true as occurrences add up")
    if not (isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id in AGGREGATES):
        raise fail(left, shape)
    threshold = _number(right, fail)
    aggregate = left.func.id
    if not left.args or len(left.args) > 2:
        raise fail(left, f"{aggregate}() takes the entity (or entity.field for sum), an optional filter, and within=")
    target = left.args[0]
    field: str | None = None
    if aggregate == "count":
        if not isinstance(target, ast.Name) or target.id not in ENTITY_MODELS:
            raise fail(target, f"count() counts an entity: one of {', '.join(ENTITY_MODELS)}")
        entity = target.id
    else:
        if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id in ENTITY_MODELS):
            raise fail(target, "sum() adds up a field: sum(<entity>.<field>, ...)")
        entity, field = target.value.id, target.attr
        if field not in field_names(entity):
            raise fail(target, f"{entity} has no field {field!r}")
    where = None
    if len(left.args) == 2:
        filter_node = left.args[1]
        segment = ast.get_source_segment(text, filter_node) or ""
        try:
            where = compile_filter(segment, entity)
        except ExpressionError as exc:
            raise ExpressionError(exc.message, column(filter_node) + exc.column - 1) from None
    options: dict[str, str] = {}
    for keyword in left.keywords:
        if keyword.arg not in ("within", "per", "late"):
            raise fail(keyword.value, f"unknown option {keyword.arg!r} of {aggregate}(): within, per, late")
        if not (isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str)):
            raise fail(keyword.value, f'{keyword.arg}= takes text, e.g. {keyword.arg}="24h"')
        options[keyword.arg] = keyword.value.value
    if "within" not in options:
        raise fail(left, f'{aggregate}() needs within=, e.g. within="24h"')
    per = options.get("per", default_per)
    if per not in field_names(entity):
        raise fail(left, f"per={per!r}: {entity} has no such field (the key the occurrences are counted per)")
    return WindowSpec(aggregate, entity, field, where, options["within"], per, options.get("late"), threshold, isinstance(op, ast.Gt))


def _number(node: ast.AST, fail: Callable[[ast.AST, str], ExpressionError]) -> Decimal:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        try:
            return Decimal(str(node.value))
        except InvalidOperation:
            pass
    raise fail(node, "the threshold must be a number")
