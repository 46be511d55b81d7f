"""Shopify: base64 HMAC-SHA256 of the raw body with the app's client secret.

Nothing is timestamped, so replay protection is the dedupe on X-Shopify-Webhook-Id.
Shopify takes up to an hour to switch to a rotated secret: keep the previous one listed.
"""

from __future__ import annotations

import hashlib
import hmac

from chalicelib.errors import SignatureError
from chalicelib.ingress.request import InboundRequest
from chalicelib.ingress.verify.base import VerifiedDelivery, Verifier, decode_b64, first_match, required_header


class ShopifyVerifier(Verifier):
    scheme = "shopify"

    def _verify(self, request: InboundRequest) -> VerifiedDelivery:
        provided = decode_b64(required_header(request, self.config.header))
        expected = (hmac.new(s.encode("utf-8"), request.body, hashlib.sha256).digest() for s in self._values(self.config.secrets))
        index = first_match([provided], expected)
        if index is None:
            raise SignatureError("bad_signature")
        return VerifiedDelivery(request, self.scheme, request.body, secret_index=index)
