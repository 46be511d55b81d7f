"""Odoo JSON-RPC ``search_read`` over ``write_date``, ordered ``write_date, id``.

Paging is keyset, not offset: each page asks for records strictly after the last
one read (``write_date > t OR (write_date = t AND id > i)``) with offset 0. An
offset into a live, re-sorting result would skip a record whenever another one is
edited mid-sync and moves to the end; the keyset domain cannot. (OffsetPaginator
is still what ``search_read`` offers for plain listings; see pagination.py.)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.connectors.base import Position, Source, SourcePage
from chalicelib.connectors.models import RequestSpec
from chalicelib.errors import AuthError, MalformedPageError, VendorApiError

_ids = itertools.count(1)


def odoo_datetime(moment: datetime) -> str:
    """Odoo stores naive UTC datetimes with second precision."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


class OdooSource(Source):
    default_id_field = "id"
    default_cursor_field = "write_date"

    def __init__(self, connector: Any, stream: Any, client: Any, resolve: Callable[[dict[str, Any]], str] | None = None):
        super().__init__(connector, stream, client)
        auth = connector.api.auth
        self.database = connector.api.database
        self._credentials = (auth.username, auth.password)
        self._resolve = resolve
        self._uid: int | None = None
        self._password: str | None = None

    # -- JSON-RPC plumbing
    def call(self, service: str, method: str, *args: Any) -> Any:
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": next(_ids),
            "params": {"service": service, "method": method, "args": list(args)},
        }
        page = self.client.send(RequestSpec("POST", "/jsonrpc", json=payload))
        body = page.body
        if not isinstance(body, dict):
            raise MalformedPageError("JSON-RPC answer is not an object", url=page.url)
        if "error" in body:
            error = body["error"] or {}
            data = error.get("data") or {}
            name, message = data.get("name", ""), data.get("message") or error.get("message", "")
            cls = AuthError if "AccessDenied" in name or error.get("code") == 100 else VendorApiError
            raise cls(f"Odoo {name or 'error'}: {message}", status=200, url=page.url, vendor_code=name or None)
        if "result" not in body:
            raise MalformedPageError("JSON-RPC answer has neither result nor error", url=page.url)
        return body["result"], page.url

    def _secret(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if self._resolve is None:
            raise AuthError("no secret resolver was given for the Odoo credentials", status=0, url="")
        return self._resolve(value.as_dict())

    def password(self) -> str:
        """The API key (Odoo accepts it in place of the password), resolved once per run."""
        if self._password is None:
            self._password = self._secret(self._credentials[1])
        return self._password

    def uid(self) -> int:
        if self._uid is None:
            result, url = self.call("common", "login", self.database, self._secret(self._credentials[0]), self.password())
            if not isinstance(result, int) or isinstance(result, bool):
                raise AuthError("Odoo login refused (wrong login or API key)", status=200, url=url)
            self._uid = result
        return self._uid

    def domain(self, after: Position | None, overlap: timedelta) -> list[Any]:
        field = self.cursor_field
        extra = [tuple(t) if isinstance(t, list) else t for t in self.stream.domain]
        if self.strict(after, overlap):
            ts = odoo_datetime(after.modified)
            return [*extra, "|", (field, ">", ts), "&", (field, "=", ts), (self.id_field, ">", int(after.id))]
        lower = self.lower_bound(after, overlap)
        return [*extra, (field, ">=", odoo_datetime(lower))] if lower is not None else extra

    def pages(self, after: Position | None, overlap: timedelta) -> Iterator[SourcePage]:
        limit = self.stream.page_size or 200
        fields = list(dict.fromkeys([self.id_field, self.cursor_field, *self.stream.fields]))
        domain = self.domain(after, overlap)
        while True:
            kwargs = {"fields": fields, "limit": limit, "offset": 0, "order": f"{self.cursor_field} asc, {self.id_field} asc"}
            result, url = self.call(
                "object", "execute_kw", self.database, self.uid(), self.password(), self.stream.object, "search_read", [domain], kwargs
            )
            records = self.records_at(result, "", url)
            yield SourcePage(records, url)
            if len(records) < limit:
                return
            last = self.position_of(records[-1])
            domain = self.domain(last, timedelta(0))
