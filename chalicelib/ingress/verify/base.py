"""What every verifier shares: the result, the refusals, and the constant-time checks.

Each refusal carries a short ``reason`` code for the audit log and an HTTP status;
none carries a secret or a computed signature.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib.errors import BodyTooLarge, SignatureError
from chalicelib.ingress.request import InboundRequest


class SecretSource(Protocol):
    """Anything that turns a secret reference into its value (``chalicelib.runtime.secrets.SecretResolver``)."""

    def get(self, ref: Any) -> str: ...


@dataclass(frozen=True)
class VendorReply:
    """A response body the vendor expects back (SOAP ack, encrypted 'success', echo)."""

    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    status: int = 200


@dataclass(frozen=True)
class VerifiedDelivery:
    """A request whose origin is proven; ``body`` is the (possibly decrypted) content to split."""

    request: InboundRequest
    scheme: str
    body: bytes
    reply: VendorReply | None = None
    secret_index: int = 0  # 0 = current secret; >0 = a previous one (rotation still in progress)
    signed_at: datetime | None = None
    handshake: bool = False  # URL verification / check_url: nothing to ingest
    media_type: str = "application/json"  # of ``body``: application/json or application/xml


class Verifier(ABC):
    """Checks one connector's requests; built once per container by ``make_verifier``."""

    scheme: str = ""

    def __init__(self, config: Any, secrets: SecretSource) -> None:
        self.config = config
        self._secrets = secrets

    def verify(self, request: InboundRequest) -> VerifiedDelivery:
        limit = self.config.max_body_bytes
        if len(request.body) > limit:
            raise BodyTooLarge("body_too_large", f"{len(request.body)} bytes > limit {limit}")
        return self._verify(request)

    @abstractmethod
    def _verify(self, request: InboundRequest) -> VerifiedDelivery: ...

    def _values(self, refs: Sequence[Any]) -> list[str]:
        """Resolve the current and previous secrets, in order (resolver caches them)."""
        return [self._secrets.get(ref) for ref in refs]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"  # never the secrets


# --- small shared checks --------------------------------------------------------------------


def required_header(request: InboundRequest, name: str, reason: str = "missing_signature") -> str:
    value = request.header(name)
    if value is None or not value.strip():
        raise SignatureError(reason, f"header {name} is missing")
    return value.strip()


def decode_b64(value: str) -> bytes:
    """Decode a standard base64 signature; unreadable → a forged signature, not a crash."""
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("malformed_signature", "signature is not base64") from None


def decode_hex(value: str) -> bytes:
    try:
        return bytes.fromhex(value.strip())
    except ValueError:
        raise SignatureError("malformed_signature", "signature is not hex") from None


def first_match(candidates: Iterable[bytes], expected_by_secret: Iterable[bytes]) -> int | None:
    """Index of the first secret whose digest equals any candidate, compared in constant time."""
    wanted = list(candidates)
    for index, expected in enumerate(expected_by_secret):
        matched = False
        for candidate in wanted:
            matched |= hmac.compare_digest(expected, candidate)
        if matched:
            return index
    return None


def parse_timestamp(raw: str, unit: str = "seconds") -> datetime:
    """An integer epoch timestamp in seconds or milliseconds; anything else is refused."""
    text = raw.strip()
    if not text.isdigit() or len(text) > 16:
        raise SignatureError("malformed_timestamp", "timestamp is not an integer epoch value")
    value = int(text)
    seconds = value / 1000 if unit == "milliseconds" else value
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise SignatureError("malformed_timestamp", "timestamp out of range") from None


def check_window(signed_at: datetime, received_at: datetime, tolerance_seconds: int | None) -> None:
    """Refuse replays: the signed time must be within the tolerance of arrival, either way."""
    if tolerance_seconds is None:
        return
    skew = abs(received_at - signed_at)
    if skew > timedelta(seconds=tolerance_seconds):
        detail = f"signed {int(skew.total_seconds())} s from arrival, tolerance {tolerance_seconds} s"
        raise SignatureError("timestamp_outside_window", detail)
