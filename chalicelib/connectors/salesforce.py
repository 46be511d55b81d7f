"""Salesforce REST query: SOQL ordered by (LastModifiedDate, Id), followed through ``nextRecordsUrl``.

A query locator is a server-side cursor over the result as of the query, so a
record edited while we page gets a newer LastModifiedDate and is read by the next
run (or by the overlap window if its commit lagged its timestamp).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from chalicelib.connectors.base import Position, Source, SourcePage
from chalicelib.connectors.models import RequestSpec
from chalicelib.connectors.pagination import NextUrlPaginator
from chalicelib.errors import MalformedPageError


def soql_datetime(moment: datetime) -> str:
    """SOQL dateTime literal (unquoted, UTC, millisecond precision)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def soql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class SalesforceSource(Source):
    default_id_field = "Id"
    default_cursor_field = "LastModifiedDate"

    def soql(self, after: Position | None, overlap: timedelta) -> str:
        fields = list(dict.fromkeys([self.id_field, self.cursor_field, *self.stream.fields]))
        conditions: list[str] = []
        if self.strict(after, overlap):
            ts = soql_datetime(after.modified)
            conditions.append(f"({self.cursor_field} > {ts} OR ({self.cursor_field} = {ts} AND {self.id_field} > {soql_string(after.id)}))")
        else:
            lower = self.lower_bound(after, overlap)
            if lower is not None:
                conditions.append(f"{self.cursor_field} >= {soql_datetime(lower)}")
        if self.stream.where:
            conditions.append(f"({self.stream.where})")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return f"SELECT {', '.join(fields)} FROM {self.stream.object}{where} ORDER BY {self.cursor_field} ASC, {self.id_field} ASC"

    def pages(self, after: Position | None, overlap: timedelta) -> Iterator[SourcePage]:
        version = self.connector.api.api_version
        headers = {"Sforce-Query-Options": f"batchSize={self.stream.page_size}"} if self.stream.page_size else {}
        request = RequestSpec("GET", f"/services/data/{version}/query", params={"q": self.soql(after, overlap)}, headers=headers)
        paginator = NextUrlPaginator(("nextRecordsUrl",))
        while not paginator.finished:
            page = self.client.send(paginator.prepare(request))
            if not isinstance(page.body, dict) or "done" not in page.body:
                raise MalformedPageError("query response has no 'done' field", url=page.url)
            records = self.records_at(page.body, "records", page.url)
            total = page.body.get("totalSize")
            yield SourcePage(records, page.url, total if isinstance(total, int) else None)
            if page.body.get("done") is True:
                return
            paginator.advance(page, records)
            if paginator.finished:
                raise MalformedPageError("query says done=false but gives no nextRecordsUrl", url=page.url)
