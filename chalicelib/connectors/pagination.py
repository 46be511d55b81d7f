"""One small class per pagination style, after the Singer SDK's shape.

A paginator starts with no token, ``prepare``s each request with its current
token and ``advance``s on each page. The shared base refuses to follow a token it
has already followed (or a page identical to the previous one): some APIs answer a
bad cursor with the first page again, and a sync that follows them never ends.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import urljoin

from chalicelib.connectors.models import Page, RequestSpec, dig
from chalicelib.errors import MalformedPageError, PaginationLoopError

Location = Literal["query", "body"]


class Paginator(ABC):
    """Token bookkeeping and loop detection; subclasses say where the next token is."""

    def __init__(self) -> None:
        self.token: Hashable | None = None
        self.finished = False
        self.pages = 0
        self._seen: set[Hashable] = set()
        self._previous_records: list[Any] | None = None

    def prepare(self, request: RequestSpec) -> RequestSpec:
        """The request for the current page (the first page when no token yet)."""
        return request if self.token is None else self.apply(request, self.token)

    def advance(self, page: Page, records: list[Any]) -> None:
        """Take the next token from ``page``; raise PaginationLoopError on a repeat."""
        self.pages += 1
        if records and records == self._previous_records:
            raise PaginationLoopError(f"{type(self).__name__}: {page.url} returned the same records as the page before")
        self._previous_records = records
        token = self.next_token(page, records)
        if token is None:
            self.finished = True
            return
        if token == self.token or token in self._seen:
            raise PaginationLoopError(f"{type(self).__name__}: token {token!r} was already followed (from {page.url})")
        self._seen.add(token)
        self.token = token

    @abstractmethod
    def next_token(self, page: Page, records: list[Any]) -> Hashable | None:
        """The token for the page after ``page``, or None on the last page."""

    @abstractmethod
    def apply(self, request: RequestSpec, token: Hashable) -> RequestSpec:
        """``request`` amended to fetch the page ``token`` names."""


def _place(request: RequestSpec, location: Location, name: str, value: Any) -> RequestSpec:
    return request.with_body_value(name, value) if location == "body" else request.with_params(**{name: value})


class BodyCursorPaginator(Paginator):
    """Cursor in the response body (HubSpot ``paging.next.after``) sent back as a parameter."""

    def __init__(self, cursor_path: str = "paging.next.after", param: str = "after", location: Location = "query"):
        super().__init__()
        self.cursor_path, self.param, self.location = cursor_path, param, location

    def next_token(self, page: Page, records: list[Any]) -> Hashable | None:
        token = dig(page.body, self.cursor_path)
        if token in (None, ""):
            return None
        if not isinstance(token, (str, int)):
            raise MalformedPageError(f"cursor at {self.cursor_path!r} is {type(token).__name__}, not a string", url=page.url)
        return token

    def apply(self, request: RequestSpec, token: Hashable) -> RequestSpec:
        return _place(request, self.location, self.param, token)


class NextUrlPaginator(Paginator):
    """A next-page URL in the body: Salesforce ``nextRecordsUrl``, OData ``@odata.nextLink`` / ``d.__next``.

    The URL is followed as given (relative ones resolved against the page URL) and
    without the first request's parameters: the vendors encode everything in it.
    """

    def __init__(self, next_paths: tuple[str, ...] = ("nextRecordsUrl", "@odata.nextLink", "d.__next")):
        super().__init__()
        self.next_paths = next_paths

    def next_token(self, page: Page, records: list[Any]) -> Hashable | None:
        body = page.body
        for path in self.next_paths:
            value = body.get(path) if isinstance(body, dict) and path in body else dig(body, path)
            if value:
                if not isinstance(value, str):
                    raise MalformedPageError(f"next link at {path!r} is not a string", url=page.url)
                return urljoin(page.url, value)
        return None

    def apply(self, request: RequestSpec, token: Hashable) -> RequestSpec:
        return replace(request, method="GET", url=str(token), params={}, json=None)


_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")
_REL = re.compile(r';\s*rel\s*=\s*"?([^";,]+)"?', re.IGNORECASE)


def parse_link_header(value: str) -> dict[str, str]:
    """``<url>; rel="next", <url>; rel="previous"`` → {"next": url, "previous": url}."""
    links: dict[str, str] = {}
    for match in _LINK.finditer(value):
        for rel in _REL.findall(match.group(2)):
            for name in rel.split():
                links.setdefault(name.lower(), match.group(1).strip())
    return links


class LinkHeaderPaginator(Paginator):
    """RFC 8288 ``Link: <…>; rel="next"`` (Shopify REST): follow the URL exactly as given."""

    def __init__(self, rel: str = "next"):
        super().__init__()
        self.rel = rel

    def next_token(self, page: Page, records: list[Any]) -> Hashable | None:
        header = page.header("link")
        if not header:
            return None
        url = parse_link_header(header).get(self.rel)
        return urljoin(page.url, url) if url else None

    def apply(self, request: RequestSpec, token: Hashable) -> RequestSpec:
        return replace(request, url=str(token), params={})


class OffsetPaginator(Paginator):
    """Offset/limit (Odoo ``search_read``, many REST APIs): the next offset is this one plus the page length.

    Ends on an empty page, a short page, or when ``total_path`` says all were read.
    """

    def __init__(
        self,
        page_size: int,
        *,
        offset_param: str = "offset",
        limit_param: str = "limit",
        location: Location = "query",
        total_path: str | None = None,
        start: int = 0,
    ):
        super().__init__()
        self.page_size, self.offset_param, self.limit_param = page_size, offset_param, limit_param
        self.location, self.total_path, self.offset = location, total_path, start
        self._seen.add(start)

    def prepare(self, request: RequestSpec) -> RequestSpec:
        request = _place(request, self.location, self.limit_param, self.page_size)
        return _place(request, self.location, self.offset_param, self.offset)

    def next_token(self, page: Page, records: list[Any]) -> Hashable | None:
        if not records:
            return None
        following = self.offset + len(records)
        if self.total_path:
            total = dig(page.body, self.total_path)
            if not isinstance(total, int):
                raise MalformedPageError(f"total at {self.total_path!r} is missing or not an integer", url=page.url)
            return following if following < total else None
        return following if len(records) >= self.page_size else None

    def advance(self, page: Page, records: list[Any]) -> None:
        super().advance(page, records)
        if not self.finished:
            self.offset = int(str(self.token))

    def apply(self, request: RequestSpec, token: Hashable) -> RequestSpec:
        return _place(request, self.location, self.offset_param, token)


class PageNumberPaginator(Paginator):
    """``?page=N&per_page=M``: ends on an empty or short page, or at ``total_pages_path``."""

    def __init__(
        self,
        page_size: int,
        *,
        page_param: str = "page",
        size_param: str | None = "per_page",
        location: Location = "query",
        start: int = 1,
        total_pages_path: str | None = None,
    ):
        super().__init__()
        self.page_size, self.page_param, self.size_param = page_size, page_param, size_param
        self.location, self.number, self.total_pages_path = location, start, total_pages_path
        self._seen.add(start)

    def prepare(self, request: RequestSpec) -> RequestSpec:
        if self.size_param:
            request = _place(request, self.location, self.size_param, self.page_size)
        return _place(request, self.location, self.page_param, self.number)

    def next_token(self, page: Page, records: list[Any]) -> Hashable | None:
        if not records:
            return None
        if self.total_pages_path:
            total = dig(page.body, self.total_pages_path)
            if not isinstance(total, int):
                raise MalformedPageError(f"page count at {self.total_pages_path!r} is missing or not an integer", url=page.url)
            return self.number + 1 if self.number < total else None
        return self.number + 1 if len(records) >= self.page_size else None

    def advance(self, page: Page, records: list[Any]) -> None:
        super().advance(page, records)
        if not self.finished:
            self.number = int(str(self.token))

    def apply(self, request: RequestSpec, token: Hashable) -> RequestSpec:
        return _place(request, self.location, self.page_param, token)
