"""企业微信 WeCom encrypted callbacks (XML or JSON mode), including the GET URL verification.

WeCom documents an empty 200 as "no passive reply"; ``reply: success`` answers the
plain text ``success`` that third-party-app callbacks expect instead.
"""

from __future__ import annotations

import json

from chalicelib.errors import MalformedRequest, UnsafeOrMalformedXml
from chalicelib.ingress.request import InboundRequest
from chalicelib.ingress.safe_xml import parse_xml
from chalicelib.ingress.verify._encrypted_callback import EncryptedCallbackVerifier
from chalicelib.ingress.verify.base import VendorReply, VerifiedDelivery


def encrypted_field(body: bytes) -> str:
    """The ``Encrypt`` (XML) or ``encrypt`` (JSON) field of a callback body."""
    text = body.lstrip()
    if text.startswith(b"{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise MalformedRequest("malformed_body", f"callback JSON is not valid: {exc}") from None
        value = document.get("encrypt") if isinstance(document, dict) else None
    else:
        try:
            root = parse_xml(body)
        except UnsafeOrMalformedXml as exc:
            raise MalformedRequest(exc.reason, str(exc)) from None
        node = root.find("Encrypt")
        value = node.text if node is not None else None
    if not isinstance(value, str) or not value.strip():
        raise MalformedRequest("malformed_body", "callback body has no Encrypt field")
    return value.strip()


class WeComVerifier(EncryptedCallbackVerifier):
    scheme = "wecom"

    def _verify(self, request: InboundRequest) -> VerifiedDelivery:
        query = request.query
        echo = query.get("echostr")
        if request.method == "GET" and echo is not None:
            message, _, index, _ = self._authenticate(request, query.get("msg_signature"), query.get("timestamp"), query.get("nonce"), echo)
            reply = VendorReply(message)
            return VerifiedDelivery(request, self.scheme, message, reply=reply, secret_index=index, handshake=True, media_type="text/plain")
        encrypted = encrypted_field(request.body)
        signature, timestamp, nonce = query.get("msg_signature"), query.get("timestamp"), query.get("nonce")
        message, _, index, _ = self._authenticate(request, signature, timestamp, nonce, encrypted)
        media = "application/json" if message.lstrip().startswith(b"{") else "application/xml"
        reply = VendorReply(b"success" if self.config.reply == "success" else b"")
        return VerifiedDelivery(request, self.scheme, message, reply=reply, secret_index=index, media_type=media)
