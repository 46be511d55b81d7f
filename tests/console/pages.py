"""Drive the console through Chalice's test client like a browser would: cookies, CSRF fields, forms."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def header(response: Any, name: str) -> Any:
    """A header of a response (or of its headers dict), whatever its case."""
    headers = response if isinstance(response, dict) else response.headers
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


class Browser:
    """Cookies in, cookies out; ``get`` and ``post`` return (status, headers, text)."""

    def __init__(self, client: Any):
        self.client = client
        self.cookies: dict[str, str] = {}

    def _remember(self, response: Any) -> None:
        values = header(response, "set-cookie") or []
        for value in [values] if isinstance(values, str) else values:
            name, _, rest = value.partition("=")
            content = rest.split(";", 1)[0]
            if "Max-Age=0" in value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = content

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {**({"Cookie": cookie} if cookie else {}), **(extra or {})}

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
        response = self.client.http.get(path, headers=self._headers(headers))
        self._remember(response)
        return response.status_code, response.headers, (response.body or b"").decode()

    def post(self, path: str, fields: dict[str, str], headers: dict[str, str] | None = None) -> tuple[int, Any, str]:
        response = self.client.http.post(path, headers=self._headers({**FORM, **(headers or {})}), body=urlencode(fields).encode())
        self._remember(response)
        return response.status_code, response.headers, (response.body or b"").decode()

    def submit(self, page_path: str, action: str, fields: dict[str, str]) -> tuple[int, Any, str]:
        """Open ``page_path``, take its CSRF token, post ``fields`` to ``action``."""
        status, _, html = self.get(page_path)
        assert status == 200, (status, html[:500])
        return self.post(action, {"csrf": csrf_of(html), **fields})

    def login(self, token: str, name: str = "alice") -> tuple[int, Any, str]:
        return self.submit("/console/login", "/console/login", {"token": token, "name": name})
