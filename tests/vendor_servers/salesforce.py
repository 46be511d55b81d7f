"""Salesforce REST: client-credentials token, SOQL query with ``nextRecordsUrl`` locators, limits.

Documented behaviour reproduced (the vendor's documented paging and limits):
``done``/``totalSize``/``records``/``nextRecordsUrl`` (locator suffix is the offset;
"these requests ... don't include any parameters"), ``Sforce-Query-Options: batchSize``,
``Sforce-Limit-Info: api-usage=n/limit`` on every answer, 403 ``REQUEST_LIMIT_EXCEEDED``
once the org limit is spent, 401 ``INVALID_SESSION_ID`` for an expired token.
The query locator is a snapshot of the result taken when the query ran.

Write-back: ``POST /sobjects/<type>`` creates a record (201 ``{"id", "success", "errors"}``; 400
``REQUIRED_FIELD_MISSING`` / ``INVALID_FIELD`` as the REST API answers), and
``SELECT Id FROM <type> WHERE <field> LIKE '%<text>%'`` finds created records. ``lose_answers``
creates the record and then answers 503, as when the answer is lost on its way back.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from tests.vendor_servers.base import LoopbackServer, Request, Response, fill, json_response

VERSION = "v60.0"
_WHERE_GE = re.compile(r"^(\w+) >= (\S+)$")
_WHERE_STRICT = re.compile(r"^\((\w+) > (\S+) OR \((\w+) = (\S+) AND (\w+) > '((?:[^'\\]|\\.)*)'\)\)$")
_LIKE = re.compile(r"^SELECT Id FROM (\w+) WHERE (\w+) LIKE '%((?:[^'\\]|\\.)*)%'$")
REQUIRED = {"Task": ("Subject",)}  # fields this fake insists on, per sObject (an org's validation rules)
_SOQL = re.compile(r"^SELECT (.+?) FROM (\w+)(?: WHERE (.+?))? ORDER BY (\w+) ASC, (\w+) ASC$")


def sf_id(i: int) -> str:
    return f"001Dx{i:013d}"


def sf_time(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def _literal(text: str) -> datetime:
    return datetime.fromisoformat(text)


class SalesforceServer(LoopbackServer):
    def __init__(
        self,
        records: int = 0,
        *,
        client_id: str = "3MVG9-client",
        client_secret: str = "s3cr3t",
        api_limit: int = 100_000,
        same_time_groups: int = 1,
    ):
        super().__init__()
        fill(self.dataset, records, sf_id, same_time_groups=same_time_groups)
        self.client_id, self.client_secret = client_id, client_secret
        self.api_limit, self.api_used = api_limit, 0
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.locators: dict[str, list[dict[str, Any]]] = {}
        self._counter = itertools.count(1)
        self.created: dict[str, list[dict[str, Any]]] = {}  # sObject type -> records created through the API
        self.lose_answers = 0  # the next creates succeed but answer 503

    def is_data_request(self, request: Request) -> bool:
        return request.path.startswith(f"/services/data/{VERSION}/query") or request.path.startswith(f"/services/data/{VERSION}/sobjects/")

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def shape(self, record: dict[str, Any], obj: str) -> dict[str, Any]:
        return {
            "attributes": {"type": obj, "url": f"/services/data/{VERSION}/sobjects/{obj}/{record['id']}"},
            "Id": record["id"],
            "Name": record["name"],
            "AnnualRevenue": record["amount"],
            "LastModifiedDate": sf_time(record["modified"]),
        }

    def handle(self, request: Request) -> Response:
        if request.path == "/services/oauth2/token" and request.method == "POST":
            return self.token(request)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return json_response([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], 401)
        self.api_used += 1
        limit = {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_limit}"}
        if self.api_used > self.api_limit:
            return json_response([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}], 403, limit)
        if request.path == f"/services/data/{VERSION}/query":
            like = _LIKE.match(request.arg("q") or "")
            return self.lookup(like, limit) if like else self.query(request, limit)
        create = re.fullmatch(rf"/services/data/{VERSION}/sobjects/(\w+)", request.path)
        if create and request.method == "POST":
            return self.create(create.group(1), request.json(), limit)
        match = re.fullmatch(rf"/services/data/{VERSION}/query/(\w+)-(\d+)", request.path)
        if match and request.method == "GET":
            if request.query:
                return json_response([{"message": "nextRecordsUrl takes no parameters", "errorCode": "MALFORMED_QUERY"}], 400)
            return self.batch(match.group(1), int(match.group(2)), limit)
        return json_response([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}], 404)

    def token(self, request: Request) -> Response:
        self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type", "error_description": "grant type not supported"}, 400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return json_response({"error": "invalid_client", "error_description": "invalid client credentials"}, 400)
        token = f"00Dxx0000001gPL!AQ4AQ{next(self._counter):06d}"
        self.tokens.add(token)
        return json_response(
            {
                "access_token": token,
                "signature": "sig",
                "scope": "api",
                "instance_url": self.url,
                "id": f"{self.url}/id/00Dxx0000001gPL/005xx000001SwiU",
                "token_type": "Bearer",
                "issued_at": "1700000000000",
            }
        )

    def query(self, request: Request, headers: dict[str, str]) -> Response:
        soql = request.arg("q") or ""
        match = _SOQL.match(soql)
        if not match:
            return json_response([{"message": f"unexpected SOQL: {soql}", "errorCode": "MALFORMED_QUERY"}], 400)
        obj, where = match.group(2), match.group(3)
        rows = self.dataset.sorted(lambda r: (r["modified"], r["id"]))
        if where:
            ge, strict = _WHERE_GE.match(where), _WHERE_STRICT.match(where)
            if ge:
                bound = _literal(ge.group(2))
                rows = [r for r in rows if r["modified"] >= bound]
            elif strict:
                bound, last_id = _literal(strict.group(2)), strict.group(6)
                rows = [r for r in rows if r["modified"] > bound or (r["modified"] == bound and r["id"] > last_id)]
            else:
                return json_response([{"message": f"unsupported WHERE: {where}", "errorCode": "MALFORMED_QUERY"}], 400)
        options = request.headers.get("sforce-query-options", "")
        size = int(options.split("=", 1)[1]) if options.startswith("batchSize=") else 2000
        locator = f"01gD{next(self._counter):012d}"
        self.locators[locator] = [self.shape(r, obj) for r in rows]  # the snapshot the cursor walks
        self.locators[locator + "#size"] = size  # type: ignore[assignment]
        return self.batch(locator, 0, headers)

    def create(self, obj: str, body: Any, headers: dict[str, str]) -> Response:
        if not isinstance(body, dict):
            return json_response([{"message": "expected a JSON object", "errorCode": "JSON_PARSER_ERROR"}], 400, headers)
        for name in body:
            if not re.fullmatch(r"[A-Z]\w*", name):
                return json_response([{"message": f"No such column '{name}' on sobject of type {obj}", "errorCode": "INVALID_FIELD"}], 400)
        missing = [f for f in REQUIRED.get(obj, ()) if not body.get(f)]
        if missing:
            message = f"Required fields are missing: [{', '.join(missing)}]"
            return json_response([{"message": message, "errorCode": "REQUIRED_FIELD_MISSING", "fields": missing}], 400, headers)
        prefix = {"Task": "00T", "Lead": "00Q"}.get(obj, "a0X")
        record_id = f"{prefix}Dx{next(self._counter):013d}"
        with self._lock:
            self.created.setdefault(obj, []).append({"Id": record_id, **body})
            lost = self.lose_answers > 0
            self.lose_answers -= 1 if lost else 0
        if lost:
            return json_response([{"message": "Service Unavailable", "errorCode": "SERVER_UNAVAILABLE"}], 503, headers)
        return json_response({"id": record_id, "success": True, "errors": []}, 201, headers)

    def lookup(self, like: re.Match[str], headers: dict[str, str]) -> Response:
        obj, field, text = like.group(1), like.group(2), like.group(3)
        rows = [{"attributes": {"type": obj}, "Id": r["Id"]} for r in self.created.get(obj, []) if text in str(r.get(field, ""))]
        return json_response({"totalSize": len(rows), "done": True, "records": rows}, 200, headers)

    def batch(self, locator: str, offset: int, headers: dict[str, str]) -> Response:
        rows = self.locators.get(locator)
        if rows is None:
            return json_response([{"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}], 400)
        size: int = self.locators[locator + "#size"]  # type: ignore[assignment]
        chunk = rows[offset : offset + size]
        done = offset + size >= len(rows)
        body: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": chunk}
        if not done:
            body["nextRecordsUrl"] = f"/services/data/{VERSION}/query/{locator}-{offset + size}"
        return json_response(body, 200, headers)
