"""The console's signing key, read from the stack's secrets, and the purpose-bound keys derived from it.

Sessions, CSRF tokens and customer links are each signed with their own key derived from the
one secret (HMAC of the purpose), so a value signed for one purpose is never valid for another.
Only the local stack falls back to a fixed key; any other stage without its secret refuses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from chalicelib.errors import ConsoleUnavailable
from chalicelib.runtime.settings import Settings

LOCAL_FALLBACK_KEY = b"salesbridge-local-console-key"
TTL_SECONDS = 300
_CACHE: dict[str, tuple[float, bytes]] = {}


def console_key(settings: Settings) -> bytes:
    from chalicelib.runtime.settings import resolve_ref_string

    ref = settings.console_key_ref
    cached = _CACHE.get(ref)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        key = resolve_ref_string(ref).encode()
    except Exception as exc:  # noqa: BLE001 - any failure to read the secret is handled the same way
        if settings.stage != "local":
            raise ConsoleUnavailable(f"the console key ({ref}) could not be read: {type(exc).__name__}") from exc
        key = LOCAL_FALLBACK_KEY
    if not key:
        raise ConsoleUnavailable(f"the console key ({ref}) is empty")
    _CACHE[ref] = (time.monotonic() + TTL_SECONDS, key)
    return key


def sign(settings: Settings, purpose: str, message: str) -> str:
    """URL-safe HMAC-SHA256 of ``message`` under the key derived for ``purpose``."""
    derived = hmac.new(console_key(settings), purpose.encode(), hashlib.sha256).digest()
    return b64(hmac.new(derived, message.encode(), hashlib.sha256).digest())


def verify(settings: Settings, purpose: str, message: str, signature: str) -> bool:
    return hmac.compare_digest(sign(settings, purpose, message).encode(), signature.encode())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    """Raises ValueError on anything that is not unpadded URL-safe base64."""
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise ValueError("not URL-safe base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def reset_cache() -> None:
    _CACHE.clear()
