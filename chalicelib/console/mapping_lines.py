"""The mapping file lines a quarantine reason points at, read from the deployed configuration."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.configuration import Configuration

CONTEXT_LINES = 2  # lines shown before the rule
MAX_BLOCK_LINES = 20
_FILE_LINE = re.compile(r"([\w./-]+\.ya?ml):(\d+)")


@dataclass(frozen=True)
class Excerpt:
    file: str
    line: int
    lines: list[tuple[int, str]]  # (number, text)


def excerpt_for(config: Configuration, mapping: str | None, item: dict[str, Any]) -> Excerpt | None:
    """The rule of the field the reason names (file:line), else the first file:line in the message."""
    compiled = config.mappings.mappings.get(mapping or "")
    ref = compiled.rules.get(item.get("field") or "") if compiled is not None else None
    match = _FILE_LINE.search(ref or str(item.get("message") or ""))
    if match is None:
        return None
    return excerpt(config.root, match.group(1), int(match.group(2)))


def excerpt(root: Path, file: str, line: int) -> Excerpt | None:
    path = (root / file).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        return None  # only files of the configuration, never a path a message made up
    text = path.read_text(encoding="utf-8").splitlines()
    if not 1 <= line <= len(text):
        return None
    first, last = max(1, line - CONTEXT_LINES), line
    indent = _indent(text[line - 1])
    while last < len(text) and last - line < MAX_BLOCK_LINES and (not text[last].strip() or _indent(text[last]) > indent):
        last += 1  # the whole rule: every line indented under it
    return Excerpt(file, line, [(n, text[n - 1]) for n in range(first, last + 1)])


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def file_text(config: Configuration, mapping: str) -> str:
    """A deployed mapping's file, to start an edit from."""
    compiled = config.mappings.mappings.get(mapping)
    if compiled is None:
        return ""
    path = (config.root / compiled.file).resolve()
    return path.read_text(encoding="utf-8") if path.is_relative_to(config.root.resolve()) and path.is_file() else ""
