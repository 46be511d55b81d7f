"""Shared flow of the WeCom and DingTalk verifiers: find the credential that signed, decrypt, check receiver."""

from __future__ import annotations

import hmac
from typing import Any

from chalicelib.errors import CallbackCryptoError, SignatureError
from chalicelib.ingress.request import InboundRequest
from chalicelib.ingress.verify import callback_crypto
from chalicelib.ingress.verify.base import Verifier, check_window, parse_timestamp


class EncryptedCallbackVerifier(Verifier):
    """msg_signature over (token, timestamp, nonce, encrypt), then AES decrypt and receive-id check."""

    timestamp_unit = "seconds"

    def _authenticate(
        self, request: InboundRequest, signature: str | None, timestamp: str | None, nonce: str | None, encrypted: str
    ) -> tuple[bytes, str, int, Any]:
        """Return (message, receive id, credential index, aes key)."""
        if not signature:
            raise SignatureError("missing_signature", "msg_signature is missing")
        if not timestamp or nonce is None:
            raise SignatureError("missing_timestamp", "timestamp or nonce is missing")
        signed_at = parse_timestamp(timestamp, self._unit(timestamp))
        provided = signature.strip().lower().encode("utf-8")
        index: int | None = None
        for i, credential in enumerate(self.config.credentials):
            token = self._secrets.get(credential.token)
            expected = callback_crypto.msg_signature(token, timestamp, nonce, encrypted).encode("ascii")
            if hmac.compare_digest(expected, provided):
                index = i
                break
        if index is None:
            raise SignatureError("bad_signature")
        check_window(signed_at, request.received_at, self.config.tolerance_seconds)
        key = callback_crypto.aes_key(self._secrets.get(self.config.credentials[index].encoding_aes_key))
        try:
            message, receive_id = callback_crypto.decrypt(key, encrypted)
        except CallbackCryptoError as exc:
            raise SignatureError("decrypt_failed", str(exc)) from None
        if not any(hmac.compare_digest(receive_id.encode("utf-8"), r.encode("utf-8")) for r in self.config.receive_ids):
            raise SignatureError("receive_id_mismatch", f"message is addressed to {receive_id!r}")
        return message, receive_id, index, key

    def _unit(self, timestamp: str) -> str:
        return self.timestamp_unit
