"""Any REST API declared entirely in its connector file: endpoint, auth, pagination, cursor.

The endpoint must return records in ascending order of ``cursor_field`` (the
watermark is checkpointed per page) and accept an inclusive lower bound in
``since_param``. With offset or page-number paging the result is live, so a
record edited mid-sync can shift another across a page boundary; prefer a cursor
style where the API has one, and keep ``overlap_seconds`` above the sync period.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterator

from chalicelib.connectors.base import Position, Source, SourcePage
from chalicelib.connectors.models import RequestSpec
from chalicelib.connectors.pagination import (
    BodyCursorPaginator, LinkHeaderPaginator, NextUrlPaginator, OffsetPaginator, PageNumberPaginator, Paginator,
)


class _SinglePage(Paginator):
    def next_token(self, page: Any, records: list[Any]) -> None:
        return None

    def apply(self, request: RequestSpec, token: Any) -> RequestSpec:  # pragma: no cover - never has a token
        return request


def build_paginator(config: Any, page_size: int | None) -> Paginator:
    """The paginator a ``pagination:`` section declares."""
    style = config.style
    if style == "body_cursor":
        return BodyCursorPaginator(config.cursor_path, config.param, config.location)
    if style == "next_url":
        return NextUrlPaginator(tuple(config.next_paths))
    if style == "link_header":
        return LinkHeaderPaginator(config.rel)
    if style == "offset":
        return OffsetPaginator(page_size or 100, offset_param=config.offset_param, limit_param=config.limit_param,
                               location=config.location, total_path=config.total_path)
    if style == "page_number":
        return PageNumberPaginator(page_size or 100, page_param=config.page_param, size_param=config.size_param,
                                   location=config.location, start=config.start, total_pages_path=config.total_pages_path)
    return _SinglePage()


def format_since(moment: datetime, style: str) -> str | int:
    if style == "epoch_seconds":
        return int(moment.timestamp())
    if style == "epoch_ms":
        return int(moment.timestamp() * 1000)
    return moment.isoformat()


class GenericRestSource(Source):
    def pages(self, after: Position | None, overlap: timedelta) -> Iterator[SourcePage]:
        stream = self.stream
        request = RequestSpec(stream.method, stream.endpoint, params=dict(stream.params),
                              json=dict(stream.body) if stream.body is not None else None)
        lower = after.modified if self.strict(after, overlap) else self.lower_bound(after, overlap)
        if lower is not None and stream.since_param:
            value = format_since(lower, stream.since_format)
            request = (request.with_body_value(stream.since_param, value) if stream.since_location == "body"
                       else request.with_params(**{stream.since_param: value}))
        paginator = build_paginator(stream.pagination, stream.page_size)
        while not paginator.finished:
            page = self.client.send(paginator.prepare(request))
            records = self.records_at(page.body, stream.records_path or "", page.url)
            yield SourcePage(records, page.url)
            paginator.advance(page, records)
