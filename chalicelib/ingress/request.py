"""One inbound HTTP request, as the webhook route received it.

Verification needs the exact bytes and URL the vendor signed, so nothing here is
decoded or normalised beyond what HTTP itself allows (header names are
case-insensitive; HTTP/2 lowercases them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Headers(Mapping[str, str]):
    """Read-only header map with case-insensitive lookup (keeps the first spelling seen)."""

    __slots__ = ("_items",)

    def __init__(self, raw: Mapping[str, str] | None = None) -> None:
        items: dict[str, tuple[str, str]] = {}
        for name, value in (raw or {}).items():
            items.setdefault(name.lower(), (name, value))
        self._items = items

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({sorted(self._items)})"  # names only: values may carry signatures


def _as_headers(value: Any) -> Headers:
    return value if isinstance(value, Headers) else Headers(value)


@dataclass(frozen=True)
class InboundRequest:
    """What the vendor sent: method, path, headers, raw body, query, caller and time.

    ``url`` is the full URL as the vendor called it (scheme, host, path and the
    query string in its original order), for schemes that sign the URL.
    ``received_at`` is the clock every timestamp window is checked against.
    """

    method: str
    path: str
    headers: Headers
    body: bytes
    received_at: datetime
    query: Mapping[str, str] = field(default_factory=dict)
    source_ip: str | None = None
    url: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _as_headers(self.headers))
        object.__setattr__(self, "method", self.method.upper())
        if not isinstance(self.body, (bytes, bytearray)):
            raise TypeError("InboundRequest.body must be the raw bytes that were signed")
        object.__setattr__(self, "body", bytes(self.body))
        if self.received_at.tzinfo is None or self.received_at.utcoffset() is None:
            raise ValueError("InboundRequest.received_at must be timezone-aware")

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def query_param(self, name: str) -> str | None:
        return self.query.get(name)
