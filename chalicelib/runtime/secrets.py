"""Secret references, resolved at run time from SSM / Secrets Manager (or env, locally).

Connector and mapping files only ever *name* a secret. The value is fetched when
needed and cached briefly per Lambda container, so a rotation is picked up within
one TTL without a redeploy. Errors name the reference, never the value.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag

from chalicelib.errors import SecretError

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 300.0
LITERAL_SECRET_MESSAGE = (
    "a secret value cannot be written in a configuration file; reference it instead, "
    'e.g. {ssm: "<connector>/webhook-secret"} (under the stage\'s SSM prefix) or '
    '{secretsmanager: "<name>", key: "<json-key>"}'
)


class SsmSecret(BaseModel):
    """An SSM parameter (SecureString), read WithDecryption.

    A relative name (``demo_crm/webhook-secret``) lives under the stage's SSM prefix
    (``/salesbridge/<stage>`` when deployed, ``/salesbridge`` locally), so one connector file
    serves every stage and each stage's functions may read only their own parameters.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built with the connector files that use it
    ssm: str = Field(min_length=1)

    def describe(self) -> str:
        return f"ssm:{self.ssm}"


class SecretsManagerSecret(BaseModel):
    """A Secrets Manager secret; ``key`` picks one field of a JSON secret string."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built with the connector files that use it
    secretsmanager: str = Field(min_length=1)
    key: str | None = None

    def describe(self) -> str:
        return f"secretsmanager:{self.secretsmanager}" + (f"#{self.key}" if self.key else "")


class EnvSecret(BaseModel):
    """An environment variable: for the local stack only, refused inside a deployed Lambda."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built with the connector files that use it
    env: str = Field(min_length=1)

    def describe(self) -> str:
        return f"env:{self.env}"


def _refuse_literal(value: Any) -> Any:
    if isinstance(value, (str, bytes, int, float)):
        raise ValueError(LITERAL_SECRET_MESSAGE)
    return value


def _ref_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return type(value).__name__
    if isinstance(value, dict):
        for key, tag in (("ssm", "SsmSecret"), ("secretsmanager", "SecretsManagerSecret"), ("env", "EnvSecret")):
            if key in value:
                return tag
    return None


SecretRef = Annotated[
    Annotated[SsmSecret, Tag("SsmSecret")]
    | Annotated[SecretsManagerSecret, Tag("SecretsManagerSecret")]
    | Annotated[EnvSecret, Tag("EnvSecret")],
    Discriminator(
        _ref_kind,
        custom_error_type="secret_reference",
        custom_error_message="a secret reference is {ssm: <parameter>}, {secretsmanager: <name>, key: <json-key>} or {env: <VAR>}",
    ),
    BeforeValidator(_refuse_literal),
]


def _in_deployed_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not os.environ.get("SALESBRIDGE_LOCAL")


def parameter_name(ref: SsmSecret) -> str:
    """The SSM name a reference means: absolute as written, relative under the stage's prefix."""
    if ref.ssm.startswith("/"):
        return ref.ssm
    from chalicelib.runtime.settings import get_settings

    return f"{get_settings().ssm_prefix.rstrip('/')}/{ref.ssm}"


def _read_ssm(ref: SsmSecret) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.runtime import aws

    name = parameter_name(ref)
    try:
        response = aws.client("ssm").get_parameter(Name=name, WithDecryption=True)
    except ClientError as exc:
        raise SecretError(f"ssm:{name}: {exc.response.get('Error', {}).get('Code', 'error')}") from None
    except BotoCoreError as exc:
        raise SecretError(f"ssm:{name}: {type(exc).__name__}") from None
    return str(response["Parameter"]["Value"])


def _read_secrets_manager(ref: SecretsManagerSecret) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.runtime import aws

    try:
        response = aws.client("secretsmanager").get_secret_value(SecretId=ref.secretsmanager)
    except ClientError as exc:
        raise SecretError(f"{ref.describe()}: {exc.response.get('Error', {}).get('Code', 'error')}") from None
    except BotoCoreError as exc:
        raise SecretError(f"{ref.describe()}: {type(exc).__name__}") from None
    raw = response.get("SecretString")
    if raw is None:
        binary = response.get("SecretBinary")
        if binary is None:
            raise SecretError(f"{ref.describe()}: secret has no value")
        try:
            raw = bytes(binary).decode("utf-8")
        except UnicodeDecodeError:
            raise SecretError(f"{ref.describe()}: binary secret is not UTF-8 text") from None
    if ref.key is None:
        return str(raw)
    try:
        document = json.loads(raw)
    except ValueError:
        raise SecretError(f"{ref.describe()}: secret string is not JSON, so key {ref.key!r} cannot be read") from None
    if not isinstance(document, dict) or ref.key not in document:
        raise SecretError(f"{ref.describe()}: key {ref.key!r} not found in the secret")
    value = document[ref.key]
    if not isinstance(value, str):
        raise SecretError(f"{ref.describe()}: key {ref.key!r} is not a string")
    return value


def _read_env(ref: EnvSecret) -> str:
    if _in_deployed_lambda():
        raise SecretError(f"{ref.describe()}: env secrets are for the local stack only; use ssm or secretsmanager")
    value = os.environ.get(ref.env)
    if value is None:
        raise SecretError(f"{ref.describe()}: environment variable is not set")
    return value


def read_secret(ref: SsmSecret | SecretsManagerSecret | EnvSecret) -> str:
    """Fetch one secret value now, uncached."""
    if isinstance(ref, SsmSecret):
        value = _read_ssm(ref)
    elif isinstance(ref, SecretsManagerSecret):
        value = _read_secrets_manager(ref)
    elif isinstance(ref, EnvSecret):
        value = _read_env(ref)
    else:  # pragma: no cover - guarded by the SecretRef type
        raise SecretError(f"unsupported secret reference type {type(ref).__name__}")
    if value == "":
        raise SecretError(f"{ref.describe()}: secret is empty")
    return value


class SecretResolver:
    """Resolves references with a small per-container TTL cache (one fetch per TTL per reference)."""

    def __init__(
        self,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        reader: Callable[[Any], str] = read_secret,
    ) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._reader = reader
        self._cache: dict[Any, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, ref: SsmSecret | SecretsManagerSecret | EnvSecret) -> str:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(ref)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        value = self._reader(ref)
        with self._lock:
            self._cache[ref] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __repr__(self) -> str:
        return f"SecretResolver(cached={len(self._cache)})"  # never the values


_default: SecretResolver | None = None


def default_resolver() -> SecretResolver:
    """The container-wide resolver (the cache outlives one invocation, not one container)."""
    global _default
    if _default is None:
        _default = SecretResolver()
    return _default


_REF_ADAPTER: Any = None


def resolve(ref: SsmSecret | SecretsManagerSecret | EnvSecret | dict[str, Any]) -> str:
    """Resolve one reference (a model or its ``{ssm: ...}`` mapping) through the container resolver."""
    global _REF_ADAPTER
    if isinstance(ref, dict):
        if _REF_ADAPTER is None:
            from pydantic import TypeAdapter

            _REF_ADAPTER = TypeAdapter(SecretRef)
        try:
            ref = _REF_ADAPTER.validate_python(ref)
        except ValueError:
            raise SecretError("not a secret reference: expected {ssm: ...}, {secretsmanager: ..., key: ...} or {env: ...}") from None
    assert not isinstance(ref, dict)
    return default_resolver().get(ref)
