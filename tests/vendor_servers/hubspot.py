"""HubSpot CRM v3 search: filterGroups/sorts/after, ``paging.next.after``, 429 and the 10,000 cap.

Reproduced (the vendor's documented paging and limits): ``results`` plus
``paging.next.after`` (absent on the last page), ``after`` as the next offset into a
live result, a per-request ``limit`` of at most 200, a 400 past 10,000 results,
429 ``RATE_LIMIT`` bodies. Records sharing a timestamp come back in no particular
order (only one sort is allowed), which the fake reproduces by shuffling ties.

Associations (search returns none): ``POST /crm/v4/associations/{from}/{to}/batch/read`` with
``inputs: [{id, after?}]`` (at most 1,000), each object's ``to: [{toObjectId, associationTypes}]``
a page at a time with its own ``paging.next.after``; objects with an error (``broken``) answer
207 with ``errors`` beside the results.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from tests.vendor_servers.base import LoopbackServer, Request, Response, fill, json_response


def iso_ms(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _as_ms(value: Any) -> int:
    text = str(value)
    if text.isdigit():
        return int(text)
    return int(datetime.fromisoformat(text).timestamp() * 1000)


_OPS = {
    "GTE": lambda a, b: a >= b,
    "GT": lambda a, b: a > b,
    "EQ": lambda a, b: a == b,
    "LT": lambda a, b: a < b,
    "LTE": lambda a, b: a <= b,
}

RATE_LIMIT_BODY = {
    "status": "error",
    "message": "You have reached your secondly limit.",
    "errorType": "RATE_LIMIT",
    "correlationId": "c0ffee00-0000-4000-8000-000000000000",
    "policyName": "SECONDLY",
}


class HubSpotServer(LoopbackServer):
    def __init__(self, records: int = 0, *, token: str = "pat-na1-test", same_time_groups: int = 1):
        super().__init__()
        fill(self.dataset, records, lambda i: str(1000 + i), same_time_groups=same_time_groups)
        self.token = token
        self.associations: dict[tuple[str, str], dict[str, list[int]]] = {}  # (from type, to type) → from id → to ids
        self.association_page = 2  # associations per object per answer (HubSpot's is larger: small here to page)
        self.broken: set[str] = set()  # object ids whose associations answer an error (207)
        self.association_requests = 0

    def is_data_request(self, request: Request) -> bool:
        return request.path.endswith(("/search", "/batch/read"))

    def shape(self, record: dict[str, Any]) -> dict[str, Any]:
        modified = iso_ms(record["modified"])
        return {
            "id": record["id"],
            "properties": {
                "name": record["name"],
                "annualrevenue": str(record["amount"]),
                "hs_object_id": record["id"],
                "hs_lastmodifieddate": modified,
                "createdate": "2024-01-01T00:00:00.000Z",
            },
            "createdAt": "2024-01-01T00:00:00.000Z",
            "updatedAt": modified,
            "archived": False,
        }

    def handle(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return json_response(
                {
                    "status": "error",
                    "message": "Authentication credentials not found.",
                    "category": "INVALID_AUTHENTICATION",
                    "correlationId": "c0ffee00-0000-4000-8000-000000000001",
                },
                401,
            )
        parts = request.path.strip("/").split("/")
        if len(parts) == 5 and parts[:3] == ["crm", "v3", "objects"] and parts[4] == "search" and request.method == "POST":
            return self.search(request.json() or {})
        if len(parts) == 7 and parts[:3] == ["crm", "v4", "associations"] and parts[5:] == ["batch", "read"] and request.method == "POST":
            return self.read_associations(parts[3], parts[4], request.json() or {})
        return json_response({"status": "error", "message": "Not found", "category": "OBJECT_NOT_FOUND"}, 404)

    def search(self, body: dict[str, Any]) -> Response:
        limit = int(body.get("limit", 10))
        after = int(body.get("after") or 0)
        if limit > 200:
            return json_response({"status": "error", "message": "limit must be at most 200", "category": "VALIDATION_ERROR"}, 400)
        if after + limit > 10_000:
            return json_response(
                {"status": "error", "message": "search cannot page beyond 10,000 results", "category": "VALIDATION_ERROR"}, 400
            )
        rows = [self.shape(r) for r in self.dataset.sorted(lambda r: r["id"])]
        groups = body.get("filterGroups") or []
        if groups:
            rows = [r for r in rows if any(all(self._match(r, f) for f in g.get("filters", [])) for g in groups)]
        for sort in body.get("sorts", [])[:1]:
            prop = sort["propertyName"]
            tie = lambda r: hashlib.sha1(r["id"].encode()).hexdigest()  # noqa: E731 - ties come back unordered
            rows.sort(key=lambda r: (_as_ms(r["properties"].get(prop) or 0), tie(r)), reverse=sort.get("direction") == "DESCENDING")
        wanted = set(body.get("properties") or ["name", "hs_lastmodifieddate", "hs_object_id"])
        page = [
            dict(r, properties={k: v for k, v in r["properties"].items() if k in wanted or k == "hs_object_id"})
            for r in rows[after : after + limit]
        ]
        result: dict[str, Any] = {"total": len(rows), "results": page}
        if after + limit < len(rows):
            result["paging"] = {"next": {"after": str(after + limit)}}
        return json_response(result)

    def read_associations(self, from_type: str, to_type: str, body: dict[str, Any]) -> Response:
        self.association_requests += 1
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= 1000:
            return json_response({"status": "error", "message": "inputs: 1 to 1000 items", "category": "VALIDATION_ERROR"}, 400)
        known = self.associations.get((from_type, to_type), {})
        results, errors = [], []
        for item in inputs:
            object_id, start = str(item["id"]), int(item.get("after") or 0)
            if object_id in self.broken:
                errors.append(
                    {"status": "error", "category": "OBJECT_NOT_FOUND", "message": f"{object_id} not found", "context": {"id": [object_id]}}
                )
                continue
            targets = known.get(object_id, [])
            if not targets:
                continue
            page = targets[start : start + self.association_page]
            result: dict[str, Any] = {
                "from": {"id": object_id},
                "to": [
                    {"toObjectId": t, "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 206, "label": None}]} for t in page
                ],
            }
            if start + self.association_page < len(targets):
                result["paging"] = {"next": {"after": str(start + self.association_page), "link": None}}
            results.append(result)
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": "2026-11-20T00:00:00Z",
            "completedAt": "2026-11-20T00:00:01Z",
        }
        if errors:
            answer |= {"errors": errors, "numErrors": len(errors)}
        return json_response(answer, 207 if errors else 200)

    @staticmethod
    def _match(row: dict[str, Any], flt: dict[str, Any]) -> bool:
        value = row["properties"].get(flt["propertyName"])
        if value is None:
            return False
        if flt["propertyName"] in ("hs_lastmodifieddate", "createdate", "lastmodifieddate"):
            return _OPS[flt["operator"]](_as_ms(value), _as_ms(flt["value"]))
        return _OPS[flt["operator"]](str(value), str(flt["value"]))
