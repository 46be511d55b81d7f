"""The ``api:`` and ``streams:`` sections of a connector file, validated with file:line:column.

Secrets are references only — ``{ssm: /path}``, ``{secretsmanager: name, key: field}``
or ``{env: VAR}`` — resolved at run time by the resolver handed to the client
factory; a literal secret in a file is a configuration error. This module is
imported when configuration loads, so it must not pull in httpx or tenacity.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from chalicelib.config.durations import parse_duration
from chalicelib.config.models import StrictModel, validate
from chalicelib.config.problems import Problem
from chalicelib.config.yaml_lines import LocatedDict, subset

Kind = Literal["salesforce", "hubspot", "odoo", "kingdee", "shopify", "generic_rest", "wecom", "dingtalk"]
ROBOT_KINDS = ("wecom", "dingtalk")  # group robots: written to by actions, never pulled
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")


def interval_seconds(schedule: str | None) -> int:
    """ "15m" or "every 1h30m" → seconds. None → 0 (due at every run). Raises ValueError on anything else."""
    if not schedule:
        return 0
    try:
        return int(parse_duration(schedule.strip().lower().removeprefix("every")).total_seconds())
    except ValueError:
        raise ValueError(f"schedule {schedule!r}: use e.g. '15m', '1h' or '30 minutes'") from None


class SecretRef(StrictModel):
    """Where a secret lives; never the secret itself."""

    ssm: str | None = None
    secretsmanager: str | None = None
    env: str | None = None
    key: str | None = Field(None, description="JSON field inside a Secrets Manager secret")

    @model_validator(mode="before")
    @classmethod
    def _reference_only(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError("secrets must be references ({ssm: /path}, {secretsmanager: name} or {env: VAR}), never literal values")
        sources = [k for k in ("ssm", "secretsmanager", "env") if value.get(k)]
        if len(sources) != 1:
            raise ValueError("give exactly one of ssm, secretsmanager or env")
        if value.get("key") and sources[0] != "secretsmanager":
            raise ValueError("'key' applies only to a secretsmanager reference")
        return value

    def as_dict(self) -> dict[str, str]:
        return self.model_dump(exclude_none=True)


class OAuth2ClientCredentialsAuth(StrictModel):
    type: Literal["oauth2_client_credentials"]
    token_url: str
    client_id: str | SecretRef
    client_secret: SecretRef
    scope: str | None = None
    audience: str | None = None
    client_auth: Literal["body", "basic"] = "body"


class ApiKeyAuthConfig(StrictModel):
    type: Literal["api_key"]
    key: SecretRef
    header: str | None = "Authorization"
    prefix: str = ""
    query_param: str | None = None


class BearerAuthConfig(StrictModel):
    type: Literal["bearer"]
    token: SecretRef


class BasicAuthConfig(StrictModel):
    type: Literal["basic"]
    username: str | SecretRef
    password: SecretRef


class WeComRobotAuthConfig(StrictModel):
    """企业微信 group robot: the ``key=`` of its webhook address."""

    type: Literal["wecom_robot"]
    key: SecretRef


class DingTalkRobotAuthConfig(StrictModel):
    """钉钉 group robot: the ``access_token=`` of its webhook address, and its 加签 secret (SEC…) if it has one."""

    type: Literal["dingtalk_robot"]
    access_token: SecretRef
    secret: SecretRef | None = None


AuthConfig = Annotated[
    OAuth2ClientCredentialsAuth | ApiKeyAuthConfig | BearerAuthConfig | BasicAuthConfig | WeComRobotAuthConfig | DingTalkRobotAuthConfig,
    Field(discriminator="type"),
]


class RateLimitConfig(StrictModel):
    """The shared budget: ``budget`` names it so connectors hitting one account can share it."""

    requests_per_second: float = Field(gt=0)
    burst: int | None = Field(None, ge=1)
    budget: str | None = None


class RetryConfig(StrictModel):
    max_attempts: int = Field(6, ge=1, le=20)
    max_wait_seconds: float = Field(60.0, gt=0)


class ApiConfig(StrictModel):
    base_url: str
    auth: AuthConfig | None = None
    api_version: str | None = None
    database: str | None = Field(None, description="Odoo database name; Kingdee data centre id (acctID)")
    timezone: str | None = Field(None, description="Zone of the naive times the API returns (Kingdee: the data centre's zone); default UTC")
    timeout_seconds: float = Field(30.0, gt=0, le=300)
    headers: dict[str, str] = Field(default_factory=dict)
    rate_limit: RateLimitConfig | None = None
    retry: RetryConfig = Field(default_factory=RetryConfig)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an absolute http(s) URL, e.g. https://api.example.com")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai") from None
        return value

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.lower() in {"authorization", "x-api-key", "x-shopify-access-token", "cookie"}:
                raise ValueError(f"header {name!r} carries a credential: declare it under auth with a secret reference")
        return value


class BodyCursorPagination(StrictModel):
    style: Literal["body_cursor"]
    cursor_path: str
    param: str
    location: Literal["query", "body"] = "query"


class NextUrlPagination(StrictModel):
    style: Literal["next_url"]
    next_paths: list[str] = Field(default_factory=lambda: ["nextRecordsUrl", "@odata.nextLink", "d.__next"], min_length=1)


class LinkHeaderPagination(StrictModel):
    style: Literal["link_header"]
    rel: str = "next"


class OffsetPagination(StrictModel):
    style: Literal["offset"]
    offset_param: str = "offset"
    limit_param: str = "limit"
    location: Literal["query", "body"] = "query"
    total_path: str | None = None


class PageNumberPagination(StrictModel):
    style: Literal["page_number"]
    page_param: str = "page"
    size_param: str | None = "per_page"
    location: Literal["query", "body"] = "query"
    start: int = 1
    total_pages_path: str | None = None


class NoPagination(StrictModel):
    style: Literal["none"]


PaginationConfig = Annotated[
    BodyCursorPagination | NextUrlPagination | LinkHeaderPagination | OffsetPagination | PageNumberPagination | NoPagination,
    Field(discriminator="style"),
]


class StreamConfig(StrictModel):
    """One object pulled incrementally. Kind-specific defaults fill what is left out."""

    name: str
    object: str
    fields: list[str] = Field(default_factory=list)
    id_field: str | None = None
    cursor_field: str | None = None
    page_size: int | None = Field(None, ge=1, le=10000)
    overlap_seconds: float = Field(60.0, ge=0, le=86400)
    start_date: AwareDatetime | None = None
    schedule: str | None = None
    where: str | None = Field(None, description="salesforce: extra SOQL condition; kingdee: extra FilterString condition")
    domain: list[Any] = Field(default_factory=list, description="odoo: extra domain terms")
    # generic_rest
    endpoint: str | None = None
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, Any] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    records_path: str | None = None
    pagination: PaginationConfig | None = None
    since_param: str | None = None
    since_location: Literal["query", "body"] = "query"
    since_format: Literal["iso8601", "epoch_seconds", "epoch_ms"] = "iso8601"
    # hubspot: search returns no associations; these object types are read for each page (v4 batch read)
    associations: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]] = Field(
        default_factory=list,
        max_length=10,
        description="hubspot: object types whose associated ids each record carries, as the objects API shapes them",
    )

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use letters, digits, '_', '-' or '.', starting with a letter")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        interval_seconds(value)
        return value


class ApiSections(StrictModel):
    name: str
    kind: Kind
    api: ApiConfig
    streams: list[StreamConfig] = Field(default_factory=list, description="What is pulled; none for a connector that is only written to")

    def stream(self, name: str) -> StreamConfig:
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise KeyError(f"connector {self.name!r} has no stream {name!r}")


# ------------------------------------------------------------------ validation with positions
def validate_api_sections(located: Any, filename: str) -> tuple[ApiSections | None, list[Problem]]:
    """Validate ``kind``/``api``/``streams`` of a loaded connector file; every problem names where to edit."""
    if not isinstance(located, LocatedDict):
        return None, [Problem(filename, 1, 1, "", "a connector file must be a mapping")]
    data = subset(located, ("kind", "api", "streams"))
    data["name"] = located.get("name") or _stem(filename)
    config, problems = validate(ApiSections, data, filename)
    if config is None:
        return None, problems
    problems = [_located_problem(located, filename, path, message) for path, message in _kind_problems(config)]
    return (config if not problems else None), problems


def _stem(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return base.split(".", 1)[0]


def _walk(located: Any, loc: tuple[Any, ...]) -> tuple[tuple[int, int], str]:
    """Position of the deepest key of ``loc`` present in the file, and a readable field path."""
    position = getattr(located, "position", (1, 1))
    node = located
    parts: list[str] = []
    for element in loc:
        if isinstance(node, dict) and element in node:
            position = node.where(element) if hasattr(node, "where") else position
            parts.append(str(element))
            node = node[element]
        elif isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
            position = node.where(element) if hasattr(node, "where") else position
            parts.append(f"[{element}]")
            node = node[element]
        elif isinstance(element, str):
            parts.append(element)  # a key that is not there: point at its parent, name the key
            break
    return position, ".".join(parts).replace(".[", "[")


def _located_problem(located: Any, filename: str, path: tuple[Any, ...], message: str) -> Problem:
    (line, column), field = _walk(located, path)
    return Problem(filename, line, column, field, message)


_REQUIRED_BY_KIND: dict[str, tuple[str, ...]] = {
    "salesforce": ("fields",),
    "hubspot": (),
    "odoo": ("fields",),
    "kingdee": ("fields", "id_field"),
    "shopify": (),
    "generic_rest": ("endpoint", "records_path", "pagination", "id_field", "cursor_field"),
    "wecom": (),
    "dingtalk": (),
}


def _kind_problems(config: ApiSections) -> list[tuple[tuple[Any, ...], str]]:
    """Rules pydantic cannot express per field: what each kind needs, unique stream names."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    seen: set[str] = set()
    for index, stream in enumerate(config.streams):
        if stream.name in seen:
            problems.append((("streams", index, "name"), f"stream {stream.name!r} is declared twice"))
        seen.add(stream.name)
        for field in _REQUIRED_BY_KIND[config.kind]:
            if getattr(stream, field) in (None, []):
                problems.append((("streams", index, field), f"required for kind {config.kind!r}"))
        if config.kind != "generic_rest":
            for field in ("endpoint", "records_path", "pagination", "since_param"):
                if getattr(stream, field) is not None:
                    problems.append((("streams", index, field), f"only for kind 'generic_rest', not {config.kind!r}"))
        if (
            config.kind == "generic_rest"
            and stream.pagination is not None
            and stream.pagination.style in ("offset", "page_number")
            and not stream.page_size
        ):
            problems.append((("streams", index, "page_size"), "required with offset or page_number pagination"))
        if stream.where and config.kind not in ("salesforce", "kingdee"):
            problems.append((("streams", index, "where"), "only for kinds 'salesforce' and 'kingdee'"))
        if stream.domain and config.kind != "odoo":
            problems.append((("streams", index, "domain"), "only for kind 'odoo'"))
        if stream.associations and config.kind != "hubspot":
            problems.append((("streams", index, "associations"), "only for kind 'hubspot'"))
    if config.kind in ROBOT_KINDS:
        if config.streams:
            problems.append((("streams",), f"a {config.kind} robot is only written to: it has no streams"))
        wanted = f"{config.kind}_robot"
        if config.api.auth is None or config.api.auth.type != wanted:
            problems.append((("api", "auth"), f"{config.kind} needs auth type {wanted!r} (the robot's webhook key)"))
    elif config.api.auth is not None and config.api.auth.type in ("wecom_robot", "dingtalk_robot"):
        robot = config.api.auth.type.removesuffix("_robot")
        problems.append((("api", "auth"), f"auth type {config.api.auth.type!r} is only for kind {robot!r}"))
    if config.kind == "odoo" and not config.api.database:
        problems.append((("api", "database"), "required for kind 'odoo' (the Odoo database name)"))
    if config.kind == "odoo" and (config.api.auth is None or config.api.auth.type != "basic"):
        problems.append((("api", "auth"), "odoo needs auth type 'basic' (login and API key as password)"))
    if config.api.timezone and config.kind not in ("kingdee", "generic_rest"):
        problems.append((("api", "timezone"), f"only for kinds 'kingdee' and 'generic_rest': {config.kind} times carry their zone"))
    if config.kind == "kingdee" and not config.api.database:
        problems.append((("api", "database"), "required for kind 'kingdee' (the data centre id, acctID)"))
    if config.kind == "kingdee" and (config.api.auth is None or config.api.auth.type != "basic"):
        problems.append((("api", "auth"), "kingdee needs auth type 'basic' (the integration user's name and password)"))
    if config.kind in ("salesforce", "shopify") and not config.api.api_version:
        problems.append(
            (("api", "api_version"), f"required for kind {config.kind!r} (e.g. {'v60.0' if config.kind == 'salesforce' else '2024-01'})")
        )
    return problems
