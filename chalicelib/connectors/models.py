"""The two values that cross the wire boundary: a request to make and a parsed page."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

_MISSING = object()


@dataclass(frozen=True)
class RequestSpec:
    """One API call, relative (``path``) or absolute (``url``); paginators return amended copies."""

    method: str
    url: str
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def with_params(self, **params: Any) -> RequestSpec:
        return replace(self, params={**self.params, **params})

    def with_body_value(self, path: str, value: Any) -> RequestSpec:
        body = copy.deepcopy(self.json) if self.json is not None else {}
        set_path(body, path, value)
        return replace(self, json=body)


@dataclass(frozen=True)
class Page:
    """A successful response: final URL, headers and the JSON body (floats parsed as Decimal)."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def dig(data: Any, path: str, default: Any = None) -> Any:
    """Value at a dotted path (``paging.next.after``, ``d.results``, ``items.0.id``); '' is the root."""
    if not path:
        return data
    current = data
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else _MISSING
        else:
            current = _MISSING
        if current is _MISSING:
            return default
    return current


def has_path(data: Any, path: str) -> bool:
    return dig(data, path, _MISSING) is not _MISSING


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    current = data
    for part in parts[:-1]:
        current = current.setdefault(part, {})
    current[parts[-1]] = value
