"""The Digest computation both sides share (RFC 7616 §3.4.1 - §3.4.3, RFC 8760 §2)."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from typing import Final


class DigestAlgorithm(enum.StrEnum):
    MD5 = "MD5"
    MD5_SESS = "MD5-sess"
    SHA256 = "SHA-256"
    SHA256_SESS = "SHA-256-sess"

    @property
    def session(self) -> bool:
        return self.value.endswith("-sess")

    @property
    def hash(self) -> Callable[[str], str]:
        return _HASHES[self.value.removesuffix("-sess")]

    @classmethod
    def from_text(cls, text: str | None) -> DigestAlgorithm | None:
        """The algorithm a challenge names; an absent algorithm means MD5 (RFC 7616 §3.3)."""
        if text is None:
            return cls.MD5
        for algorithm in cls:
            if algorithm.value.lower() == text.lower():
                return algorithm
        return None


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "surrogateescape"), usedforsecurity=False).hexdigest()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


_HASHES: Final[dict[str, Callable[[str], str]]] = {"MD5": _md5, "SHA-256": _sha256}


def compute_ha1(algorithm: DigestAlgorithm, username: str, realm: str, password: str) -> str:
    """H(username:realm:password): what a registrar may store instead of the password."""
    return algorithm.hash(f"{username}:{realm}:{password}")


def compute_response(
    *,
    algorithm: DigestAlgorithm,
    ha1: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None,
    nc: str | None,
    cnonce: str | None,
    body: bytes = b"",
) -> str:
    """The `response` parameter for the given inputs.

    `ha1` is H(username:realm:password); for the -sess algorithms it is extended with the
    nonces here. Without qop this is the RFC 2069 computation, which RFC 3261 still allows.
    """
    h = algorithm.hash
    if algorithm.session:
        ha1 = h(f"{ha1}:{nonce}:{cnonce or ''}")
    if qop == "auth-int":
        ha2 = h(f"{method}:{uri}:{h(body.decode('utf-8', 'surrogateescape'))}")
    else:
        ha2 = h(f"{method}:{uri}")
    if qop:
        return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return h(f"{ha1}:{nonce}:{ha2}")
