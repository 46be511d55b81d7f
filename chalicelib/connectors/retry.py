"""When to try a call again, and how long to wait first.

Transient answers (429, 5xx, timeouts, Salesforce's 403 ``REQUEST_LIMIT_EXCEEDED``)
are retried with jittered exponential backoff; a vendor's ``Retry-After`` (seconds
or an HTTP date) wins over our own guess. A wait that would outlast the caller's
deadline is not started: the error surfaces and the sync checkpoints instead.
Vendors that report their bucket (Shopify's ``X-Shopify-Shop-Api-Call-Limit``,
HubSpot's ``X-HubSpot-RateLimit-Remaining``) get a pause *before* they say 429.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from chalicelib.errors import AuthError, RateLimited, RetryableError, VendorApiError

if TYPE_CHECKING:  # pragma: no cover
    import httpx
    import tenacity

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds (``2``, ``2.0``) or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN guard


def vendor_error(body: bytes) -> tuple[str | None, str]:
    """(code, message) from the error bodies vendors send: Salesforce's list, Odoo's and HubSpot's objects."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, body[:200].decode("utf-8", "replace")
    if isinstance(data, list) and data and isinstance(data[0], dict):  # Salesforce: [{message, errorCode}]
        return data[0].get("errorCode"), str(data[0].get("message", ""))
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):  # JSON-RPC
            data_part = err.get("data")
            inner: dict[str, Any] = data_part if isinstance(data_part, dict) else err
            return inner.get("name") or str(err.get("code")), str(inner.get("message", ""))
        code = (
            data.get("errorType") or data.get("category") or data.get("name") or data.get("code") or (err if isinstance(err, str) else None)
        )  # OAuth2: {"error": "invalid_client", ...}
        message = data.get("message") or data.get("error_description") or data.get("errors") or err or ""
        return (str(code) if code is not None else None), str(message)
    return None, str(data)[:200]


def raise_for_response(response: httpx.Response) -> None:
    """Turn a non-2xx answer into the exception that says what to do about it."""
    status = response.status_code
    if status < 400:
        return
    url = str(response.request.url)
    code, message = vendor_error(response.content)
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status == 429 or (status == 403 and code == "REQUEST_LIMIT_EXCEEDED"):
        raise RateLimited(f"rate limited by {url}: {message or status}", status=status, url=url, retry_after=retry_after, vendor_code=code)
    if status in RETRYABLE_STATUS:
        raise RetryableError(f"HTTP {status} from {url}: {message}", status=status, url=url, retry_after=retry_after, vendor_code=code)
    error_cls = AuthError if status in (401, 403) else VendorApiError
    raise error_cls(message or response.reason_phrase, status=status, url=url, body=response.text[:500], vendor_code=code)


def slowdown_seconds(headers: Mapping[str, str], *, shopify_leak_rate: float = 2.0, threshold: float = 0.8) -> float:
    """A pause that keeps a vendor's reported bucket from filling: 0 when there is room."""
    shopify = headers.get("x-shopify-shop-api-call-limit")
    if shopify and "/" in shopify:
        try:
            used, size = (float(x) for x in shopify.split("/", 1))
        except ValueError:
            return 0.0
        excess = used - threshold * size
        return max(0.0, excess / shopify_leak_rate) if excess > 0 else 0.0
    remaining = headers.get("x-hubspot-ratelimit-remaining")
    if remaining is not None and remaining.strip() == "0":
        interval_ms = headers.get("x-hubspot-ratelimit-interval-milliseconds", "1000")
        try:
            return float(interval_ms) / 1000.0
        except ValueError:
            return 1.0
    return 0.0


@dataclass
class RetryPolicy:
    """Attempts, backoff bounds and the clock/sleep to use (tests inject both)."""

    max_attempts: int = 6
    initial_wait: float = 0.5
    max_wait: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    deadline: Callable[[], float] | None = None  # seconds left for the whole job
    deadline_margin: float = 5.0
    jitter: Callable[[], float] = field(default=random.random)

    def wait_for(self, attempt: int, error: BaseException | None) -> float:
        """Retry-After when the vendor gave one (plus ≤10 % jitter), else full-jitter exponential."""
        hint = getattr(error, "retry_after", None)
        if hint is not None:
            return float(hint) * (1.0 + 0.1 * self.jitter())
        ceiling = min(self.max_wait, self.initial_wait * (2 ** (attempt - 1)))
        return float(ceiling * (0.5 + 0.5 * self.jitter()))

    def retrying(self) -> tenacity.Retrying:
        import httpx
        import tenacity

        def wait(state: tenacity.RetryCallState) -> float:
            return self.wait_for(state.attempt_number, state.outcome.exception() if state.outcome else None)

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts or state.upcoming_sleep > self.max_wait:
                return True
            if self.deadline is not None:
                return state.upcoming_sleep > self.deadline() - self.deadline_margin
            return False

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((RetryableError, httpx.TimeoutException, httpx.TransportError)),
            wait=wait,
            stop=stop,
            sleep=self.sleep,
            reraise=True,
        )


def describe(error: BaseException) -> dict[str, Any]:
    """Loggable facts about a failed call (never the request's credentials)."""
    return {k: getattr(error, k) for k in ("status", "url", "vendor_code", "retry_after") if hasattr(error, k)}
