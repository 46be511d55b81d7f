"""Stripe-style ``t=<unix>,v1=<hex>[,v1=...]``: hex HMAC-SHA256 of ``t.body``, key = secret as text.

Several ``v1`` entries may be present (the sender's rotation); other schemes such as
``v0`` are ignored, as the vendor SDKs do.
"""

from __future__ import annotations

import hashlib
import hmac

from chalicelib.errors import SignatureError
from chalicelib.ingress.request import InboundRequest
from chalicelib.ingress.verify.base import VerifiedDelivery, Verifier, check_window, first_match, parse_timestamp, required_header


def parse_header(header: str) -> tuple[str, list[bytes]]:
    """Return (timestamp, v1 signatures); a header without t or v1 is refused."""
    timestamp: str | None = None
    signatures: list[bytes] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not value:
            continue
        if key == "t":
            timestamp = value
        elif key == "v1":
            try:
                signatures.append(bytes.fromhex(value))
            except ValueError:
                continue
    if timestamp is None:
        raise SignatureError("missing_timestamp", "no t= in the signature header")
    if not signatures:
        raise SignatureError("missing_signature", "no v1= signature in the signature header")
    return timestamp, signatures


def sign(secret: str, timestamp: str, body: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).digest()


class StripeStyleVerifier(Verifier):
    scheme = "stripe_style"

    def _verify(self, request: InboundRequest) -> VerifiedDelivery:
        timestamp, candidates = parse_header(required_header(request, self.config.header))
        signed_at = parse_timestamp(timestamp)
        expected = (sign(s, timestamp, request.body) for s in self._values(self.config.secrets))
        index = first_match(candidates, expected)
        if index is None:
            raise SignatureError("bad_signature")
        check_window(signed_at, request.received_at, self.config.tolerance_seconds)
        return VerifiedDelivery(request, self.scheme, request.body, secret_index=index, signed_at=signed_at)
