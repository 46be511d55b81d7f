"""Shopify REST Admin: ``updated_at_min`` with ``order=updated_at asc``, then the ``Link`` header.

``page_info`` cursors are opaque and must be followed exactly; Shopify rejects
other filters beside them, so the next URL is used as given (LinkHeaderPaginator).
The bucket header ``X-Shopify-Shop-Api-Call-Limit`` is honoured by the client.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from chalicelib.connectors.base import Position, Source, SourcePage
from chalicelib.connectors.models import RequestSpec
from chalicelib.connectors.pagination import LinkHeaderPaginator

MAX_PAGE_SIZE = 250


class ShopifySource(Source):
    default_id_field = "id"
    default_cursor_field = "updated_at"

    def pages(self, after: Position | None, overlap: timedelta) -> Iterator[SourcePage]:
        params: dict[str, object] = {
            **self.stream.params,
            "limit": min(self.stream.page_size or MAX_PAGE_SIZE, MAX_PAGE_SIZE),
            "order": f"{self.cursor_field} asc",
        }
        lower = after.modified if self.strict(after, overlap) else self.lower_bound(after, overlap)
        if lower is not None:
            params[f"{self.cursor_field}_min"] = lower.isoformat()
        if self.stream.fields:
            params["fields"] = ",".join(dict.fromkeys([self.id_field, self.cursor_field, *self.stream.fields]))
        version = self.connector.api.api_version
        request = RequestSpec("GET", f"/admin/api/{version}/{self.stream.object}.json", params=params)
        paginator = LinkHeaderPaginator()
        while not paginator.finished:
            page = self.client.send(paginator.prepare(request))
            records = self.records_at(page.body, self.stream.object.rsplit("/", 1)[-1], page.url)
            yield SourcePage(records, page.url)
            paginator.advance(page, records)
