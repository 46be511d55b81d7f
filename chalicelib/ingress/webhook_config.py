"""The ``webhook:`` section of a connector file: which scheme checks the door, and how a delivery splits.

Validated at load time with pydantic; every mistake becomes a ``Problem`` naming
file:line:column and the field, so an integrator fixes them all in one pass.
Secret *values* never appear here, only references (see ``chalicelib.runtime.secrets``).
"""

from __future__ import annotations

import ipaddress
import re
from ipaddress import IPv4Network, IPv6Network
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, TypeAdapter, model_validator

from chalicelib.config.models import StrictModel, validate
from chalicelib.config.problems import Problem
from chalicelib.runtime.secrets import EnvSecret, SecretRef, SecretsManagerSecret, SsmSecret

MIB = 1024 * 1024
DEFAULT_MAX_BODY_BYTES = MIB
DEFAULT_MAX_RECORDS = 1000
DEFAULT_TOLERANCE_SECONDS = 300  # HubSpot v3, Stripe SDKs and Standard Webhooks libraries all use 5 minutes

Secrets = Annotated[
    list[SecretRef],
    Field(min_length=1, description="Current secret first, then previous ones still accepted during a rotation"),
]
Tolerance = Annotated[int | None, Field(gt=0, le=86_400)]


# --- How a delivery becomes records -------------------------------------------------------------


class _Shape(StrictModel):
    max_records: int = Field(DEFAULT_MAX_RECORDS, gt=0, le=100_000)


class HubSpotShape(_Shape):
    kind: Literal["hubspot"] = "hubspot"


class SalesforceOutboundShape(_Shape):
    kind: Literal["salesforce_outbound"] = "salesforce_outbound"


class ShopifyShape(_Shape):
    kind: Literal["shopify"] = "shopify"


class _ObjectChoice(_Shape):
    object: str | None = Field(None, description="Fixed source object type")
    object_path: str | None = Field(None, description="Dotted path to the object type inside each record")
    object_before: str | None = Field(
        None, description="Keep only the part before this separator, e.g. '.' turns contact.created into contact"
    )

    @model_validator(mode="after")
    def _one_object_source(self) -> _ObjectChoice:
        if self.object and self.object_path:
            raise ValueError("give either object or object_path, not both")
        return self


class StandardWebhooksShape(_ObjectChoice):
    kind: Literal["standard_webhooks"] = "standard_webhooks"
    object_path: str | None = "type"
    object_before: str | None = "."


class GenericJsonShape(_ObjectChoice):
    kind: Literal["generic_json"] = "generic_json"
    records: str | None = Field(None, description="Dotted path to the array of records; absent = the body is one record")
    event_id: str | None = Field(None, description="Dotted path to the vendor's event id in each record; absent = content hash")
    entity_id: str | None = Field(None, description="Dotted path to the source record id, for ordering")
    payload: str | None = Field(None, description="Dotted path of the part of each record to keep; absent = all of it")

    @model_validator(mode="after")
    def _needs_object(self) -> GenericJsonShape:
        if not self.object and not self.object_path:
            raise ValueError("generic_json needs object (fixed) or object_path")
        return self


class CallbackShape(_Shape):
    """WeCom / DingTalk: the decrypted event is one record."""

    kind: Literal["wecom", "dingtalk"]
    object: str | None = Field(None, description="Fixed object type; default: the event's own type field")


PayloadShape = Annotated[
    HubSpotShape | SalesforceOutboundShape | ShopifyShape | StandardWebhooksShape | GenericJsonShape | CallbackShape,
    Field(discriminator="kind"),
]


# --- How the door checks a request --------------------------------------------------------------


class _Scheme(StrictModel):
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, gt=0, le=10 * MIB)
    payload: PayloadShape | None = None

    def default_shape(self) -> Any:
        return None

    def shape(self) -> Any:
        """The delivery shape: explicit ``payload:``, else the scheme's natural one."""
        return self.payload or self.default_shape()


_TEMPLATE_FIELDS = {"body", "timestamp", "method", "url"}


class GenericHmacConfig(_Scheme):
    scheme: Literal["generic_hmac"]
    header: str = Field(min_length=1)
    secrets: Secrets
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = Field("", description="Text before the signature in the header, e.g. 'sha256='")
    timestamp_header: str | None = None
    timestamp_unit: Literal["seconds", "milliseconds"] = "seconds"
    tolerance_seconds: Tolerance = DEFAULT_TOLERANCE_SECONDS
    signed_payload: str = Field("{body}", description="What is signed: {body}, {timestamp}, {method}, {url}")

    @model_validator(mode="after")
    def _template(self) -> GenericHmacConfig:
        names = re.findall(r"\{([^{}]*)\}", self.signed_payload)
        unknown = sorted(set(names) - _TEMPLATE_FIELDS)
        if unknown:
            raise ValueError(f"signed_payload: unknown placeholder(s) {unknown}; allowed: {sorted(_TEMPLATE_FIELDS)}")
        if names.count("body") != 1:
            raise ValueError("signed_payload must contain {body} exactly once")
        if self.timestamp_header and "timestamp" not in names:
            raise ValueError("timestamp_header is set but signed_payload does not sign {timestamp}: the window would not stop replays")
        if "timestamp" in names and not self.timestamp_header:
            raise ValueError("signed_payload uses {timestamp} but no timestamp_header is named")
        return self


HubSpotVersion = Literal["v1", "v2", "v3"]


class HubSpotConfig(_Scheme):
    scheme: Literal["hubspot"]
    secrets: Secrets
    versions: list[HubSpotVersion] = Field(default_factory=lambda: list[HubSpotVersion](["v3"]), min_length=1)
    tolerance_seconds: Tolerance = DEFAULT_TOLERANCE_SECONDS
    url: str | None = Field(None, description="Public URL HubSpot calls, when the Lambda cannot see it (custom domain, stage)")

    def default_shape(self) -> Any:
        return HubSpotShape()


class ShopifyConfig(_Scheme):
    scheme: Literal["shopify"]
    secrets: Secrets
    header: str = "X-Shopify-Hmac-Sha256"

    def default_shape(self) -> Any:
        return ShopifyShape()


class SquareConfig(_Scheme):
    scheme: Literal["square"]
    secrets: Secrets
    notification_url: str | None = Field(None, description="The URL exactly as configured in Square's subscription")

    def default_shape(self) -> Any:
        return GenericJsonShape(event_id="event_id", object_path="type", object_before=".", entity_id="data.id")


class StandardWebhooksConfig(_Scheme):
    scheme: Literal["standard_webhooks"]
    secrets: Secrets
    tolerance_seconds: Tolerance = DEFAULT_TOLERANCE_SECONDS

    def default_shape(self) -> Any:
        return StandardWebhooksShape()


class StripeStyleConfig(_Scheme):
    scheme: Literal["stripe_style"]
    secrets: Secrets
    header: str = "Stripe-Signature"
    tolerance_seconds: Tolerance = DEFAULT_TOLERANCE_SECONDS

    def default_shape(self) -> Any:
        return GenericJsonShape(event_id="id", object_path="data.object.object", entity_id="data.object.id")


class SharedSecret(StrictModel):
    header: str | None = None
    query: str | None = None
    secrets: Secrets

    @model_validator(mode="after")
    def _one_place(self) -> SharedSecret:
        if bool(self.header) == bool(self.query):
            raise ValueError("shared_secret needs exactly one of header or query")
        return self


def _network(value: Any) -> IPv4Network | IPv6Network:
    """A network in CIDR notation (host bits zero), as ``ipaddress.ip_network`` reads it."""
    try:
        return ipaddress.ip_network(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a network in CIDR notation such as 13.108.0.0/14, got {value!r}") from None


# The standard library's parser: pydantic's IPvAnyNetwork would import pydantic.networks (and
# importlib.metadata with it) on every cold start.
Network = Annotated[IPv4Network | IPv6Network, PlainValidator(_network)]


class SalesforceOutboundConfig(_Scheme):
    scheme: Literal["salesforce_outbound"]
    organization_ids: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")]] = Field(min_length=1)
    shared_secret: SharedSecret | None = None
    allowed_ips: list[Network] = Field(
        default_factory=list, description="Networks Salesforce calls from (CIDR); empty: any. Salesforce publishes its ranges."
    )

    def default_shape(self) -> Any:
        return SalesforceOutboundShape()


class CallbackCredential(StrictModel):
    token: SecretRef
    encoding_aes_key: SecretRef


class _EncryptedCallback(_Scheme):
    credentials: list[CallbackCredential] = Field(min_length=1, description="Current first, then previous")
    receive_ids: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    tolerance_seconds: Tolerance = DEFAULT_TOLERANCE_SECONDS


class WeComConfig(_EncryptedCallback):
    scheme: Literal["wecom"]
    reply: Literal["empty", "success"] = Field("empty", description="WeCom accepts an empty 200 as 'no reply'")

    def default_shape(self) -> Any:
        return CallbackShape(kind="wecom")


class DingTalkConfig(_EncryptedCallback):
    scheme: Literal["dingtalk"]

    def default_shape(self) -> Any:
        return CallbackShape(kind="dingtalk")


SCHEME_MODELS: dict[str, type[_Scheme]] = {
    "generic_hmac": GenericHmacConfig,
    "hubspot": HubSpotConfig,
    "shopify": ShopifyConfig,
    "square": SquareConfig,
    "standard_webhooks": StandardWebhooksConfig,
    "stripe_style": StripeStyleConfig,
    "salesforce_outbound": SalesforceOutboundConfig,
    "wecom": WeComConfig,
    "dingtalk": DingTalkConfig,
}

WebhookConfig = Annotated[
    GenericHmacConfig
    | HubSpotConfig
    | ShopifyConfig
    | SquareConfig
    | StandardWebhooksConfig
    | StripeStyleConfig
    | SalesforceOutboundConfig
    | WeComConfig
    | DingTalkConfig,
    Field(discriminator="scheme"),
]
_ADAPTER: TypeAdapter[Any] = TypeAdapter(WebhookConfig)

__all__ = [
    "WebhookConfig",
    "validate_webhook_section",
    "parse_webhook_section",
    "SsmSecret",
    "SecretsManagerSecret",
    "EnvSecret",
]


# --- Validation with positions ------------------------------------------------------------------


def validate_webhook_section(section: Any, filename: str) -> tuple[Any | None, list[Problem]]:
    """Validate a connector file's ``webhook:`` mapping; return the config or the problems found."""
    position = getattr(section, "position", (1, 1))
    if not isinstance(section, dict):
        return None, [Problem(filename, position[0], position[1], "webhook", "must be a mapping with at least 'scheme'")]
    return validate(_ADAPTER, section, filename, root="webhook", models=list(SCHEME_MODELS.values()))


def parse_webhook_section(section: dict[str, Any]) -> Any:
    """Validate an already-checked section (e.g. from a packaged bundle); raises ValidationError."""
    return _ADAPTER.validate_python(dict(section))
