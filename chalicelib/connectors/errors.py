"""What can go wrong talking to a source API, as exceptions a runner can act on."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class: a source API call failed in a way the caller must see."""


class ApiError(ConnectorError):
    """The API answered with an error that retrying will not fix (e.g. 400, 404)."""

    def __init__(self, message: str, *, status: int, url: str, body: str = "", vendor_code: str | None = None):
        self.status = status
        self.url = url
        self.body = body
        self.vendor_code = vendor_code
        super().__init__(f"{message} (HTTP {status} from {url})")


class RetryableError(ConnectorError):
    """A transient answer (429, 5xx, vendor limit signal); ``retry_after`` is seconds, if the vendor said."""

    def __init__(self, message: str, *, status: int | None, url: str, retry_after: float | None = None, vendor_code: str | None = None):
        self.status = status
        self.url = url
        self.retry_after = retry_after
        self.vendor_code = vendor_code
        super().__init__(message)


class RateLimited(RetryableError):
    """The vendor says we are over its limit (429, Salesforce 403 REQUEST_LIMIT_EXCEEDED)."""


class AuthError(ApiError):
    """Credentials were refused even after a fresh token."""


class MalformedPageError(ConnectorError):
    """A page that cannot be trusted (not JSON, missing fields): stop before anything is lost."""

    def __init__(self, message: str, *, url: str = "", snippet: str = ""):
        self.url = url
        self.snippet = snippet
        detail = f" at {url}" if url else ""
        tail = f"; body starts: {snippet!r}" if snippet else ""
        super().__init__(f"{message}{detail}{tail}")


class PaginationLoopError(ConnectorError):
    """The API handed back a page token it already gave: following it would never end."""


class BudgetExhausted(ConnectorError):
    """The shared rate budget has no token before the caller's deadline."""
