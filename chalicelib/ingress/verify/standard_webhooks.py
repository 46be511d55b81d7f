"""Standard Webhooks v1: HMAC-SHA256 of ``id.timestamp.body`` with a ``whsec_`` base64 secret.

The signature header may list several ``v1,<sig>`` entries (the sender's own key
rotation); any match is enough. Unbranded ``svix-*`` headers are read as a fallback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from chalicelib.errors import SecretError, SignatureError
from chalicelib.ingress.request import InboundRequest
from chalicelib.ingress.verify.base import VerifiedDelivery, Verifier, check_window, first_match, parse_timestamp

SECRET_PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part after ``whsec_`` (padding optional, as the reference libs)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SecretError("standard_webhooks secret is not whsec_ + base64") from None
    if not key:
        raise SecretError("standard_webhooks secret is empty")
    return key


def sign(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def _header(request: InboundRequest, name: str) -> str | None:
    value = request.header(f"webhook-{name}") or request.header(f"svix-{name}")
    return value.strip() if value and value.strip() else None


def _v1_signatures(header: str) -> list[bytes]:
    found: list[bytes] = []
    for entry in header.split():
        version, _, signature = entry.partition(",")
        if version != "v1" or not signature:
            continue
        try:
            found.append(base64.b64decode(signature, validate=True))
        except (binascii.Error, ValueError):
            continue  # one unreadable entry must not hide a valid one
    return found


class StandardWebhooksVerifier(Verifier):
    scheme = "standard_webhooks"

    def _verify(self, request: InboundRequest) -> VerifiedDelivery:
        msg_id = _header(request, "id")
        timestamp = _header(request, "timestamp")
        signature = _header(request, "signature")
        if signature is None:
            raise SignatureError("missing_signature", "header webhook-signature is missing")
        if msg_id is None:
            raise SignatureError("missing_signature", "header webhook-id is missing")
        if timestamp is None:
            raise SignatureError("missing_timestamp", "header webhook-timestamp is missing")
        signed_at = parse_timestamp(timestamp)
        candidates = _v1_signatures(signature)
        if not candidates:
            raise SignatureError("bad_signature", "no readable v1 signature in webhook-signature")
        expected = (sign(signing_key(s), msg_id, timestamp, request.body) for s in self._values(self.config.secrets))
        index = first_match(candidates, expected)
        if index is None:
            raise SignatureError("bad_signature")
        check_window(signed_at, request.received_at, self.config.tolerance_seconds)
        return VerifiedDelivery(request, self.scheme, request.body, secret_index=index, signed_at=signed_at)
