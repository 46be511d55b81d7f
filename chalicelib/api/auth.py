"""Who is calling the operator API, for the audit trail.

Deployed stages: API Gateway authenticates every operator route with AWS IAM (SigV4, Chalice's
``IAMAuthorizer``), and the actor is the verified caller identity API Gateway puts in the
request context (``iam:arn:aws:sts::…:assumed-role/Operator/alice``) — never a header.

The local stack (stage ``local``, not inside a deployed Lambda) has no IAM: a bearer token (from
the environment, or SSM) stands in, and the caller may name themselves in ``X-Salesbridge-Actor``.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import ApiError

_CACHE: dict[str, tuple[float, str]] = {}
TTL_SECONDS = 300
LOCAL_STAGE = "local"


def _admin_token() -> str:
    from chalicelib.runtime.settings import get_settings, resolve_ref_string

    ref = get_settings().admin_token_ref
    cached = _CACHE.get(ref)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    token = resolve_ref_string(ref)
    _CACHE[ref] = (time.monotonic() + TTL_SECONDS, token)
    return token


def uses_token(stage: str) -> bool:
    """The bearer token is the local stack's only: never accepted inside a deployed Lambda."""
    deployed = bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not os.environ.get("SALESBRIDGE_LOCAL")
    return stage == LOCAL_STAGE and not deployed


def require_admin(headers: Mapping[str, str], context: Mapping[str, Any] | None = None, stage: str | None = None) -> str:
    """Returns the caller's identity for the audit trail; raises 401 otherwise."""
    if stage is None:
        from chalicelib.runtime.settings import get_settings

        stage = get_settings().stage
    if uses_token(stage):
        return _token_caller(headers)
    return _iam_caller(context or {})


def _iam_caller(context: Mapping[str, Any]) -> str:
    """The identity API Gateway verified (AWS_IAM authorisation); absent means the route is not protected."""
    identity = context.get("identity") or {}
    arn = identity.get("userArn")
    if not arn:
        # A gateway without AWS_IAM on this route would let anyone in: refuse rather than guess.
        raise ApiError(401, "unauthorized", "operator routes need AWS IAM (SigV4) authentication")
    return f"iam:{arn}"


def _token_caller(headers: Mapping[str, str]) -> str:
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
