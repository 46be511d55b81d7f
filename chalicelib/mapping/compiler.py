"""Compile checked mapping files into fast callables, and load a whole mapping set.

Every file is checked for shape (``spec``), then each part is compiled once:
paths become getters, transforms become functions, expressions become closures,
and each canonical field becomes one small closure that reads, transforms,
coerces and stores its value. ``CompiledMapping.apply`` then runs a flat list of
those closures: no configuration is looked up per record, and pydantic is not
run in the hot path (records are built with ``model_construct``; the fields were
already coerced to the canonical types).

Every problem found in every file is collected and raised together as one
``ConfigError`` naming file:line:column and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel

from chalicelib.config.problems import Problem
from chalicelib.config.yaml_lines import LocatedDict, LocatedList, load_yaml_file
from chalicelib.domain.canonical import ENTITY_MODELS, CanonicalRecord, EntityType, OrderLine, SourceRef
from chalicelib.domain.expressions import Expression, compile_expression
from chalicelib.domain.identity import SAME_AS
from chalicelib.errors import (
    ConfigError,
    EvaluationError,
    ExpressionError,
    PathError,
    RecordMappingError,
    TransformConfigError,
    ValueProblem,
)
from chalicelib.mapping.code_lists import CodeList, load_code_lists
from chalicelib.mapping.paths import MISSING, compile_getter, parse_path
from chalicelib.mapping.spec import (
    Example,
    FieldSpec,
    GradeScaleFile,
    LinesSpec,
    MappingFile,
    ReferenceSpec,
    ValueSpec,
    check_shape,
    check_shape_leniently,
)
from chalicelib.mapping.transforms import (
    BuildContext,
    Transform,
    build_transform,
    load_timezone,
    parse_iso8601,
    to_bool,
    to_decimal,
    to_string,
)

OWNED_KINDS = ("mapping", "grade_scale", "code_list")
DEFAULT_SCALE_NAME = "grade_scale"

Reader = Callable[[Any, Any], Any]  # (source object, whole record) -> value | None | MISSING
FieldRunner = Callable[[Any, Any, dict[str, Any]], None]
CompiledReference = tuple[str, "ReferenceSpec", Callable[[Any], "str | None"], str]  # name, spec, read its id, lineage


# ----------------------------------------------------------------------------- results


@dataclass
class CompiledMapping:
    """One mapping file, compiled. ``apply`` is the only thing the pipeline calls per record."""

    name: str
    version: str
    entity: str
    connector: str
    object: str
    file: str
    examples: list[Example]
    description: str | None = None
    categories: dict[str, str] = field(default_factory=dict)  # canonical field -> data category
    rules: dict[str, str] = field(default_factory=dict)  # canonical field -> "file:line" of the rule that makes it
    owners: dict[str, str] = field(default_factory=dict)  # canonical field -> the system the mapping says owns it
    links: bool = False  # declares `references: {same_as: …}`: its records may join another system's
    _run: Callable[[dict[str, Any], str], CanonicalRecord] = field(repr=False, default=None)  # type: ignore[assignment]

    def apply(self, payload: dict[str, Any], *, connector: str | None = None) -> CanonicalRecord:
        """Map one source payload; raises ``RecordMappingError`` only, never anything else."""
        if type(payload) is not dict and not isinstance(payload, dict):
            raise RecordMappingError(
                "not_an_object",
                f"expected a JSON object for {self.connector} {self.object}, got {type(payload).__name__} (mapping {self.file})",
            )
        try:
            return self._run(payload, connector or self.connector)
        except RecordMappingError:
            raise
        except Exception as exc:  # a bug must still reach the quarantine as a message, not a traceback
            raise RecordMappingError(
                "internal_error",
                f"mapping {self.file} failed unexpectedly on this record ({type(exc).__name__}: {exc}); please report it with the record",
            ) from None


@dataclass
class MappingSet:
    """All compiled mappings, found by (connector, object)."""

    mappings: dict[str, CompiledMapping]
    grade_scale: list[str]
    code_lists: dict[str, CodeList] = field(default_factory=dict)
    _by_source: dict[tuple[str, str], CompiledMapping] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_source = {(m.connector, m.object): m for m in self.mappings.values()}

    def find(self, connector: str, object: str) -> CompiledMapping | None:  # noqa: A002 - the interface's word
        return self._by_source.get((connector, object))

    def linked_entities(self) -> frozenset[str]:
        """Entities some mapping links across systems with ``same_as``."""
        return frozenset(m.entity for m in self.mappings.values() if m.links)

    def by_file(self, file: str) -> CompiledMapping | None:
        wanted = Path(file).resolve()
        for mapping in self.mappings.values():
            if Path(mapping.file).resolve() == wanted:
                return mapping
        return None


# ----------------------------------------------------------------------------- canonical types


def _kind_of(annotation: Any) -> str:
    """The coercion a canonical field needs: str, decimal, bool, datetime or lines."""
    if typing.get_origin(annotation) is list:
        return "lines"
    args = typing.get_args(annotation)
    if args:  # X | None, Annotated[X, ...]
        for arg in args:
            if arg is not type(None) and not isinstance(arg, (str, int)) and (isinstance(arg, type) or typing.get_args(arg)):
                kind = _kind_of(arg)
                if kind != "any":
                    return kind
        return "any"
    if annotation is AwareDatetime:
        return "datetime"
    if isinstance(annotation, type):
        for base, kind in ((bool, "bool"), (Decimal, "decimal"), (datetime, "datetime"), (str, "str")):
            if issubclass(annotation, base):
                return kind
    return "any"


def _patterns_of(info: Any) -> str | None:
    for item in info.metadata:
        pattern = getattr(item, "pattern", None)
        if pattern:
            return str(pattern)
    return None


@dataclass(frozen=True)
class CanonicalField:
    name: str
    kind: str
    required: bool  # required by the canonical model (only order lines have such fields)
    pattern: str | None


def canonical_fields(model: type[BaseModel]) -> dict[str, CanonicalField]:
    return {
        name: CanonicalField(name, _kind_of(info.annotation), info.is_required(), _patterns_of(info))
        for name, info in model.model_fields.items()
    }


ENTITY_FIELDS = {entity: canonical_fields(model) for entity, model in ENTITY_MODELS.items()}
LINE_FIELDS = canonical_fields(OrderLine)


def _coercer(kind: str, zone: tzinfo | None) -> Transform:
    if kind == "str":
        return to_string
    if kind == "decimal":
        return to_decimal
    if kind == "bool":
        return to_bool
    if kind == "datetime":
        return lambda value: parse_iso8601(value, zone)
    return lambda value: value


# ----------------------------------------------------------------------------- file compiler


def _plain(value: Any) -> Any:
    """Located YAML data as plain JSON-like data (for hashing and examples)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def mapping_version(doc: dict[str, Any]) -> str:
    """Short sha256 of the normalised content (comments, key order and examples do not count)."""
    content = {key: value for key, value in doc.items() if key != "examples"}
    text = json.dumps(_plain(content), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


class _FileCompiler:
    """Compiles one checked mapping file; collects problems instead of stopping at the first."""

    def __init__(
        self,
        file: str,
        doc: LocatedDict,
        spec: MappingFile,
        grade_scale: list[str] | None,
        code_lists: dict[str, CodeList] | None = None,
        systems: dict[str, str] | None = None,
    ):
        self.code_lists = code_lists or {}
        self.system = (systems or {}).get(spec.source.connector, spec.source.connector)  # whose codes of a code list apply
        self.file = file
        self.doc = doc
        self.spec = spec
        self.grade_scale = grade_scale
        self.problems: list[Problem] = []
        self.name = spec.name or Path(file).stem
        self.connector = spec.source.connector
        self.zone: tzinfo | None = None

    # -- problems ---------------------------------------------------------------------------
    def node(self, keys: tuple[Any, ...]) -> tuple[Any, Any]:
        """(container, key) of the deepest existing node along ``keys``."""
        container: Any = None
        key: Any = None
        current: Any = self.doc
        for item in keys:
            if isinstance(current, (dict, list)) and (item in current if isinstance(current, dict) else 0 <= item < len(current)):
                container, key, current = current, item, current[item]
            else:
                break
        return container, key

    def where(self, keys: tuple[Any, ...], value: bool = False) -> tuple[int, int]:
        container, key = self.node(keys)
        if container is None:
            return getattr(self.doc, "position", (1, 1))
        if isinstance(container, LocatedDict):
            return container.where_value(key) if value else container.where(key)
        if isinstance(container, LocatedList):
            return container.where(key)
        return (1, 1)

    def problem(self, keys: tuple[Any, ...], message: str, value: bool = False, column_offset: int = 0) -> None:
        line, column = self.where(keys, value)
        dotted = "".join(f"[{k}]" if isinstance(k, int) else ("." if i else "") + str(k) for i, k in enumerate(keys))
        self.problems.append(Problem(self.file, line, column + column_offset, dotted, message))

    def line_of(self, keys: tuple[Any, ...]) -> int:
        return self.where(keys)[0]

    # -- building blocks ----------------------------------------------------------------------
    def expression(self, source: str, names: set[str], keys: tuple[Any, ...]) -> Expression | None:
        try:
            return compile_expression(source, names=names)
        except ExpressionError as exc:
            self.problem(keys, f"invalid expression at column {exc.column} of the expression: {exc.message}", value=True)
            return None

    def getter(self, path: str, keys: tuple[Any, ...]) -> Callable[[Any], Any] | None:
        try:
            return compile_getter(parse_path(path))
        except PathError as exc:
            self.problem(keys, f"invalid path {path!r} at column {exc.column} of the path: {exc.message}", value=True)
            return None

    def reader(self, spec: ValueSpec, keys: tuple[Any, ...], names: set[str]) -> tuple[Reader | None, str]:
        """How to read the raw value of ``spec``, and its lineage text."""
        given = [key for key in ("path", "value", "expr") if key in spec.model_fields_set]
        if len(given) != 1:
            what = "none of" if not given else "more than one of"
            self.problem(keys, f"{what} path, value, expr given: a field needs exactly one")
            return None, ""
        if spec.path is not None and isinstance(spec.path, str):
            getter = self.getter(spec.path, keys + ("path",))
            if getter is None:
                return None, ""
            read_path = lambda source, record: getter(source)  # noqa: E731
            read_path.getter = getter  # type: ignore[attr-defined]  # lets the field runner skip this wrapper
            return read_path, spec.path
        if isinstance(spec.path, list):
            getters = [self.getter(path, keys + ("path", index)) for index, path in enumerate(spec.path)]
            if not spec.path or any(g is None for g in getters):
                if not spec.path:
                    self.problem(keys + ("path",), "an empty list of paths")
                return None, ""

            def read_many(source: Any, record: Any) -> Any:
                values = [getter(source) for getter in getters]  # type: ignore[misc]
                if all(value is MISSING for value in values):
                    return MISSING
                return [None if value is MISSING else value for value in values]

            return read_many, " + ".join(spec.path)
        if "value" in spec.model_fields_set:
            constant = Decimal(str(spec.value)) if isinstance(spec.value, float) else spec.value
            if isinstance(constant, (dict, list)):
                self.problem(keys + ("value",), "a constant must be a single value (text, number, true/false)")
                return None, ""
            return (lambda source, record: constant), f"value: {constant}"
        if spec.expr is None:
            self.problem(keys + ("expr",), "expected an expression text")
            return None, ""
        expression = self.expression(spec.expr, names, keys + ("expr",))
        if expression is None:
            return None, ""
        source_text = spec.expr
        if "line" in names:

            def evaluate_line(source: Any, record: Any) -> Any:
                try:
                    return expression({"record": record, "line": source})
                except EvaluationError as exc:
                    raise ValueProblem("expression_error", f"expression {source_text!r} failed: {exc}") from None

            return evaluate_line, f"expr: {spec.expr}"

        def evaluate(source: Any, record: Any) -> Any:
            try:
                return expression({"record": record})
            except EvaluationError as exc:
                raise ValueProblem("expression_error", f"expression {source_text!r} failed: {exc}") from None

        return evaluate, f"expr: {spec.expr}"

    def steps(self, spec: ValueSpec, keys: tuple[Any, ...], ctx: BuildContext) -> tuple[list[Transform], bool] | None:
        """Built transforms (and whether one of them is ``required``)."""
        built: list[Transform] = []
        required = False
        ok = True
        for index, step in enumerate(spec.transforms):
            try:
                name, function = build_transform(step, ctx)
            except TransformConfigError as exc:
                where = keys + ("transforms", index)
                extra = f" (column {exc.column} of the expression)" if exc.column else ""
                self.problem(where, exc.message + extra)
                ok = False
                continue
            required = required or name == "required"
            built.append(function)
        return (built, required) if ok else None

    # -- one field ----------------------------------------------------------------------------
    def field(
        self, name: str, raw: Any, keys: tuple[Any, ...], target: dict[str, Any], names: set[str]
    ) -> tuple[FieldRunner, str, FieldSpec] | None:
        spec = FieldSpec(path=raw) if isinstance(raw, str) else raw
        canonical = target[name]
        allowed = tuple(self.grade_scale or ()) if (self.spec.entity == "customer" and name == "grade" and names == {"record"}) else None
        if allowed is not None and not self.grade_scale:
            self.problem(keys, "no grade scale is declared: add a `kind: grade_scale` file (e.g. mappings/grade_scale.yaml)")
            return None
        ctx = BuildContext(timezone=self.zone, allowed_values=allowed, field=name, code_lists=self.code_lists, system=self.system)
        read, lineage = self.reader(spec, keys, names)
        built = self.steps(spec, keys, ctx)
        when = self.expression(spec.when, names, keys + ("when",)) if spec.when is not None else None
        if read is None or built is None or (spec.when is not None and when is None):
            return None
        steps, step_required = built
        coerce = _coercer(canonical.kind, self.zone)
        check = self.check_for(canonical, allowed)
        if "value" in spec.model_fields_set and not steps:
            self.check_constant(spec.value, coerce, check, keys + ("value",))
        required = spec.required or step_required
        runner = _field_runner(
            name,
            read,
            tuple(steps),
            coerce,
            check,
            required,
            spec.nullable,
            when,
            "line" in names,
            _Context(self.name, self.file, self.connector, name, lineage, self.line_of(keys)),
        )
        return runner, lineage, spec

    def check_for(self, canonical: CanonicalField, allowed: tuple[str, ...] | None) -> Callable[[Any], None] | None:
        if allowed is not None:
            levels = frozenset(allowed)
            shown = ", ".join(allowed)

            def check_grade(value: Any) -> None:
                if value not in levels:
                    raise ValueProblem(
                        "unknown_value", f"grade {value!r} is not on the grade scale ({shown})", "map it with `map:` on this field"
                    )

            return check_grade
        if canonical.pattern:
            regex = re.compile(canonical.pattern)

            def check_pattern(value: Any) -> None:
                if not isinstance(value, str) or not regex.match(value):
                    raise ValueProblem("bad_type", f"{value!r} does not match the expected form {canonical.pattern}")

            return check_pattern
        return None

    def check_constant(self, value: Any, coerce: Transform, check: Callable[[Any], None] | None, keys: tuple[Any, ...]) -> None:
        try:
            coerced = coerce(Decimal(str(value)) if isinstance(value, float) else value)
            if check is not None and coerced is not None:
                check(coerced)
        except ValueProblem as exc:
            self.problem(keys, f"this value can never be stored: {exc.message}", value=True)

    # -- the whole file -----------------------------------------------------------------------
    def compile(self, version_label: str) -> CompiledMapping | None:
        spec = self.spec
        if spec.timezone is not None:
            try:
                self.zone = load_timezone(spec.timezone)
            except TransformConfigError as exc:
                self.problem(("timezone",), exc.message, value=True)
        record_names = {"record"}
        target = ENTITY_FIELDS[spec.entity]

        record_id = self.single_value(spec.id, ("id",), to_string, "id")
        timestamp = version = None
        if spec.timestamp is not None:
            timestamp = self.single_value(spec.timestamp, ("timestamp",), _coercer("datetime", self.zone), "timestamp")
        if spec.version is not None:
            version = self.single_value(spec.version, ("version",), to_decimal, "version")
        if spec.timestamp is None and spec.version is None:
            self.problem(
                ("id",),
                "give `timestamp:` (when the record changed at the source), `version:` (a number the source "
                "increases with every change), or both: they put updates in order",
            )
        keep = self.expression(spec.filter, record_names, ("filter",)) if spec.filter is not None else None

        runners: list[FieldRunner] = []
        rules: dict[str, str] = {}
        lineage: dict[str, str] = {}
        categories: dict[str, str] = {}
        owners: dict[str, str] = {}
        for name, raw in spec.fields.items():
            keys = ("fields", name)
            if name not in target or target[name].kind == "lines":
                hint = " (map order lines under `lines:`)" if name == "lines" else ""
                self.problem(
                    keys,
                    f"unknown canonical field {name!r} for {spec.entity}{hint}; "
                    f"expected one of: {', '.join(n for n in target if n != 'lines')}",
                )
                continue
            if name in spec.references:
                self.problem(keys, f"{name!r} is also declared under references: keep one")
                continue
            built = self.field(name, raw, keys, target, record_names)
            if built is None:
                continue
            runner, field_lineage, field_spec = built
            runners.append(runner)
            lineage[name] = field_lineage
            rules[name] = f"{self.file}:{self.line_of(keys)}"
            if field_spec.category:
                categories[name] = field_spec.category
            owner = field_spec.owner or spec.owner
            if owner:
                owners[name] = owner

        if spec.lines is not None:
            lines_runner = self.lines(spec.lines, target)
            if lines_runner is not None:
                runners.append(lines_runner)
                lineage["lines"] = spec.lines.path or "(the record itself)"
                if spec.owner:
                    owners["lines"] = spec.owner

        references = []
        for ref_name, ref in spec.references.items():
            compiled = self.reference(ref_name, ref, target)
            if compiled is not None:
                references.append(compiled)
                lineage[ref_name] = compiled[3]

        for index, example in enumerate(spec.examples):
            self.check_example_input(example.input, ("examples", index, "input"))
            if example.expect is None and example.expect_error is None:
                self.problem(("examples", index), "an example needs `expect:` or `expect_error:`")

        if self.problems or record_id is None or (timestamp is None and version is None):
            return None
        run = _record_builder(
            self.name,
            version_label,
            spec.entity,
            record_id,
            _Order(timestamp, version),
            keep,
            tuple(runners),
            tuple(references),
            lineage,
            categories,
            owners,
            _Context(self.name, self.file, self.connector, "", "", 1),
        )
        return CompiledMapping(
            name=self.name,
            version=version_label,
            entity=spec.entity,
            connector=self.connector,
            object=spec.source.object,
            file=self.file,
            examples=list(spec.examples),
            description=spec.description,
            categories=dict(categories),
            rules=rules,
            owners=dict(owners),
            links=any(ref[0] == SAME_AS for ref in references),
            _run=run,
        )

    def single_value(self, raw: Any, keys: tuple[Any, ...], coerce: Transform, label: str) -> Callable[[Any], Any] | None:
        """The record id or timestamp: always required."""
        spec = ValueSpec(path=raw) if isinstance(raw, str) else raw
        read, lineage = self.reader(spec, keys, {"record"})
        built = self.steps(spec, keys, BuildContext(timezone=self.zone, field=label))
        if read is None or built is None:
            return None
        steps = tuple(built[0])
        context = _Context(self.name, self.file, self.connector, label, lineage, self.line_of(keys))

        def value_of(record: Any) -> Any:
            try:
                value = read(record, record)
                if value is MISSING or value is None:
                    raise ValueProblem("missing_required", f"the record's {label} is missing")
                for step in steps:
                    value = step(value)
                value = coerce(value)
                if value is None or value == "":
                    raise ValueProblem("missing_required", f"the record's {label} is empty")
                return value
            except ValueProblem as problem:
                raise context.error(problem) from None

        return value_of

    def lines(self, spec: LinesSpec, target: dict[str, Any]) -> FieldRunner | None:
        keys: tuple[Any, ...] = ("lines",)
        if "lines" not in target:
            self.problem(keys, f"{self.spec.entity} has no lines; remove `lines:`")
            return None
        getter = self.getter(spec.path, keys + ("path",)) if spec.path is not None else None
        if spec.path is not None and getter is None:
            return None
        names = {"record", "line"}
        keep = self.expression(spec.filter, names, keys + ("filter",)) if spec.filter is not None else None
        runners: list[FieldRunner] = []
        for name, raw in spec.fields.items():
            field_keys = keys + ("fields", name)
            if name not in LINE_FIELDS:
                self.problem(field_keys, f"unknown order-line field {name!r}; expected one of: {', '.join(LINE_FIELDS)}")
                continue
            built = self.field(name, raw, field_keys, LINE_FIELDS, names)
            if built is not None:
                runners.append(built[0])
        missing = [name for name, f in LINE_FIELDS.items() if f.required and name not in spec.fields]
        if missing:
            self.problem(keys + ("fields",), f"order lines need {', '.join(missing)}: map them here")
        needed = tuple(name for name, f in LINE_FIELDS.items() if f.required)
        context = _Context(self.name, self.file, self.connector, "lines", spec.path or "", self.line_of(keys))
        return _lines_runner(getter, keep, tuple(runners), needed, context)

    def reference(self, name: str, spec: ReferenceSpec, target: dict[str, Any]) -> CompiledReference | None:
        keys: tuple[Any, ...] = ("references", name)
        if name == SAME_AS:
            if spec.entity not in (None, self.spec.entity):
                self.problem(keys + ("entity",), f"same_as links two records of one entity ({self.spec.entity})", value=True)
                return None
            if spec.connector in (None, self.connector):
                self.problem(keys, "same_as names another system's record of this entity: give its `connector:` and `id:`")
                return None
            spec = spec.model_copy(update={"entity": self.spec.entity})
        elif spec.entity is None:
            self.problem(keys, f"give the `entity:` that {name!r} points at (e.g. customer)")
            return None
        if name not in target and name != SAME_AS:
            self.problem(keys, f"unknown canonical field {name!r} for {self.spec.entity}; a reference fills a field such as customer_id")
            return None
        id_spec = ValueSpec(path=spec.id) if isinstance(spec.id, str) else spec.id
        read, lineage = self.reader(id_spec, keys + ("id",), {"record"})
        built = self.steps(id_spec, keys + ("id",), BuildContext(timezone=self.zone, field=name))
        if read is None or built is None:
            return None
        context = _Context(self.name, self.file, self.connector, name, lineage, self.line_of(keys))
        return (name, spec, _reference_reader(read, tuple(built[0]), spec.required or built[1], context), lineage)

    def check_example_input(self, value: Any, keys: tuple[Any, ...]) -> None:
        """YAML turns unquoted dates into date objects; a JSON payload never has them."""
        if isinstance(value, (datetime, date)):
            self.problem(keys, "quote this time in the example (YAML reads an unquoted time as a date, JSON never does)", value=True)
        elif isinstance(value, dict):
            for key, item in value.items():
                self.check_example_input(item, keys + (key,))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.check_example_input(item, keys + (index,))


# ----------------------------------------------------------------------------- runtime closures


@dataclass(frozen=True)
class _Context:
    """What an error message needs to tell an integrator where to look."""

    mapping: str
    file: str
    connector: str
    field: str
    path: str
    line: int

    def error(self, problem: ValueProblem, index: int | None = None) -> RecordMappingError:
        what = f"field '{self.field}'" if self.field else "record"
        if index is not None:
            what += f" of line {index}"
        source = f" from {self.path}" if self.path else ""
        hint = problem.hint or "check the source data or edit the mapping"
        message = f"{problem.message} — {what}{source} (connector {self.connector}); {hint} in {self.file}:{self.line}"
        return RecordMappingError(problem.code, message, field=self.field, path=self.path)


def _field_runner(
    name: str,
    read: Reader,
    steps: tuple[Transform, ...],
    coerce: Transform,
    check: Callable[[Any], None] | None,
    required: bool,
    nullable: bool,
    when: Expression | None,
    in_line: bool,
    context: _Context,
) -> FieldRunner:
    """One canonical field: read → transforms → coerce → check → store (absent stays absent)."""
    getter = getattr(read, "getter", None)
    if getter is not None and when is None and check is None and not required:
        return _simple_runner(name, getter, steps, coerce, nullable, context)

    def run(source: Any, record: Any, out: dict[str, Any]) -> None:
        try:
            if when is not None:
                env = {"record": record, "line": source} if in_line else {"record": record}
                try:
                    if not when(env):
                        return
                except EvaluationError as exc:
                    raise ValueProblem("expression_error", f"`when` failed: {exc}") from None
            value = read(source, record)
            if value is MISSING:
                if required:
                    raise ValueProblem("missing_required", "required value is absent")
                return
            for step in steps:
                value = step(value)
            if value is not None:
                value = coerce(value)
            if value is None:
                if required:
                    raise ValueProblem("missing_required", "required value is null")
                if nullable:
                    out[name] = None
                return
            if check is not None:
                check(value)
            out[name] = value
        except ValueProblem as problem:
            raise context.error(problem) from None

    return run


def _simple_runner(
    name: str, get: Callable[[Any], Any], steps: tuple[Transform, ...], coerce: Transform, nullable: bool, context: _Context
) -> FieldRunner:
    """The common case (a path, maybe transforms, nothing conditional), with no step it does not need."""
    if not steps:

        def run_plain(source: Any, record: Any, out: dict[str, Any]) -> None:
            try:
                value = get(source)
                if value is MISSING:
                    return
                if value is not None:
                    out[name] = coerce(value)
                elif nullable:
                    out[name] = None
            except ValueProblem as problem:
                raise context.error(problem) from None

        run_plain.plain = (name, get, coerce, nullable, context)  # type: ignore[attr-defined]  # for inlining in lines
        return run_plain

    def run_steps(source: Any, record: Any, out: dict[str, Any]) -> None:
        try:
            value = get(source)
            if value is MISSING:
                return
            for step in steps:
                value = step(value)
            if value is not None:
                out[name] = coerce(value)
            elif nullable:
                out[name] = None
        except ValueProblem as problem:
            raise context.error(problem) from None

    return run_steps


def _lines_runner(
    getter: Callable[[Any], Any] | None,
    keep: Expression | None,
    runners: tuple[FieldRunner, ...],
    needed: tuple[str, ...],
    context: _Context,
) -> FieldRunner:
    """Order lines, item by item; each item must give every required line field.

    Plain fields (a path, no transforms) are read in one inline loop: this is the
    hottest loop of the engine (an order has many lines).
    """
    plain = tuple(getattr(runner, "plain") for runner in runners if hasattr(runner, "plain"))  # noqa: B009 - plain runners carry it
    others = tuple(runner for runner in runners if not hasattr(runner, "plain"))

    def run(source: Any, record: Any, out: dict[str, Any]) -> None:
        if getter is None:
            items: Any = [record]
        else:
            try:
                items = getter(record)
            except ValueProblem as problem:
                raise context.error(problem) from None
            if items is MISSING or items is None:
                return
            if not isinstance(items, list):
                raise context.error(ValueProblem("bad_type", f"expected a list of lines, got {type(items).__name__}"))
        lines = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise context.error(ValueProblem("bad_type", f"expected each line to be an object, got {type(item).__name__}"), index)
            if keep is not None:
                try:
                    if not keep({"record": record, "line": item}):
                        continue
                except EvaluationError as exc:
                    raise context.error(ValueProblem("expression_error", f"lines filter failed: {exc}"), index) from None
            line: dict[str, Any] = {}
            for name, get, coerce, nullable, field_context in plain:
                try:
                    value = get(item)
                    if value is MISSING:
                        continue
                    if value is not None:
                        line[name] = coerce(value)
                    elif nullable:
                        line[name] = None
                except ValueProblem as problem:
                    raise field_context.error(problem, index) from None
            try:
                for runner in others:
                    runner(item, record, line)
            except RecordMappingError as exc:
                exc.message = f"line {index}: {exc.message}"
                exc.args = (f"{exc.code}: {exc.message}",)
                raise
            for name in needed:
                if name not in line:
                    raise context.error(ValueProblem("missing_required", f"line {index} has no {name}"), index)
            lines.append(line)
        out["lines"] = lines

    return run


def _reference_reader(read: Reader, steps: tuple[Transform, ...], required: bool, context: _Context) -> Callable[[Any], str | None]:
    def reference_id(record: Any) -> str | None:
        try:
            value = read(record, record)
            if value is not MISSING and value is not None:
                for step in steps:
                    value = step(value)
                value = to_string(value)
            if value is MISSING or value is None or value == "":
                if required:
                    raise ValueProblem("missing_required", "the referenced id is missing")
                return None
            return str(value)
        except ValueProblem as problem:
            raise context.error(problem) from None

    return reference_id


@dataclass(frozen=True)
class _Order:
    """How a record's updates are ordered: its change time, its version, or both."""

    timestamp: Callable[[Any], Any] | None
    version: Callable[[Any], Any] | None

    def of(self, payload: Any) -> tuple[datetime, Decimal | None, bool]:
        """(source time, version, whether the time is only the time it was read)."""
        version = self.version(payload) if self.version is not None else None
        if self.timestamp is None:
            return datetime.now(UTC), version, True
        return self.timestamp(payload), version, False


def _record_builder(
    name: str,
    version: str,
    entity: EntityType,
    record_id: Callable[[Any], Any],
    order: _Order,
    keep: Expression | None,
    runners: tuple[FieldRunner, ...],
    references: tuple[CompiledReference, ...],
    lineage: dict[str, str],
    categories: dict[str, str],
    owners: dict[str, str],
    context: _Context,
) -> Callable[[dict[str, Any], str], CanonicalRecord]:
    """The whole mapping as one function of (payload, connector)."""
    construct_record = CanonicalRecord.model_construct
    construct_ref = SourceRef.model_construct
    refs = tuple((ref_name, spec.entity or entity, spec.connector, read) for ref_name, spec, read, _ in references)
    all_names = len(runners)

    def run(payload: dict[str, Any], connector: str) -> CanonicalRecord:
        if keep is not None:
            try:
                wanted = keep({"record": payload})
            except EvaluationError as exc:
                raise context.error(ValueProblem("expression_error", f"filter failed: {exc}")) from None
            if not wanted:
                raise RecordMappingError("filtered_out", f"skipped by the filter of {context.file} (connector {connector})", field="filter")
        source = construct_ref(system=connector, entity=entity, id=record_id(payload))
        moment, source_version, receipt = order.of(payload)
        fields: dict[str, Any] = {}
        for runner in runners:
            runner(payload, payload, fields)
        found: dict[str, SourceRef] = {}
        for ref_name, ref_entity, ref_connector, read in refs:
            ref_id = read(payload)
            if ref_id is not None:
                found[ref_name] = construct_ref(system=ref_connector or connector, entity=ref_entity, id=ref_id)
        if len(fields) == all_names and len(found) == len(refs):
            record_lineage, record_categories, record_owners = dict(lineage), dict(categories), dict(owners)
        else:
            present = fields.keys() | found.keys()
            record_lineage = {k: v for k, v in lineage.items() if k in present}
            record_categories = {k: v for k, v in categories.items() if k in present}
            record_owners = {k: v for k, v in owners.items() if k in present}
        return construct_record(
            entity=entity,
            source=source,
            source_time=moment,
            fields=fields,
            references=found,
            lineage=record_lineage,
            categories=record_categories,
            owners=record_owners,
            mapping=name,
            mapping_version=version,
            source_version=source_version,
            time_is_receipt=receipt,
        )

    return run


# ----------------------------------------------------------------------------- loading


def _grade_scale(docs: list[tuple[str, LocatedDict]], problems: list[Problem]) -> list[str] | None:
    scales: dict[str, tuple[str, list[str]]] = {}
    for file, doc in docs:
        spec, found = check_shape(doc, file, GradeScaleFile)
        problems.extend(found)
        if spec is None:
            continue
        levels = [str(level).strip() for level in spec.levels]
        seen: set[str] = set()
        for index, level in enumerate(levels):
            if not level or level in seen:
                line, column = doc["levels"].where(index)
                problems.append(Problem(file, line, column, f"levels[{index}]", f"empty or repeated level {level!r}"))
            seen.add(level)
        name = str(doc.get("name", Path(file).stem))
        scales[name] = (file, levels)
    if DEFAULT_SCALE_NAME in scales:
        return scales[DEFAULT_SCALE_NAME][1]
    if len(scales) == 1:
        return next(iter(scales.values()))[1]
    return None


def _with_code_lists(doc: LocatedDict, code_lists: dict[str, CodeList]) -> dict[str, Any]:
    """The document plus the codes of the code lists it uses: editing a list changes the mapping's version."""
    used: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("code_list"), str):
                used.add(node["code_list"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc.get("fields"))
    walk(doc.get("lines"))
    if not used:
        return doc
    lists = {name: [code_lists[name].values, code_lists[name].codes] for name in sorted(used) if name in code_lists}
    return {**doc, "code_lists": lists}


def compile_documents(documents: Iterable[tuple[str, Any]], systems: dict[str, str] | None = None) -> MappingSet:
    """Compile already-loaded YAML documents; raises ``ConfigError`` with every problem in every file.

    ``systems`` gives each connector's system (default: its name), which picks a code list's codes.
    """
    problems: list[Problem] = []
    mapping_docs: list[tuple[str, LocatedDict]] = []
    scale_docs: list[tuple[str, LocatedDict]] = []
    list_docs: list[tuple[str, LocatedDict]] = []
    for file, doc in documents:
        if not isinstance(doc, LocatedDict):
            problems.append(Problem(file, 1, 1, "", "expected key: value lines at the top of the file (with `kind:`)"))
            continue
        kind = doc.get("kind")
        if "kind" not in doc:
            line, column = getattr(doc, "position", (1, 1))
            problems.append(Problem(file, line, column, "kind", "missing `kind:` (mapping files start with `kind: mapping`)"))
        elif kind == "mapping":
            mapping_docs.append((file, doc))
        elif kind == "grade_scale":
            scale_docs.append((file, doc))
        elif kind == "code_list":
            list_docs.append((file, doc))
    grade_scale = _grade_scale(scale_docs, problems)
    code_lists = load_code_lists(list_docs, problems)

    compiled: dict[str, CompiledMapping] = {}
    sources: dict[tuple[str, str], str] = {}
    for file, doc in mapping_docs:
        spec, usable, found = check_shape_leniently(doc, file, MappingFile)
        problems.extend(found)
        if usable is None:
            continue
        compiler = _FileCompiler(file, doc, usable, grade_scale, code_lists, systems)  # type: ignore[arg-type]
        mapping = compiler.compile(mapping_version(_with_code_lists(doc, code_lists)))
        problems.extend(compiler.problems)
        if mapping is None or spec is None:
            continue
        key = (mapping.connector, mapping.object)
        if mapping.name in compiled:
            problems.append(
                Problem(
                    file, *compiler.where(("name",)), "name", f"mapping name {mapping.name!r} is also used by {compiled[mapping.name].file}"
                )
            )
            continue
        if key in sources:
            problems.append(Problem(file, *compiler.where(("source",)), "source", f"{key[0]} {key[1]} is already mapped by {sources[key]}"))
            continue
        compiled[mapping.name] = mapping
        sources[key] = file
    if problems:
        raise ConfigError(problems)
    return MappingSet(mappings=compiled, grade_scale=list(grade_scale or []), code_lists=code_lists)


def yaml_files(paths: Iterable[Path | str]) -> list[Path]:
    """Every *.yaml / *.yml under the given folders (recursively) and the given files."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(list(path.rglob("*.yaml")) + list(path.rglob("*.yml")))
        else:
            found.append(path)
    return found


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_documents(files: Iterable[Path]) -> tuple[list[tuple[str, Any]], list[Problem]]:
    """Load YAML files with positions; unreadable files become problems (the others still load)."""
    documents: list[tuple[str, Any]] = []
    problems: list[Problem] = []
    for path in files:
        name = _display(path)
        if not path.exists():
            problems.append(Problem(name, 1, 1, "", "file not found"))
            continue
        try:
            documents.append((name, load_yaml_file(path, name)))
        except ConfigError as exc:
            problems += exc.problems
    return documents, problems


def load_mapping_set(root: Path | str | Iterable[Path | str]) -> MappingSet:
    """Read every YAML file under ``root`` (recursively) and compile the mappings in it.

    Files of kinds other than ``mapping``, ``grade_scale`` and ``code_list`` belong to other parts of the
    configuration and are ignored; a file without ``kind`` is reported.
    """
    roots = [root] if isinstance(root, (str, Path)) else list(root)
    files = yaml_files(roots)
    documents, problems = load_documents(files)
    try:
        mapping_set = compile_documents(documents)
    except ConfigError as exc:
        raise ConfigError(problems + exc.problems) from None
    if problems:
        raise ConfigError(problems)
    return mapping_set
