"""Console passwords: argon2id hashes, computed off the event loop.

Hashing is deliberately slow (tens of ms); doing it in a worker thread keeps every other request
and call moving while one login is checked.
"""

from __future__ import annotations

import asyncio
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from zongji.platform.errors import field_error

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY = _hasher.hash("dummy password for unknown accounts")


def check_strength(password: str, field: str = "password") -> None:
    if not 8 <= len(password) <= 128:
        raise field_error(
            field, "password_length", "Use 8 to 128 characters.", "密码长度须为 8 至 128 位。"
        )
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        raise field_error(
            field,
            "password_too_simple",
            "Use both letters and digits.",
            "密码须同时包含字母和数字。",
        )


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if it matches. With no account (`None`), spends the same time and says no, so that
    response times don't reveal which logins exist."""

    def verify() -> bool:
        try:
            return _hasher.verify(stored_hash or _DUMMY, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
