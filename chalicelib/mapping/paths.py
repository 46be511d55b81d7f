"""Source paths: where a value sits in a vendor payload.

Syntax: dot-separated keys, with ``[n]`` for list items and ``["key"]`` for keys
that contain dots, brackets or spaces; any other character (Chinese included) may
appear in a plain key::

    properties.hs_lead_status.value    FSaleOrderEntry[0].FMaterialId.FNumber
    ["FBillNo"]   attributes["odata.type"]   经销商编码   BillingAddress.City

A path is parsed once and compiled into a getter that returns the value, ``None``
for an explicit null (also when a parent along the way is null: the source says
"nothing there"), or ``MISSING`` when a key is absent (the source did not send it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from chalicelib.errors import PathError, ValueProblem


class _Missing:
    """The source did not send this value (not the same as null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

Segment = str | int
Getter = Callable[[Any], Any]


_PLAIN = re.compile(r"[^.\[\]\"'\s]+")
_INDEX = re.compile(r"\[(-?\d+)\]")
_QUOTED = re.compile(r"""\[(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\]""")


def parse_path(text: str) -> tuple[Segment, ...]:
    """Split a path into keys (str) and list indexes (int)."""
    if not isinstance(text, str) or not text:
        raise PathError("a path must be non-empty text", 1)
    segments: list[Segment] = []
    pos = 0
    expect_key = True  # at the start or right after a dot
    while pos < len(text):
        char = text[pos]
        if char == "[":
            match = _INDEX.match(text, pos) or _QUOTED.match(text, pos)
            if not match:
                raise PathError('expected [number] or ["key"]', pos + 1)
            if match.re is _INDEX:
                segments.append(int(match.group(1)))
            else:
                raw = match.group(1) if match.group(1) is not None else match.group(2)
                segments.append(re.sub(r"\\(.)", r"\1", raw))
            pos = match.end()
            expect_key = False
        elif char == ".":
            if expect_key:
                raise PathError("empty key (two dots, or a dot at the start)", pos + 1)
            pos += 1
            expect_key = True
            if pos == len(text):
                raise PathError("path ends with a dot", pos)
        else:
            if not expect_key:
                raise PathError("expected '.' or '[' between keys", pos + 1)
            match = _PLAIN.match(text, pos)
            if not match:
                raise PathError(f'unexpected character {char!r}; quote such keys as ["..."]', pos + 1)
            segments.append(match.group(0))
            pos = match.end()
            expect_key = False
    return tuple(segments)


def format_path(segments: tuple[Segment, ...]) -> str:
    """The canonical text of a path (used in messages and lineage)."""
    out = []
    for seg in segments:
        if isinstance(seg, int):
            out.append(f"[{seg}]")
        elif _PLAIN.fullmatch(seg):
            out.append(("." if out else "") + seg)
        else:
            out.append('["' + seg.replace("\\", "\\\\").replace('"', '\\"') + '"]')
    return "".join(out)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {str(value)[:40]!r}"


def _step(current: Any, seg: Segment, segments: tuple[Segment, ...], depth: int) -> Any:
    if isinstance(seg, str):
        if isinstance(current, dict):
            return current.get(seg, MISSING)
        expected = "an object"
    else:
        if isinstance(current, list):
            return current[seg] if -len(current) <= seg < len(current) else MISSING
        expected = "a list"
    where = format_path(segments[:depth]) or "the record"
    raise ValueProblem("bad_type", f"expected {expected} at {where}, got {_kind(current)}")


def compile_getter(segments: tuple[Segment, ...]) -> Getter:
    """A fast reader for one path (one- and two-key paths get a dedicated closure)."""
    if len(segments) == 1 and isinstance(segments[0], str):
        key = segments[0]

        def get_one(data: Any) -> Any:
            if type(data) is dict:
                return data.get(key, MISSING)
            return _step(data, key, segments, 0)

        return get_one
    if len(segments) == 2 and isinstance(segments[0], str) and isinstance(segments[1], str):
        first, second = segments

        def get_two(data: Any) -> Any:
            parent = data.get(first, MISSING) if type(data) is dict else _step(data, first, segments, 0)
            if type(parent) is dict:
                return parent.get(second, MISSING)
            if parent is None or parent is MISSING:
                return parent
            return _step(parent, second, segments, 1)

        return get_two

    def get_many(data: Any) -> Any:
        current = data
        for depth, seg in enumerate(segments):
            if current is None or current is MISSING:
                return current
            current = _step(current, seg, segments, depth)
        return current

    return get_many
