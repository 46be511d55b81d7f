"""Square: base64 HMAC-SHA256 of notification URL + raw body (header x-square-hmacsha256-signature).

The URL must be the one configured in Square's subscription, byte for byte, so the
connector file can pin it; no timestamp is signed (dedupe on event_id instead).
"""

from __future__ import annotations

import hashlib
import hmac

from chalicelib.errors import SignatureError
from chalicelib.ingress.request import InboundRequest
from chalicelib.ingress.verify.base import VerifiedDelivery, Verifier, decode_b64, first_match, required_header

HEADER = "x-square-hmacsha256-signature"


class SquareVerifier(Verifier):
    scheme = "square"

    def _verify(self, request: InboundRequest) -> VerifiedDelivery:
        provided = decode_b64(required_header(request, HEADER))
        url = self.config.notification_url or request.url
        message = url.encode("utf-8") + request.body
        expected = (hmac.new(s.encode("utf-8"), message, hashlib.sha256).digest() for s in self._values(self.config.secrets))
        index = first_match([provided], expected)
        if index is None:
            raise SignatureError("bad_signature")
        return VerifiedDelivery(request, self.scheme, request.body, secret_index=index)
