"""Generic HMAC: one header carries an HMAC of the body (optionally with a signed timestamp)."""

from __future__ import annotations

import hashlib
import hmac
import re

from chalicelib.errors import SignatureError
from chalicelib.ingress.request import InboundRequest
from chalicelib.ingress.verify.base import (
    VerifiedDelivery,
    Verifier,
    check_window,
    decode_b64,
    decode_hex,
    first_match,
    parse_timestamp,
    required_header,
)

_PLACEHOLDER = re.compile(r"\{(timestamp|method|url)\}")


def signed_message(template: str, body: bytes, timestamp: str, method: str, url: str) -> bytes:
    """Fill the ``signed_payload`` template; the body goes in as raw bytes, never re-encoded."""
    values = {"timestamp": timestamp, "method": method, "url": url}
    before, after = template.split("{body}", 1)

    def fill(text: str) -> bytes:
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text).encode("utf-8")

    return fill(before) + body + fill(after)


class GenericHmacVerifier(Verifier):
    scheme = "generic_hmac"

    def _verify(self, request: InboundRequest) -> VerifiedDelivery:
        cfg = self.config
        raw = required_header(request, cfg.header)
        if cfg.prefix:
            if not raw.startswith(cfg.prefix):
                raise SignatureError("malformed_signature", f"signature does not start with {cfg.prefix!r}")
            raw = raw[len(cfg.prefix) :]
        provided = decode_hex(raw) if cfg.encoding == "hex" else decode_b64(raw)
        timestamp, signed_at = "", None
        if cfg.timestamp_header:
            timestamp = required_header(request, cfg.timestamp_header, "missing_timestamp")
            signed_at = parse_timestamp(timestamp, cfg.timestamp_unit)
        message = signed_message(cfg.signed_payload, request.body, timestamp, request.method, request.url)
        digest = getattr(hashlib, cfg.algorithm)
        expected = (hmac.new(secret.encode("utf-8"), message, digest).digest() for secret in self._values(cfg.secrets))
        index = first_match([provided], expected)
        if index is None:
            raise SignatureError("bad_signature")
        if signed_at is not None:
            check_window(signed_at, request.received_at, cfg.tolerance_seconds)
        return VerifiedDelivery(request, self.scheme, request.body, secret_index=index, signed_at=signed_at)
