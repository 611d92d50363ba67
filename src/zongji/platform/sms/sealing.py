"""Message bodies at rest in the delivery queue: sealed with AES-GCM under a key derived from the
node's secret key, bound to the row they belong to.

A queued message must survive a restart, so its text has to be stored until the SMSC accepts
it; sealed, a copy of the database (a backup, a curious administrator) still shows no login code.
The sealed body is deleted as soon as the message is submitted or given up.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_OCTETS = 12


class BodySeal:
    def __init__(self, secret_key: bytes) -> None:
        key = hmac.new(secret_key, b"zongji sms body seal v1", hashlib.sha256).digest()
        self._aead = AESGCM(key)

    def seal(self, row_id: uuid.UUID, text: str) -> bytes:
        nonce = os.urandom(NONCE_OCTETS)
        return nonce + self._aead.encrypt(nonce, text.encode(), row_id.bytes)

    def open(self, row_id: uuid.UUID, sealed: bytes) -> str:
        """The text; raises `cryptography.exceptions.InvalidTag` if it was sealed for another
        row or under another key."""
        nonce, body = sealed[:NONCE_OCTETS], sealed[NONCE_OCTETS:]
        return self._aead.decrypt(nonce, body, row_id.bytes).decode()
