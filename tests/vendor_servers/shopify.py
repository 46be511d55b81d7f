"""Shopify REST Admin: ``updated_at_min``, ``Link`` header ``page_info`` cursors, the call-limit bucket.

Reproduced (the vendor's documented paging and limits): ``<url>; rel="previous",
<url>; rel="next"`` with opaque ``page_info`` that must be used as given and with no
other filter beside ``limit``/``fields``; no Link header when one page suffices;
``X-Shopify-Shop-Api-Call-Limit: used/40`` leaking 2 per second; 429 with
``Retry-After`` when the bucket overflows; 401 for a bad access token.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from tests.vendor_servers.base import LoopbackServer, Request, Response, fill, json_response

VERSION = "2024-01"
EASTERN = timezone(timedelta(hours=-5))


class ShopifyServer(LoopbackServer):
    def __init__(
        self,
        records: int = 0,
        *,
        token: str = "shpat_test",
        bucket: int = 40,
        leak_per_second: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        same_time_groups: int = 1,
    ):
        super().__init__()
        fill(self.dataset, records, lambda i: 450789469 + i, same_time_groups=same_time_groups)
        self.token, self.bucket, self.leak, self.clock = token, bucket, leak_per_second, clock
        self._level, self._at = 0.0, clock()
        self._bucket_lock = threading.Lock()

    def is_data_request(self, request: Request) -> bool:
        return request.path.endswith(".json")

    def shape(self, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": record["id"],
            "name": f"#{1000 + record['id'] % 10000}",
            "total_price": str(record["amount"]),
            "currency": "USD",
            "updated_at": record["modified"].astimezone(EASTERN).isoformat(),
            "created_at": "2024-01-01T00:00:00-05:00",
        }

    def take(self) -> tuple[bool, str]:
        with self._bucket_lock:
            now = self.clock()
            self._level = max(0.0, self._level - (now - self._at) * self.leak)
            self._at = now
            if self._level + 1 > self.bucket:
                return False, f"{self.bucket}/{self.bucket}"
            self._level += 1
            return True, f"{int(round(self._level))}/{self.bucket}"

    def handle(self, request: Request) -> Response:
        if request.headers.get("x-shopify-access-token") != self.token:
            return json_response({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}, 401)
        ok, level = self.take()
        if not ok:
            return json_response(
                {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."},
                429,
                {"Retry-After": "2.0", "X-Shopify-Shop-Api-Call-Limit": level},
            )
        prefix = f"/admin/api/{VERSION}/"
        if not (request.path.startswith(prefix) and request.path.endswith(".json")):
            return json_response({"errors": "Not Found"}, 404)
        resource = request.path[len(prefix) : -5]
        return self.listing(request, resource, {"X-Shopify-Shop-Api-Call-Limit": level})

    def listing(self, request: Request, resource: str, headers: dict[str, str]) -> Response:
        limit = int(request.arg("limit", "50"))
        if limit > 250:
            return json_response({"errors": {"limit": "must be less than or equal to 250"}}, 400)
        page_info = request.arg("page_info")
        if page_info:
            extra = set(request.query) - {"page_info", "limit", "fields"}
            if extra:
                return json_response({"errors": {"page_info": f"cannot be combined with {sorted(extra)}"}}, 400)
            try:
                state = json.loads(base64.urlsafe_b64decode(page_info.encode()))
            except ValueError:
                return json_response({"errors": {"page_info": "Invalid value."}}, 400)
        else:
            state = {"min": request.arg("updated_at_min"), "last": None}
        rows = self.dataset.sorted(lambda r: (r["modified"], r["id"]))
        if state["min"]:
            bound = datetime.fromisoformat(state["min"])
            rows = [r for r in rows if r["modified"] >= bound]
        if state["last"]:  # keyset: strictly after the last row the previous page ended on
            last_t, last_id = datetime.fromisoformat(state["last"][0]), state["last"][1]
            rows = [r for r in rows if (r["modified"], r["id"]) > (last_t, last_id)]
        chunk, more = rows[:limit], len(rows) > limit
        links = []
        base = f"{self.url}{request.path}"
        if page_info:
            prev = dict(state, last=None)
            links.append(f'<{base}?{urlencode({"limit": limit, "page_info": _token(prev)})}>; rel="previous"')
        if more:
            nxt = dict(state, last=[chunk[-1]["modified"].isoformat(), chunk[-1]["id"]])
            links.append(f'<{base}?{urlencode({"limit": limit, "page_info": _token(nxt)})}>; rel="next"')
        if links:
            headers = {**headers, "Link": ", ".join(links)}
        return json_response({resource: [self.shape(r) for r in chunk]}, 200, headers)


def _token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()
