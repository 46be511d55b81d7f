"""Operator sessions: a signed, expiring cookie that names who is acting and in which role.

Stateless on purpose (no table, no read per page): the cookie carries identity, role, a
session id and its expiry, HMAC-signed with the console key. ``mint_session`` is the one
place sessions are made: the token login calls it, and so does a one-time login link
(chalicelib/console/login_links.py) issued by the IAM-authenticated API to its caller.

Roles: ``operator`` sees personal data masked (the audit trail's keyed hash);
``privacy_officer`` sees it unmasked, and every such view is audited.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from chalicelib.console import signing
from chalicelib.errors import LoginRefused
from chalicelib.runtime.settings import Settings

Role = Literal["operator", "privacy_officer"]
ROLES: tuple[Role, ...] = ("operator", "privacy_officer")
SESSION_SECONDS = 8 * 3600
COOKIE = "sb_console"
LOGIN_COOKIE = "sb_console_login"
_SESSION = "console-session/v1"
_CSRF = "console-csrf/v1"
_LOGIN_CSRF = "console-login-csrf/v1"


@dataclass(frozen=True)
class Session:
    identity: str  # the audit trail's actor, e.g. "admin:alice"
    role: Role
    sid: str
    expires: int  # Unix seconds
    via: str  # how it was opened: "admin_token", "privacy_token" or "login_link"

    @property
    def sees_personal_data(self) -> bool:
        return self.role == "privacy_officer"


def mint_session(settings: Settings, identity: str, role: Role, via: str, *, now: float | None = None) -> tuple[Session, str]:
    """A new session for an authenticated operator identity, and its cookie value."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    issued = int(now if now is not None else time.time())
    session = Session(identity=identity, role=role, sid=secrets.token_urlsafe(12), expires=issued + SESSION_SECONDS, via=via)
    body = signing.b64(
        json.dumps({"sub": identity, "role": role, "sid": session.sid, "exp": session.expires, "via": via}, separators=(",", ":")).encode()
    )
    return session, f"{body}.{signing.sign(settings, _SESSION, body)}"


def read_session(settings: Settings, value: str | None, *, now: float | None = None) -> Session | None:
    """The session a cookie value proves, or None (absent, altered, expired or malformed)."""
    if not value or value.count(".") != 1:
        return None
    body, signature = value.split(".")
    if not signing.verify(settings, _SESSION, body, signature):
        return None
    try:
        data = json.loads(signing.unb64(body))
        session = Session(
            identity=str(data["sub"]), role=data["role"], sid=str(data["sid"]), expires=int(data["exp"]), via=str(data["via"])
        )
    except (ValueError, KeyError, TypeError):
        return None
    if session.role not in ROLES or session.expires <= (now if now is not None else time.time()):
        return None
    return session


def csrf_token(settings: Settings, session: Session) -> str:
    """Bound to the session id: a page's forms carry it, a forged cross-site form cannot."""
    return signing.sign(settings, _CSRF, session.sid)


def csrf_ok(settings: Settings, session: Session, presented: str | None) -> bool:
    return bool(presented) and signing.verify(settings, _CSRF, session.sid, presented or "")


def login_csrf(settings: Settings) -> tuple[str, str]:
    """For the login form, before any session: a nonce for a cookie and its signature for the form."""
    nonce = secrets.token_urlsafe(16)
    return nonce, signing.sign(settings, _LOGIN_CSRF, nonce)


def login_csrf_ok(settings: Settings, nonce: str | None, presented: str | None) -> bool:
    return bool(nonce and presented) and signing.verify(settings, _LOGIN_CSRF, nonce or "", presented or "")


def login(settings: Settings, token: str, name: str) -> tuple[str, Role, str]:
    """Identity, role and method for a presented token; raises LoginRefused.

    The admin token is checked by exactly the code that guards the JSON API and gives the
    ``operator`` role; the privacy officer's own token (``PRIVACY_TOKEN_REF``) gives ``privacy_officer``.
    """
    from chalicelib.api.auth import require_admin
    from chalicelib.errors import ApiError

    name = "".join(c for c in name if c.isprintable()).strip()[:64]
    if not token:
        raise LoginRefused(401, "enter the stack's admin token")
    try:
        return require_admin({"authorization": f"Bearer {token}", "x-salesbridge-actor": name}), "operator", "admin_token"
    except ApiError as exc:
        refusal = LoginRefused(exc.status, exc.message) if exc.status != 401 else LoginRefused(401, "this token opens no console session")
    if _privacy_token_matches(settings, token):
        return (f"privacy_officer:{name}" if name else "privacy_officer"), "privacy_officer", "privacy_token"
    raise refusal


def _privacy_token_matches(settings: Settings, token: str) -> bool:
    import hmac

    from chalicelib.runtime.settings import resolve_ref_string

    try:
        expected = resolve_ref_string(settings.privacy_token_ref)
    except Exception:  # noqa: BLE001 - no privacy officer token configured: that login is simply not available
        return False
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())


def cookie(name: str, value: str, path: str, settings: Settings, max_age: int) -> str:
    """HttpOnly, SameSite=Strict, and Secure on every stage but the local one (plain HTTP on 127.0.0.1)."""
    secure = "" if settings.stage == "local" else "; Secure"
    return f"{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"


def cookie_value(header: str | None, name: str) -> str | None:
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value
    return None
