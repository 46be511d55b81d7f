"""An httpx client that adds auth, the shared rate budget, retries and vendor slow-down signals.

Every page a sync reads goes through ``ApiClient.send``: take a token from the
budget, send, classify the answer (retry.py), parse JSON with ``Decimal`` floats.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from chalicelib.connectors.models import Page, RequestSpec
from chalicelib.connectors.rate_budget import RateBudget
from chalicelib.connectors.retry import RetryPolicy, describe, raise_for_response, slowdown_seconds
from chalicelib.errors import MalformedPageError
from chalicelib.runtime import tracing

log = logging.getLogger(__name__)


def parse_json(content: bytes, url: str) -> Any:
    """JSON with money-safe numbers; anything else is a MalformedPageError that quotes the start."""
    if not content.strip():
        raise MalformedPageError("empty response body where JSON was expected", url=url)
    try:
        return json.loads(content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPageError(f"response is not JSON ({exc})", url=url, snippet=content[:120].decode("utf-8", "replace")) from None


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class ApiClient:
    """One target API: base URL, auth, budget and retry policy; ``send`` returns a parsed Page."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        budget: RateBudget | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        honour_slowdown: bool = True,
    ):
        self.retry = retry or RetryPolicy()
        self.sleep = sleep if sleep is not None else self.retry.sleep
        self.budget = budget
        self.honour_slowdown = honour_slowdown
        self.requests = 0
        self.slept = 0.0
        self._pause = 0.0
        tracing.install()  # before the first HTTP client: its calls are traced
        self._http = httpx.Client(
            base_url=base_url,
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"Accept": "application/json", **(headers or {})},
            transport=transport,
            follow_redirects=False,
        )

    def send(self, spec: RequestSpec) -> Page:
        """The page ``spec`` names, after retries; raises the last error when retrying cannot help."""
        for attempt in self.retry.retrying():
            with attempt:
                try:
                    return self._send_once(spec)
                except Exception as exc:
                    log.info("api call failed: %s %s", type(exc).__name__, describe(exc))
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_once(self, spec: RequestSpec) -> Page:
        if self._pause > 0:
            self.slept += self._pause
            self.sleep(self._pause)
            self._pause = 0.0
        if self.budget is not None:
            self.budget.acquire()
        content = None
        headers = dict(spec.headers)
        if spec.json is not None:
            content = json.dumps(spec.json, default=_json_default, separators=(",", ":")).encode()
            headers.setdefault("Content-Type", "application/json")
        self.requests += 1
        response = self._http.request(spec.method, spec.url, params=dict(spec.params) or None, content=content, headers=headers or None)
        if self.honour_slowdown:
            self._pause = slowdown_seconds(response.headers)
        raise_for_response(response)
        url = str(response.url)
        return Page(url=url, status=response.status_code, headers=response.headers, body=parse_json(response.content, url))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)
