"""HubSpot request signatures: v3 (HMAC, timestamped) and the legacy v2/v1 (plain SHA-256).

v3 is preferred whenever it is accepted and present; a failing v3 never falls back
to v1/v2 (that would let a replayed legacy signature downgrade the check).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

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

V3_HEADER = "X-HubSpot-Signature-v3"
V3_TIMESTAMP = "X-HubSpot-Request-Timestamp"
LEGACY_HEADER = "X-HubSpot-Signature"
LEGACY_VERSION = "X-HubSpot-Signature-Version"

# HubSpot's v3 guide decodes these percent-escapes in the URI before signing; we
# try the URI both as received and decoded, so either reading verifies.
_V3_DECODE = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def v3_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """base64(HMAC-SHA256(secret, method + uri + body + timestamp))."""
    message = f"{method}{uri}".encode() + body + timestamp.encode("utf-8")
    return base64.b64encode(hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()).decode("ascii")


def v2_signature(secret: str, method: str, uri: str, body: bytes) -> str:
    """hex(SHA-256(secret + method + uri + body)) — not an HMAC."""
    return hashlib.sha256(f"{secret}{method}{uri}".encode() + body).hexdigest()


def v1_signature(secret: str, body: bytes) -> str:
    """hex(SHA-256(secret + body)) — not an HMAC."""
    return hashlib.sha256(secret.encode("utf-8") + body).hexdigest()


def _decoded(uri: str) -> str:
    for escape, char in _V3_DECODE.items():
        uri = uri.replace(escape, char).replace(escape.lower(), char)
    return uri


class HubSpotVerifier(Verifier):
    scheme = "hubspot"

    def _uri(self, request: InboundRequest) -> str:
        """The URL HubSpot called: the configured public URL (plus the query as received) or the request's."""
        if not self.config.url:
            return request.url
        query = request.url.partition("?")[2]
        return f"{self.config.url}?{query}" if query and "?" not in self.config.url else self.config.url

    def _verify(self, request: InboundRequest) -> VerifiedDelivery:
        versions = self.config.versions
        if "v3" in versions and request.header(V3_HEADER):
            return self._verify_v3(request)
        legacy = request.header(LEGACY_HEADER)
        if legacy and (set(versions) & {"v1", "v2"}):
            version = (request.header(LEGACY_VERSION) or "v1").strip().lower()
            if version not in versions or version == "v3":
                raise SignatureError("unsupported_signature_version", f"{version} is not accepted for this connector")
            return self._verify_legacy(request, version, legacy)
        raise SignatureError("missing_signature", f"no accepted HubSpot signature header ({', '.join(versions)})")

    def _verify_v3(self, request: InboundRequest) -> VerifiedDelivery:
        provided = decode_b64(required_header(request, V3_HEADER))
        timestamp = required_header(request, V3_TIMESTAMP, "missing_timestamp")
        signed_at = parse_timestamp(timestamp, "milliseconds")
        uri = self._uri(request)
        uris = [uri] if _decoded(uri) == uri else [uri, _decoded(uri)]
        expected = (
            base64.b64decode(v3_signature(secret, request.method, candidate, request.body, timestamp))
            for secret in self._values(self.config.secrets)
            for candidate in uris
        )
        index = first_match([provided], expected)
        if index is None:
            raise SignatureError("bad_signature")
        check_window(signed_at, request.received_at, self.config.tolerance_seconds)
        return VerifiedDelivery(request, self.scheme, request.body, secret_index=index // len(uris), signed_at=signed_at)

    def _verify_legacy(self, request: InboundRequest, version: str, header: str) -> VerifiedDelivery:
        provided = decode_hex(header)
        secrets = self._values(self.config.secrets)
        if version == "v2":
            uri = self._uri(request)
            expected = (bytes.fromhex(v2_signature(s, request.method, uri, request.body)) for s in secrets)
        else:
            expected = (bytes.fromhex(v1_signature(s, request.body)) for s in secrets)
        index = first_match([provided], expected)
        if index is None:
            raise SignatureError("bad_signature")
        return VerifiedDelivery(request, self.scheme, request.body, secret_index=index)
