"""Regression diff: what an edited mapping would change, before it is deployed.

Recently received raw inputs of a source object are run through the deployed and
the edited mapping set; every canonical value that differs is reported, field by
field (events that would change are added by the pipeline on top of this).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.inbound import InboundRecord
from chalicelib.errors import RecordMappingError
from chalicelib.mapping.compiler import MappingSet
from chalicelib.mapping.examples import record_json

ABSENT = "<absent>"


@dataclass(frozen=True)
class FieldChange:
    """One canonical value that differs between the old and the new mapping for one input."""

    input: str  # the input's dedupe key
    connector: str
    object: str
    field: str  # e.g. fields.grade, references.customer_id, source.id, source_time, outcome
    old: Any  # JSON value, ABSENT, or for `outcome` "mapped" / "error: <code>"
    new: Any
    old_version: str | None
    new_version: str | None

    def __str__(self) -> str:
        return f"{self.input} {self.field}: {_show(self.old)} → {_show(self.new)}"


def _show(value: Any) -> str:
    return value if value == ABSENT else json.dumps(value, ensure_ascii=False, default=str)


def _outcome(mapping_set: MappingSet, record: InboundRecord) -> tuple[str | None, dict[str, Any] | None, str]:
    """(mapping version, flattened canonical values, outcome) of one input under one mapping set."""
    mapping = mapping_set.find(record.connector, record.object)
    if mapping is None:
        return None, None, "no mapping"
    try:
        canonical = record_json(mapping.apply(record.payload, connector=record.connector))
    except RecordMappingError as exc:
        return mapping.version, None, f"error: {exc.code}"
    values: dict[str, Any] = {"source.id": canonical["source"]["id"], "source_time": canonical["source_time"]}
    for part in ("fields", "references", "categories", "owners"):
        for key, value in canonical[part].items():
            values[f"{part}.{key}"] = value
    return mapping.version, values, "mapped"


def regression_diff(old: MappingSet, new: MappingSet, inputs: list[InboundRecord]) -> list[FieldChange]:
    """Every canonical value (and outcome) that the new mapping set changes, per input."""
    changes: list[FieldChange] = []
    for record in inputs:
        old_version, old_values, old_outcome = _outcome(old, record)
        new_version, new_values, new_outcome = _outcome(new, record)

        def change(
            field: str,
            before: Any,
            after: Any,
            record: InboundRecord = record,
            versions: tuple[str | None, str | None] = (old_version, new_version),
        ) -> None:
            changes.append(FieldChange(record.dedupe_key, record.connector, record.object, field, before, after, *versions))

        if old_outcome != new_outcome:
            change("outcome", old_outcome, new_outcome)
        if old_values is None or new_values is None:
            continue
        for key in sorted(old_values.keys() | new_values.keys()):
            before, after = old_values.get(key, ABSENT), new_values.get(key, ABSENT)
            if before != after:
                change(key, before, after)
    return changes
