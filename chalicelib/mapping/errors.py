"""Errors of the mapping engine.

``RecordMappingError`` is the only exception ``CompiledMapping.apply`` raises: the
pipeline quarantines the record (or, for ``filtered_out``, audits it as skipped)
with a message an integrator can act on. ``ValueProblem`` is raised deep inside
transforms, where the field, path and file are not known; the compiled field
turns it into a ``RecordMappingError`` carrying all of that.
"""

from __future__ import annotations

ERROR_CODES = (
    "missing_required",  # a required source value is absent or null
    "bad_type",  # a value has the wrong shape or cannot be read (text where a number is needed ...)
    "unknown_value",  # a value outside a vocabulary (e.g. an unknown grade)
    "expression_error",  # an expression failed on this record
    "filtered_out",  # the mapping's filter said: skip this record (audit as skipped, not quarantined)
    "not_an_object",  # the payload is not a JSON object
    "internal_error",  # a bug in the engine; reported, never a traceback
)


class RecordMappingError(Exception):
    """A record that this mapping cannot turn into a canonical record."""

    def __init__(self, code: str, message: str, field: str = "", path: str = "", value: object = None):
        self.code = code
        self.field = field
        self.path = path
        self.value = value
        self.message = message
        super().__init__(f"{code}: {message}")

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "path": self.path, "message": self.message}


class ValueProblem(Exception):
    """A value a transform cannot handle; the caller adds field, path and mapping."""

    def __init__(self, code: str, message: str, hint: str = ""):
        self.code = code
        self.message = message
        self.hint = hint
        super().__init__(message)
