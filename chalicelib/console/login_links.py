"""One-time console login links: how an operator the API has authenticated opens a console session.

A browser cannot sign requests with SigV4, so on a deployed stage (IAM, no admin token) the operator
asks the API for a link (``POST /login-links``, or ``./salesbridge console-login``). The link
``/console/login-link/<identity>.<expiry>.<nonce>.<signature>`` names the verified caller, is signed
with the key derived for login links from the console key, works for five minutes and only once: its
first use writes the entry of a chain named after the link, which a second use finds already written.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.console import signing
from chalicelib.errors import LoginRefused
from chalicelib.runtime.settings import Settings

_PURPOSE = "console-login-link/v1"
LINK_SECONDS = 300
PATH = "/console/login-link/"
REFUSED = "This login link is not valid: it was used already, it expired, or it was altered. Ask for a new one."


@dataclass(frozen=True)
class LoginLink:
    identity: str  # the audit trail's actor the API verified, e.g. "iam:arn:aws:sts::…:assumed-role/Ops/alice"
    expires: int
    link_id: str


def make_token(settings: Settings, identity: str, expires: int, nonce: str) -> str:
    body = f"{signing.b64(identity.encode())}.{expires}.{nonce}"
    return f"{body}.{signing.sign(settings, _PURPOSE, body)}"


def read_token(settings: Settings, token: str, *, now: float | None = None) -> LoginLink:
    """The link's content; raises LoginRefused (403, one message for every cause) unless signed and unexpired."""
    parts = token.split(".")
    if len(parts) != 4 or not parts[1].isascii() or not parts[1].isdigit() or len(parts[1]) > 12:
        raise LoginRefused(403, REFUSED)
    encoded, expires, nonce, signature = parts
    if not signing.verify(settings, _PURPOSE, f"{encoded}.{expires}.{nonce}", signature):
        raise LoginRefused(403, REFUSED)
    if int(expires) <= (now if now is not None else time.time()):
        raise LoginRefused(403, REFUSED)
    try:
        identity = signing.unb64(encoded).decode()
    except (ValueError, UnicodeDecodeError):
        raise LoginRefused(403, REFUSED) from None
    return LoginLink(identity, int(expires), link_id(token))


def issue(settings: Settings, identity: str, base_url: str) -> dict[str, Any]:
    """A link for the verified caller; audited with the caller as actor."""
    from chalicelib.console import audit_log

    expires = int(time.time()) + LINK_SECONDS
    token = make_token(settings, identity, expires, secrets.token_urlsafe(12))
    expires_at = datetime.fromtimestamp(expires, UTC).isoformat()
    details = {"link_id": link_id(token), "expires_at": expires_at}
    audit_log.record(settings, "console_login_link_issued", identity, "console-login", details)
    return {"url": base_url.rstrip("/") + PATH + token, "path": PATH + token, "expires_at": expires_at}


def redeem(settings: Settings, token: str, source_ip: str) -> LoginLink:
    """Use the link once: its chain's first entry is written now, so a second use is refused."""
    from chalicelib.console import audit_log
    from chalicelib.errors import ConflictError

    link = read_token(settings, token)
    try:
        audit_log.record_once(
            settings, f"login-link-{link.link_id}", "console_login_link_used", link.identity, "console-login", {"source_ip": source_ip}
        )
    except ConflictError:
        raise LoginRefused(403, REFUSED) from None
    return link


def link_id(token: str) -> str:
    """Names a link in the audit trail without making it usable."""
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()[:16]
