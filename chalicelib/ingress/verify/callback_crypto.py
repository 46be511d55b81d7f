"""The WeCom / DingTalk callback envelope (WXBizMsgCrypt): SHA-1 msg_signature and AES-256-CBC.

key = base64(EncodingAESKey + "="), IV = key[:16], PKCS#7 padding to a 32-byte
block; plaintext = 16 random bytes | 4-byte big-endian length | message | receive id.
``cryptography`` is imported on first use (only these two schemes need it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct

from chalicelib.errors import CallbackCryptoError, SecretError

BLOCK = 32


def msg_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """lower-hex SHA-1 of the four values sorted and concatenated."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode("utf-8")).hexdigest()


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key from the 43-character EncodingAESKey."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise SecretError("EncodingAESKey is not base64") from None
    if len(key) != 32:
        raise SecretError("EncodingAESKey does not decode to 32 bytes")
    return key


def _cipher(key: bytes):  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def decrypt(key: bytes, encrypted_b64: str) -> tuple[bytes, str]:
    """Return (message, receive id); any inconsistency raises CallbackCryptoError."""
    try:
        ciphertext = base64.b64decode(encrypted_b64, validate=True)
    except (binascii.Error, ValueError):
        raise CallbackCryptoError("encrypted field is not base64") from None
    if not ciphertext or len(ciphertext) % 16:
        raise CallbackCryptoError("ciphertext length is not a multiple of the AES block")
    decryptor = _cipher(key).decryptor()
    plain = decryptor.update(ciphertext) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise CallbackCryptoError("bad padding")
    plain = plain[:-pad]
    if len(plain) < 20:
        raise CallbackCryptoError("plaintext too short")
    (length,) = struct.unpack(">I", plain[16:20])
    if 20 + length > len(plain):
        raise CallbackCryptoError("declared length exceeds plaintext")
    message, receive_id = plain[20 : 20 + length], plain[20 + length :]
    try:
        return message, receive_id.decode("utf-8")
    except UnicodeDecodeError:
        raise CallbackCryptoError("receive id is not UTF-8") from None


def encrypt(key: bytes, message: bytes, receive_id: str, random16: bytes | None = None) -> str:
    """Encrypt a reply the vendor will decrypt with the same key."""
    plain = (random16 or os.urandom(16)) + struct.pack(">I", len(message)) + message + receive_id.encode("utf-8")
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = _cipher(key).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")
