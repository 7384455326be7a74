"""Sensitive fields at rest: ID-card numbers and care notes are encrypted (Fernet, keyed from
the secret); ID-card numbers are also kept as a keyed hash for look-up and duplicates."""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet


class Crypto:
    def __init__(self, secret: str):
        enc_key = hashlib.sha256(b"circle-enc:" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(enc_key))
        self._mac_key = hashlib.sha256(b"circle-mac:" + secret.encode()).digest()

    def encrypt(self, text: str | None) -> bytes | None:
        return None if text is None else self._fernet.encrypt(text.encode())

    def decrypt(self, blob: bytes | None) -> str | None:
        return None if blob is None else self._fernet.decrypt(bytes(blob)).decode()

    def keyed_hash(self, text: str) -> bytes:
        return hmac.new(self._mac_key, text.strip().upper().encode(), hashlib.sha256).digest()


def mask_id_card(last4: str | None) -> str | None:
    """What any response shows of an ID-card number."""
    return None if not last4 else "*" * 14 + last4
