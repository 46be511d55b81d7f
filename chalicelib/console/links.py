"""Signed, expiring links to a customer's data-usage page: no account, nothing stored.

A link is ``/my-data/<customer>.<expiry>.<signature>``: the customer's entity key (URL-safe
base64), the expiry (Unix seconds) and an HMAC-SHA256 over both with the key derived for
customer links from the console key. Changing either part, or the key, breaks the signature;
a link cannot be withdrawn before it expires except by rotating the console key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.console import signing
from chalicelib.errors import LinkRefused
from chalicelib.runtime.settings import Settings
from chalicelib.store import keys

_PURPOSE = "customer-link/v1"
MAX_DAYS = 90
PATH = "/my-data/"


@dataclass(frozen=True)
class CustomerLink:
    entity_key: str  # customer#cus_…
    expires: int

    @property
    def customer_id(self) -> str:
        return self.entity_key.partition("#")[2]


def make_token(settings: Settings, entity_key: str, expires: int) -> str:
    body = f"{signing.b64(entity_key.encode())}.{expires}"
    return f"{body}.{signing.sign(settings, _PURPOSE, body)}"


def read_token(settings: Settings, token: str, *, now: float | None = None) -> CustomerLink:
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise LinkRefused("malformed")
    encoded, expires, signature = parts
    if not signing.verify(settings, _PURPOSE, f"{encoded}.{expires}", signature):
        raise LinkRefused("tampered")
    try:
        entity_key = signing.unb64(encoded).decode()
    except (ValueError, UnicodeDecodeError):
        raise LinkRefused("malformed") from None
    if not entity_key.startswith("customer#"):
        raise LinkRefused("malformed")
    if int(expires) <= (now if now is not None else time.time()):
        raise LinkRefused("expired")
    return CustomerLink(entity_key, int(expires))


def issue_link(settings: Settings, entity_key: str, days: Any, actor: str, base_url: str) -> dict[str, Any]:
    """A link for the customer, valid ``days`` days; audited in the customer's consent history."""
    from chalicelib.api import admin
    from chalicelib.api.errors import bad_request
    from chalicelib.console import audit_log

    if not entity_key.startswith("customer#"):
        raise bad_request("data-usage links are for customers: source=<connector>/customer/<id> or entity=customer#cus_…")
    if isinstance(days, bool) or not isinstance(days, (int, str)) or not str(days).isdigit() or not 1 <= int(days) <= MAX_DAYS:
        raise bad_request(f"days must be a whole number from 1 to {MAX_DAYS}")
    admin.entity_state(settings, {"entity": entity_key})  # 404 for a customer nothing is stored about (a mistyped reference)
    expires = int(time.time()) + int(days) * 86400
    token = make_token(settings, entity_key, expires)
    expires_at = datetime.fromtimestamp(expires, UTC).isoformat()
    audit_log.record(
        settings,
        "customer_link_issued",
        actor,
        keys.consent_chain(entity_key.partition("#")[2]),
        {"customer": entity_key, "expires_at": expires_at, "link_id": link_id(token)},
    )
    return {"customer": entity_key, "url": base_url.rstrip("/") + PATH + token, "path": PATH + token, "expires_at": expires_at}


def link_id(token: str) -> str:
    """Names a link in the audit trail without making it usable."""
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()[:16]


def base_url(request: Any, settings: Settings) -> str:
    """Where this deployment is reached: ``PUBLIC_URL``, else the host and stage path of the request."""
    if settings.public_url:
        return settings.public_url
    headers = {k.lower(): v for k, v in dict(request.headers or {}).items()}
    proto = headers.get("x-forwarded-proto") or ("http" if settings.stage == "local" else "https")
    return f"{proto}://{headers.get('host', 'localhost')}{path_prefix(request)}"


def path_prefix(request: Any) -> str:
    """The API Gateway stage in front of the routes (``/api``), or "" (local server, custom domain)."""
    context = getattr(request, "context", None) or {}
    full = str(context.get("path") or "")
    try:
        route = str(request.to_original_event().get("path") or "")
    except AttributeError:
        route = ""
    if route and full.endswith(route) and full != route:
        return full[: len(full) - len(route)]
    return ""
