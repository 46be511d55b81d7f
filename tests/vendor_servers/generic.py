"""A made-up REST API offering every generic style, for generic_rest connectors and paginator tests.

Styles: ``cursor`` (``meta.next_cursor`` → ``?cursor=``), ``offset`` (``offset``/``limit``
with ``total``), ``page`` (``page``/``per_page`` with ``total_pages``), ``odata4``
(``value`` + ``@odata.nextLink``), ``odata2`` (``d.results`` + ``d.__next``), ``link``
(RFC 8288 Link header). ``loop=True`` makes the server hand out the same cursor forever.
Auth: ``X-API-Key`` header or basic auth.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from tests.vendor_servers.base import LoopbackServer, Request, Response, fill, json_response


class GenericServer(LoopbackServer):
    def __init__(self, records: int = 0, *, api_key: str = "k-123", basic: tuple[str, str] | None = None, same_time_groups: int = 1):
        super().__init__()
        fill(self.dataset, records, lambda i: f"itm_{i:06d}", same_time_groups=same_time_groups)
        self.api_key, self.basic = api_key, basic
        self.loop = False

    def is_data_request(self, request: Request) -> bool:
        return request.path.startswith("/api/")

    def shape(self, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "uuid": record["id"],
            "title": record["name"],
            "price": record["amount"],
            "updated_at": record["modified"].astimezone(UTC).isoformat(),
        }

    def authorised(self, request: Request) -> bool:
        if self.basic:
            expected = "Basic " + base64.b64encode(f"{self.basic[0]}:{self.basic[1]}".encode()).decode()
            return request.headers.get("authorization") == expected
        return request.headers.get("x-api-key") == self.api_key

    def rows(self, request: Request) -> list[dict[str, Any]]:
        rows = self.dataset.sorted(lambda r: (r["modified"], r["id"]))
        since = request.arg("updated_since")
        if since:
            bound = datetime.fromisoformat(since)
            rows = [r for r in rows if r["modified"] >= bound]
        return [self.shape(r) for r in rows]

    def handle(self, request: Request) -> Response:
        if not self.authorised(request):
            return json_response({"error": "unauthorized", "message": "missing or wrong credentials"}, 401)
        style = request.path.removeprefix("/api/").split("/")[0]
        rows = self.rows(request)
        if style == "cursor":
            start = int(request.arg("cursor") or 0)
            size = int(request.arg("size") or 25)
            chunk = rows[start : start + size]
            nxt = str(start + size) if start + size < len(rows) else None
            if self.loop:
                nxt = "5"  # a buggy API: the same cursor forever
            return json_response({"data": chunk, "meta": {"next_cursor": nxt}})
        if style == "offset":
            offset, limit = int(request.arg("offset") or 0), int(request.arg("limit") or 25)
            return json_response({"items": rows[offset : offset + limit], "total": len(rows)})
        if style == "page":
            page, per = int(request.arg("page") or 1), int(request.arg("per_page") or 25)
            pages = max(1, -(-len(rows) // per))
            return json_response({"data": rows[(page - 1) * per : page * per], "page": page, "total_pages": pages})
        if style in ("odata4", "odata2", "link"):
            skip, top = int(request.arg("$skiptoken") or 0), int(request.arg("$top") or 25)
            chunk = rows[skip : skip + top]
            more = skip + top < len(rows)
            since = request.arg("updated_since")
            carry = f"&updated_since={quote(since)}" if since else ""
            nxt = f"{request.path}?$skiptoken={skip + top}&$top={top}{carry}" if more else None
            if style == "odata4":
                body: dict[str, Any] = {"@odata.context": f"{self.url}/api/$metadata#Items", "value": chunk}
                if nxt:
                    body["@odata.nextLink"] = f"{self.url}{nxt}"
                return json_response(body)
            if style == "odata2":
                d: dict[str, Any] = {"results": chunk}
                if nxt:
                    d["__next"] = nxt  # relative, as in SAP's samples
                return json_response({"d": d})
            headers = {"Link": f'<{self.url}{nxt}>; rel="next"'} if nxt else {}
            return json_response(chunk, 200, headers)
        return json_response({"error": "not_found", "message": request.path}, 404)
