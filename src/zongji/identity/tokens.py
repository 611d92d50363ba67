"""Access and refresh tokens.

Access tokens are short-lived signed JWTs (HS256) that name their session; each request checks that
session still stands, so logging out or deregistering cuts a token off at once rather than when it
expires. Refresh tokens are random, stored only as a SHA-256 hash, bound to one device, and rotated
on every use: presenting an already-rotated one means it was copied, and ends the session.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

ISSUER = "zongji"
REFRESH_PREFIX = "zrt_"


@dataclass(frozen=True)
class AccessClaims:
    session_id: uuid.UUID
    tenant_id: uuid.UUID
    subject_id: uuid.UUID
    subject_kind: str
    expires_at: datetime


class InvalidToken(Exception):
    pass


class TokenSigner:
    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._key = key
        self.ttl = ttl_seconds

    def issue(
        self,
        *,
        session_id: uuid.UUID,
        tenant_id: uuid.UUID,
        subject_id: uuid.UUID,
        subject_kind: str,
        now: datetime,
    ) -> str:
        claims = {
            "iss": ISSUER,
            "sid": str(session_id),
            "tid": str(tenant_id),
            "sub": str(subject_id),
            "knd": subject_kind,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self.ttl)).timestamp()),
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str, now: datetime) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["exp", "sid", "tid", "sub", "knd"], "verify_exp": False},
            )
            expires = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo)
            if (
                expires <= now
            ):  # checked against our clock, not the system's, so tests can age tokens
                raise InvalidToken("expired")
            return AccessClaims(
                session_id=uuid.UUID(claims["sid"]),
                tenant_id=uuid.UUID(claims["tid"]),
                subject_id=uuid.UUID(claims["sub"]),
                subject_kind=str(claims["knd"]),
                expires_at=expires,
            )
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise InvalidToken(str(exc)) from exc


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
