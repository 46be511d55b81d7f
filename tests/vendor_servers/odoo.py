"""Odoo external API over JSON-RPC (``/jsonrpc``: ``common.login``, ``object.execute_kw``).

Reproduced (the vendor's documented JSON-RPC API): the JSON-RPC 2.0 envelope, ``search_read``
with a prefix-notation domain, ``fields``, ``offset``, ``limit``, ``order``; errors as
HTTP 200 with an ``error`` object (``odoo.exceptions.AccessDenied``), naive UTC
``write_date`` strings with second precision, floats for monetary fields.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.vendor_servers.base import Dataset, LoopbackServer, Request, Response, fill, json_response

_CMP = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "in": lambda a, b: a in b,
}


def odoo_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def evaluate(domain: list[Any], row: dict[str, Any]) -> bool:
    """Odoo's domain: prefix operators '|', '&', '!' over (field, op, value) terms, implicit AND."""

    def term(i: int) -> tuple[bool, int]:
        item = domain[i]
        if item == "|":
            a, j = term(i + 1)
            b, k = term(j)
            return a or b, k
        if item == "&":
            a, j = term(i + 1)
            b, k = term(j)
            return a and b, k
        if item == "!":
            a, j = term(i + 1)
            return not a, j
        field, op, value = item
        return _CMP[op](row.get(field), value), i + 1

    i, result = 0, True
    while i < len(domain):
        ok, i = term(i)
        result = result and ok
    return result


def access_denied() -> dict[str, Any]:
    return {
        "code": 200,
        "message": "Odoo Server Error",
        "data": {
            "name": "odoo.exceptions.AccessDenied",
            "debug": "Traceback (most recent call last): ...",
            "message": "Access Denied",
            "arguments": ["Access Denied"],
            "context": {},
        },
    }


class OdooServer(LoopbackServer):
    def __init__(
        self,
        records: int = 0,
        *,
        db: str = "salesdb",
        login: str = "sync@example.com",
        api_key: str = "odoo-api-key",
        same_time_groups: int = 1,
    ):
        super().__init__()
        self.dataset = Dataset(resolution=timedelta(seconds=1))
        fill(self.dataset, records, lambda i: i + 1, same_time_groups=same_time_groups)
        self.db, self.login, self.api_key, self.uid = db, login, api_key, 2

    def is_data_request(self, request: Request) -> bool:
        return b'"search_read"' in request.body

    def shape(self, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": record["id"],
            "name": record["name"],
            "amount_total": float(record["amount"]),
            "write_date": odoo_time(record["modified"]),
            "state": "sale",
        }

    def handle(self, request: Request) -> Response:
        if request.path != "/jsonrpc" or request.method != "POST":
            return Response(404, b"<html><body>404 Not Found</body></html>", {"Content-Type": "text/html"})
        call = request.json()
        params = call.get("params", {})
        service, method, args = params.get("service"), params.get("method"), params.get("args", [])
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": call.get("id")}
        if service == "common" and method == "login":
            db, login, password = args
            ok = db == self.db and login == self.login and password == self.api_key
            reply["result"] = self.uid if ok else False
            return json_response(reply)
        if service == "object" and method == "execute_kw":
            db, uid, password, model, model_method, margs, kwargs = (args + [{}])[:7]
            if db != self.db or uid != self.uid or password != self.api_key:
                reply["error"] = access_denied()
                return json_response(reply)
            if model_method != "search_read":
                reply["error"] = {
                    "code": 200,
                    "message": "Odoo Server Error",
                    "data": {"name": "builtins.AttributeError", "message": f"no method {model_method}"},
                }
                return json_response(reply)
            reply["result"] = self.search_read(margs[0] if margs else [], kwargs)
            return json_response(reply)
        reply["error"] = {
            "code": 404,
            "message": "service not found",
            "data": {"name": "werkzeug.exceptions.NotFound", "message": "service not found"},
        }
        return json_response(reply)

    def search_read(self, domain: list[Any], kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        rows = [self.shape(r) for r in self.dataset.sorted(lambda r: r["id"])]
        rows = [r for r in rows if evaluate(domain, r)]
        for part in reversed([p.strip() for p in (kwargs.get("order") or "id asc").split(",")]):
            name, _, direction = part.partition(" ")
            rows.sort(key=lambda r: r[name], reverse=direction.lower() == "desc")
        offset, limit = int(kwargs.get("offset") or 0), kwargs.get("limit")
        rows = rows[offset : offset + limit] if limit else rows[offset:]
        fields = kwargs.get("fields")
        return [{k: v for k, v in r.items() if not fields or k in fields or k == "id"} for r in rows]
