"""Running the ``examples:`` embedded in mapping files (``salesbridge mappings test``).

An example's ``expect`` names the parts of the canonical record it checks: ``id``,
``source_time``, ``fields`` (compared whole: a missing or extra field fails),
``references``, ``lineage``, ``categories``, ``owners``. Values are compared as
JSON, so money is written as text (``"12.50"``), except times: ``source_time`` and
every time field of the entity compare as typed values (the same instant with
the same UTC offset, so ``Z`` and ``+00:00`` agree). ``expect_error`` checks the error
code (and optionally the field and a part of the message) instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, get_args

from pydantic import AwareDatetime, ValidationError

from chalicelib.domain.canonical import ENTITY_MODELS, CanonicalRecord
from chalicelib.errors import RecordMappingError
from chalicelib.mapping.compiler import CompiledMapping, MappingSet

CHECKED_PARTS = ("id", "source_time", "fields", "references", "lineage", "categories", "owners")


@dataclass
class ExampleResult:
    mapping: str
    file: str
    example: str
    differences: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.differences


def record_json(record: CanonicalRecord) -> dict[str, Any]:
    """The canonical record as JSON data (Decimal as text, times as ISO 8601)."""
    return record.model_dump(mode="json")


def as_payload(value: Any) -> Any:
    """Example input as the pipeline would see it: floats become Decimal (as the caller parses JSON)."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: as_payload(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_payload(v) for v in value]
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def _expected(value: Any) -> Any:
    """Expected values as JSON: numbers as text (Decimal serialises as text), times as ISO text."""
    if isinstance(value, dict):
        return {str(k): _expected(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expected(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(Decimal(str(value)))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _same_time(expected: Any, actual: Any) -> bool:
    """Two ISO 8601 times are the same when they name the same instant with the same UTC offset."""
    try:
        want, got = datetime.fromisoformat(str(expected)), datetime.fromisoformat(str(actual))
    except ValueError:
        return False
    if want.tzinfo is None or got.tzinfo is None:
        return False
    return want == got and want.utcoffset() == got.utcoffset()


def _time_fields(entity: str) -> set[str]:
    """The entity's fields typed as a timezone-aware time."""
    model = ENTITY_MODELS.get(entity)
    if model is None:
        return set()
    return {name for name, info in model.model_fields.items() if AwareDatetime in (get_args(info.annotation) or (info.annotation,))}


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def compare(expect: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Differences between an example's expectation and the record's JSON."""
    differences: list[str] = []
    for part, wanted in expect.items():
        if part not in CHECKED_PARTS:
            differences.append(f"unknown part {part!r} in expect (use: {', '.join(CHECKED_PARTS)})")
            continue
        got = actual["source"]["id"] if part == "id" else actual.get(part)
        want = _expected(wanted)
        if part == "source_time":
            if not _same_time(want, got):
                differences.append(f"source_time: expected {want}, got {got}")
            continue
        if part == "id":
            if str(want) != got:
                differences.append(f"id: expected {want!r}, got {got!r}")
            continue
        if not isinstance(want, dict) or not isinstance(got, dict):
            if want != got:
                differences.append(f"{part}: expected {_show(want)}, got {_show(got)}")
            continue
        times = _time_fields(actual.get("entity", "")) if part == "fields" else set()
        for key in sorted(set(want) | set(got)):
            if key not in got:
                differences.append(f"{part}.{key}: expected {_show(want[key])}, but the mapping did not produce it")
            elif key not in want:
                differences.append(f"{part}.{key}: not expected, but the mapping produced {_show(got[key])}")
            elif key in times and want[key] is not None and got[key] is not None:
                if not _same_time(want[key], got[key]):
                    differences.append(f"{part}.{key}: expected {_show(want[key])}, got {_show(got[key])}")
            elif want[key] != got[key]:
                differences.append(f"{part}.{key}: expected {_show(want[key])}, got {_show(got[key])}")
    return differences


def run_example(mapping: CompiledMapping, example: Any) -> ExampleResult:
    result = ExampleResult(mapping.name, mapping.file, example.name)
    try:
        record = mapping.apply(as_payload(example.input))
    except RecordMappingError as exc:
        wanted = example.expect_error
        if wanted is None:
            result.differences.append(f"expected a record, got error {exc.code}: {exc.message}")
        else:
            if wanted.code != exc.code:
                result.differences.append(f"expected error {wanted.code}, got {exc.code}: {exc.message}")
            if wanted.field is not None and wanted.field != exc.field:
                result.differences.append(f"expected the error on field {wanted.field!r}, got {exc.field!r}")
            if wanted.message_contains and wanted.message_contains not in exc.message:
                result.differences.append(f"expected the message to contain {wanted.message_contains!r}: {exc.message}")
        return result
    if example.expect_error is not None:
        result.differences.append(f"expected error {example.expect_error.code}, but the record mapped")
        return result
    try:
        record.validated_fields()
    except ValidationError as exc:
        first = exc.errors()[0]
        result.differences.append(f"fields do not fit the canonical {record.entity}: {first['loc']}: {first['msg']}")
    result.differences += compare(example.expect or {}, record_json(record))
    return result


def run_examples(mapping_set: MappingSet) -> list[ExampleResult]:
    """Every example of every mapping, in file order."""
    results = []
    for mapping in sorted(mapping_set.mappings.values(), key=lambda m: m.file):
        for example in mapping.examples:
            results.append(run_example(mapping, example))
    return results


def map_payload(mapping: CompiledMapping, payload: dict[str, Any]) -> dict[str, Any]:
    """Map one payload without storing anything; the result is JSON data.

    ``{"mapping", "mapping_version", "record"}`` on success, ``{"mapping", "mapping_version",
    "error": {code, field, path, message}}`` otherwise. Callers may add more keys (state diff, events).
    """
    result: dict[str, Any] = {"mapping": mapping.name, "mapping_version": mapping.version}
    try:
        result["record"] = record_json(mapping.apply(payload))
    except RecordMappingError as exc:
        result["error"] = exc.to_dict()
    return result
