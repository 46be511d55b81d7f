"""How each request proves who we are: OAuth2 client credentials, an API key, or basic auth.

Secrets arrive as zero-argument callables that resolve a reference at run time
(Secrets Manager / SSM / env), so nothing secret sits in configuration and a
rotated secret is picked up the next time a token is fetched.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx

from chalicelib.connectors.retry import vendor_error
from chalicelib.connectors.robots import dingtalk_sign
from chalicelib.errors import AuthError

Secret = Callable[[], str]


@dataclass
class Token:
    access_token: str
    expires_at: float | None  # monotonic seconds; None = until the API says 401
    extra: dict[str, Any]


# One token per (token URL, client id, scope) for the life of the Lambda container:
# warm invocations and every stream of a connector reuse it.
_TOKENS: dict[tuple[str, str, str], Token] = {}
_TOKENS_LOCK = threading.Lock()


def forget_tokens() -> None:
    with _TOKENS_LOCK:
        _TOKENS.clear()


class OAuth2ClientCredentials(httpx.Auth):
    """RFC 6749 §4.4: fetch a bearer token, cache it until shortly before expiry, refresh once on 401."""

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: Secret,
        *,
        scope: str | None = None,
        audience: str | None = None,
        client_auth: str = "body",
        expiry_margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.token_url, self.client_id, self.client_secret = token_url, client_id, client_secret
        self.scope, self.audience, self.client_auth = scope, audience, client_auth
        self.expiry_margin, self.clock = expiry_margin, clock
        self.token_requests = 0
        self._key = (token_url, client_id, scope or "")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        token = self._cached()
        if token is None:
            token = self._store((yield self._token_request()))
        request.headers["Authorization"] = f"Bearer {token.access_token}"
        response = yield request
        if response.status_code == 401:
            self._invalidate(token)
            token = self._store((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {token.access_token}"
            yield request

    def _cached(self) -> Token | None:
        with _TOKENS_LOCK:
            token = _TOKENS.get(self._key)
        if token is None or (token.expires_at is not None and self.clock() >= token.expires_at):
            return None
        return token

    def _invalidate(self, token: Token) -> None:
        with _TOKENS_LOCK:
            if _TOKENS.get(self._key) is token:
                del _TOKENS[self._key]

    def _token_request(self) -> httpx.Request:
        self.token_requests += 1
        form = {"grant_type": "client_credentials"}
        headers = {"Accept": "application/json"}
        if self.client_auth == "basic":
            pair = f"{self.client_id}:{self.client_secret()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            form.update(client_id=self.client_id, client_secret=self.client_secret())
        if self.scope:
            form["scope"] = self.scope
        if self.audience:
            form["audience"] = self.audience
        return httpx.Request("POST", self.token_url, data=form, headers=headers)

    def _store(self, response: httpx.Response) -> Token:
        if response.status_code != 200:
            code, message = vendor_error(response.content)
            raise AuthError(
                f"token request refused: {code or ''} {message}".strip(), status=response.status_code, url=self.token_url, vendor_code=code
            )
        try:
            data = response.json()
            access = data["access_token"]
        except (ValueError, KeyError, TypeError):
            raise AuthError("token response has no access_token", status=response.status_code, url=self.token_url) from None
        expires_in = data.get("expires_in")
        expires_at = None
        if isinstance(expires_in, (int, float, str)) and str(expires_in).isdigit():
            expires_at = self.clock() + max(0.0, float(expires_in) - self.expiry_margin)
        token = Token(str(access), expires_at, {k: v for k, v in data.items() if k != "access_token"})
        with _TOKENS_LOCK:
            _TOKENS[self._key] = token
        return token


class ApiKeyAuth(httpx.Auth):
    """A static key in a header (``X-Shopify-Access-Token``, ``Authorization: Bearer …``) or query parameter."""

    def __init__(self, key: Secret, *, header: str | None = "Authorization", prefix: str = "", query_param: str | None = None):
        self.key, self.header, self.prefix, self.query_param = key, header, prefix, query_param
        self._value: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        if self._value is None:
            self._value = self.key()
        if self.query_param:
            request.url = request.url.copy_merge_params({self.query_param: self._value})
        else:
            request.headers[self.header or "Authorization"] = f"{self.prefix}{self._value}"
        response = yield request
        if response.status_code == 401:  # the key may have been rotated: resolve it again, once
            fresh = self.key()
            if fresh != self._value:
                self._value = fresh
                if self.query_param:
                    request.url = request.url.copy_set_param(self.query_param, fresh)
                else:
                    request.headers[self.header or "Authorization"] = f"{self.prefix}{fresh}"
                yield request


class BasicAuth(httpx.Auth):
    """RFC 7617 basic auth with a password resolved at run time."""

    def __init__(self, username: str, password: Secret):
        self.username, self.password = username, password

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        pair = f"{self.username}:{self.password()}".encode()
        request.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        yield request


class WeComRobotAuth(httpx.Auth):
    """Adds the robot's ``key`` to the query (resolved once per client)."""

    def __init__(self, key: Secret):
        self.key = key
        self._value: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        if self._value is None:
            self._value = self.key()
        request.url = request.url.copy_merge_params({"key": self._value})
        yield request


class DingTalkRobotAuth(httpx.Auth):
    """Adds ``access_token`` and, with a 加签 secret, a fresh ``timestamp`` and ``sign`` to every request."""

    def __init__(self, access_token: Secret, secret: Secret | None, clock: Callable[[], float] = time.time):
        self.access_token, self.secret, self.clock = access_token, secret, clock
        self._token: str | None = None
        self._secret: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        if self._token is None:
            self._token = self.access_token()
        params = {"access_token": self._token}
        if self.secret is not None:
            if self._secret is None:
                self._secret = self.secret()
            timestamp = int(self.clock() * 1000)  # DingTalk refuses a timestamp more than an hour off
            params.update(timestamp=str(timestamp), sign=dingtalk_sign(self._secret, timestamp))
        request.url = request.url.copy_merge_params(params)
        yield request


def build_auth(config: Any, resolve: Callable[[dict[str, Any]], str]) -> httpx.Auth | None:
    """The httpx auth for an ``api.auth`` config section (see api_config.py)."""
    if config is None:
        return None

    def secret(ref: Any) -> Secret:
        return lambda: resolve(ref.model_dump(exclude_none=True) if hasattr(ref, "model_dump") else ref)

    def plain(value: Any) -> str:
        return value if isinstance(value, str) else secret(value)()

    kind = config.type
    if kind == "oauth2_client_credentials":
        return OAuth2ClientCredentials(
            config.token_url,
            plain(config.client_id),
            secret(config.client_secret),
            scope=config.scope,
            audience=config.audience,
            client_auth=config.client_auth,
        )
    if kind == "api_key":
        return ApiKeyAuth(secret(config.key), header=config.header, prefix=config.prefix, query_param=config.query_param)
    if kind == "bearer":
        return ApiKeyAuth(secret(config.token), header="Authorization", prefix="Bearer ")
    if kind == "basic":
        return BasicAuth(plain(config.username), secret(config.password))
    if kind == "wecom_robot":
        return WeComRobotAuth(secret(config.key))
    if kind == "dingtalk_robot":
        return DingTalkRobotAuth(secret(config.access_token), secret(config.secret) if config.secret is not None else None)
    raise ValueError(f"unknown auth type {kind!r}")
