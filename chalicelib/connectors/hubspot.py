"""HubSpot CRM search: ``hs_lastmodifieddate`` filter, ascending sort, ``after`` cursor.

Search's ``after`` is an offset into a live result: a record edited while we page
moves to the end and shifts the rest, so an offset carried across pages could step
over one. Each page therefore restarts the search from the newest timestamp seen
(``GTE``, a keyset restart); ``after`` is only followed inside a block of records
sharing one timestamp. This also keeps clear of search's 10,000-result cap.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from chalicelib.connectors.base import Position, Source, SourcePage
from chalicelib.connectors.models import RequestSpec
from chalicelib.connectors.pagination import BodyCursorPaginator
from chalicelib.errors import ConnectorError, MalformedPageError

SEARCH_RESULT_CAP = 10_000
MAX_PAGE_SIZE = 200
ASSOCIATION_BATCH = 1000  # inputs per v4 batch read
MAX_ASSOCIATION_REQUESTS = 100  # per page and object type: an object with that many pages of associations is an error


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
            for to_type in self.stream.associations:
                self.attach_associations(records, to_type)
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

    def attach_associations(self, records: list[dict[str, Any]], to_type: str) -> None:
        """Give each record ``associations.<to_type>.results`` (ids as text), as the CRM objects API shapes it.

        Search returns no associations, so the page's ids are read with the v4 batch API, following
        each object's own ``paging.next.after``. An object with none gets no entry, as in the objects
        API. An error for one object (a 207: say it was deleted since the search) leaves it without.
        """
        path = f"/crm/v4/associations/{self.stream.object}/{to_type}/batch/read"
        found: dict[str, list[str]] = {}
        pending: list[dict[str, str]] = [{"id": str(r["id"])} for r in records if isinstance(r, dict) and r.get("id") is not None]
        for sent in itertools.count():
            if not pending:
                break
            if sent == MAX_ASSOCIATION_REQUESTS:
                raise ConnectorError(f"{self.stream.object} → {to_type}: more than {sent} requests of associations for one page")
            batch, pending = pending[:ASSOCIATION_BATCH], pending[ASSOCIATION_BATCH:]
            page = self.client.send(RequestSpec("POST", path, json={"inputs": batch}))
            for result in self.records_at(page.body, "results", page.url):
                source_id, targets, after = _association_result(result, page.url)
                found.setdefault(source_id, []).extend(targets)
                if after is not None:
                    pending.append({"id": source_id, "after": after})
        kind = f"{_singular(self.stream.object)}_to_{_singular(to_type)}"
        for record in records:
            ids = found.get(str(record.get("id"))) if isinstance(record, dict) else None
            if ids:
                associations = record.setdefault("associations", {})
                associations[to_type] = {"results": [{"id": i, "type": kind} for i in dict.fromkeys(ids)]}


def _association_result(result: Any, url: str) -> tuple[str, list[str], str | None]:
    """(from id, associated ids, the ``after`` of this object's next page of associations or None)."""
    try:
        source_id = str(result["from"]["id"])
        targets = [str(to["toObjectId"]) for to in result.get("to") or []]
        after = ((result.get("paging") or {}).get("next") or {}).get("after")
    except (KeyError, TypeError, AttributeError):
        raise MalformedPageError("an association result without from.id or to[].toObjectId", url=url, snippet=str(result)[:120]) from None
    return source_id, targets, str(after) if after is not None else None


def _singular(object_type: str) -> str:
    """``companies`` → ``company``, ``deals`` → ``deal``: the objects API's association type names (``call_to_deal``)."""
    if object_type.endswith("ies"):
        return object_type[:-3] + "y"
    return object_type.removesuffix("s")
