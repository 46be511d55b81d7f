"""HubSpot CRM search: ``hs_lastmodifieddate`` filter, ascending sort, ``after`` cursor.

Search's ``after`` is an offset into a live result: a record edited while we page
moves to the end and shifts the rest, so an offset carried across pages could step
over one. Each page therefore restarts the search from the newest timestamp seen
(``GTE``, a keyset restart); ``after`` is only followed inside a block of records
sharing one timestamp. This also keeps clear of search's 10,000-result cap.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from chalicelib.connectors.base import Position, Source, SourcePage
from chalicelib.connectors.models import RequestSpec
from chalicelib.connectors.pagination import BodyCursorPaginator
from chalicelib.errors import ConnectorError

SEARCH_RESULT_CAP = 10_000
MAX_PAGE_SIZE = 200


def epoch_ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


class HubSpotSource(Source):
    default_id_field = "id"

    def __init__(self, connector: Any, stream: Any, client: Any):
        super().__init__(connector, stream, client)
        if stream.cursor_field is None:  # contacts carry "lastmodifieddate", other objects "hs_lastmodifieddate"
            self.cursor_field = "properties." + ("lastmodifieddate" if stream.object == "contacts" else "hs_lastmodifieddate")
        self.property = self.cursor_field.removeprefix("properties.")

    def search_body(self, lower: datetime | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "sorts": [{"propertyName": self.property, "direction": "ASCENDING"}],
            "properties": list(dict.fromkeys([*self.stream.fields, self.property])),
            "limit": min(self.stream.page_size or 100, MAX_PAGE_SIZE),
        }
        if lower is not None:
            body["filterGroups"] = [{"filters": [{"propertyName": self.property, "operator": "GTE", "value": epoch_ms(lower)}]}]
        return body

    def pages(self, after: Position | None, overlap: timedelta) -> Iterator[SourcePage]:
        lower = after.modified if self.strict(after, overlap) else self.lower_bound(after, overlap)
        path = f"/crm/v3/objects/{self.stream.object}/search"
        paginator = BodyCursorPaginator("paging.next.after", "after", location="body")
        while True:
            request = paginator.prepare(RequestSpec("POST", path, json=self.search_body(lower)))
            page = self.client.send(request)
            records = self.records_at(page.body, "results", page.url)
            total = page.body.get("total") if isinstance(page.body, dict) else None
            yield SourcePage(records, page.url, total if isinstance(total, int) else None)
            paginator.advance(page, records)
            if paginator.finished:
                return
            newest = self.position_of(records[-1]).modified if records else None  # ascending order
            if newest is not None and (lower is None or newest > lower):
                lower = newest  # keyset restart: a fresh search from the newest timestamp seen
                paginator = BodyCursorPaginator("paging.next.after", "after", location="body")
            elif int(str(paginator.token)) >= SEARCH_RESULT_CAP:
                raise ConnectorError(
                    f"more than {SEARCH_RESULT_CAP} {self.stream.object} share the timestamp {lower}: HubSpot search cannot page past that"
                )
