"""钉钉 DingTalk HTTP event callbacks: same envelope as WeCom, JSON only, millisecond timestamps.

DingTalk keeps re-sending until it receives the word ``success`` encrypted with the
same key and signed, as JSON {msg_signature, timeStamp, nonce, encrypt}.
"""

from __future__ import annotations

import json
import secrets as random_source
import string
from collections.abc import Mapping

from chalicelib.errors import MalformedRequest
from chalicelib.ingress.request import InboundRequest
from chalicelib.ingress.verify import callback_crypto
from chalicelib.ingress.verify._encrypted_callback import EncryptedCallbackVerifier
from chalicelib.ingress.verify.base import VendorReply, VerifiedDelivery

_NONCE_ALPHABET = string.ascii_letters + string.digits


def _first(query: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = query.get(name)
        if value is not None:
            return value
    return None


def encrypted_success(token: str, key: bytes, receive_id: str, timestamp_ms: str, nonce: str | None = None) -> bytes:
    """The JSON reply DingTalk waits for: 'success', encrypted and signed."""
    nonce = nonce or "".join(random_source.choice(_NONCE_ALPHABET) for _ in range(8))
    encrypted = callback_crypto.encrypt(key, b"success", receive_id)
    signature = callback_crypto.msg_signature(token, timestamp_ms, nonce, encrypted)
    return json.dumps({"msg_signature": signature, "timeStamp": timestamp_ms, "nonce": nonce, "encrypt": encrypted}).encode("utf-8")


class DingTalkVerifier(EncryptedCallbackVerifier):
    scheme = "dingtalk"

    def _unit(self, timestamp: str) -> str:
        return "milliseconds" if len(timestamp.strip()) >= 13 else "seconds"

    def _verify(self, request: InboundRequest) -> VerifiedDelivery:
        try:
            document = json.loads(request.body)
        except ValueError as exc:
            raise MalformedRequest("malformed_body", f"callback JSON is not valid: {exc}") from None
        encrypted = document.get("encrypt") if isinstance(document, dict) else None
        if not isinstance(encrypted, str) or not encrypted:
            raise MalformedRequest("malformed_body", "callback body has no encrypt field")
        query = request.query
        message, receive_id, index, key = self._authenticate(
            request, _first(query, "msg_signature", "signature"), _first(query, "timestamp", "timeStamp"), query.get("nonce"), encrypted
        )
        handshake = _is_check_url(message)
        token = self._secrets.get(self.config.credentials[index].token)
        now_ms = str(int(request.received_at.timestamp() * 1000))
        reply = VendorReply(encrypted_success(token, key, receive_id, now_ms), "application/json")
        return VerifiedDelivery(request, self.scheme, message, reply=reply, secret_index=index, handshake=handshake)


def _is_check_url(message: bytes) -> bool:
    try:
        event = json.loads(message)
    except ValueError:
        return False
    return isinstance(event, dict) and event.get("EventType") == "check_url"
