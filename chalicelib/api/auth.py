"""Admin endpoints require a bearer token (kept in SSM / Secrets Manager, never in files)."""

from __future__ import annotations

import hmac
import time

from chalicelib.errors import ApiError

_CACHE: dict[str, tuple[float, str]] = {}
TTL_SECONDS = 300


def _admin_token() -> str:
    from chalicelib.runtime.settings import get_settings, resolve_ref_string

    ref = get_settings().admin_token_ref
    cached = _CACHE.get(ref)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    token = resolve_ref_string(ref)
    _CACHE[ref] = (time.monotonic() + TTL_SECONDS, token)
    return token


def require_admin(headers: dict[str, str]) -> str:
    """Returns the caller's identity for the audit trail; raises 401 otherwise."""
    value = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, presented = value.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <admin token>'", {"WWW-Authenticate": "Bearer"})
    try:
        expected = _admin_token()
    except Exception as exc:  # noqa: BLE001 - misconfiguration must not open the door
        raise ApiError(503, "auth_unavailable", f"the admin token could not be loaded: {type(exc).__name__}") from exc
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "invalid admin token", {"WWW-Authenticate": "Bearer"})
    actor = (headers.get("x-salesbridge-actor") or headers.get("X-Salesbridge-Actor") or "").strip()[:64]
    return f"admin:{actor}" if actor else "admin"


def reset_cache() -> None:
    _CACHE.clear()
