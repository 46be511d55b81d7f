"""Configuration problems that name file, line, column and field.

Configuration is checked at load time, all at once: an integrator fixing a file
wants every mistake in one pass, each pointing at the exact place to edit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
