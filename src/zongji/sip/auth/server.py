"""Challenging and verifying Digest credentials (RFC 3261 §22.1, §22.4; RFC 7616; RFC 8760).

`DigestAuthenticator` knows nothing about users: it asks a `lookup` callable for the secret of a
username in a realm (a password, or stored HA1 values), so the registrar and the B2BUA can back
it with whatever store they use. Nonces are self-validating (an HMAC over their issue time), so
issuing one costs no memory; they expire (a late answer gets `stale=true` and a fresh nonce,
RFC 7616 §3.3) and their nonce-counts are tracked to refuse replays (RFC 7616 §3.4). Every
comparison of secrets is constant-time.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import inspect
import secrets
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from zongji.sip.auth.digest import DigestAlgorithm, compute_ha1, compute_response
from zongji.sip.errors import SipParseError
from zongji.sip.fields import AuthChallenge, AuthCredentials
from zongji.sip.message import Request, Response
from zongji.sip.uri import SipUri, parse_uri


@dataclass(frozen=True, slots=True)
class DigestSecret:
    """What the lookup returns for a user: a password, or HA1 per algorithm (or both)."""

    password: str | None = None
    ha1: Mapping[DigestAlgorithm, str] = field(default_factory=dict)

    def ha1_for(self, algorithm: DigestAlgorithm, username: str, realm: str) -> str | None:
        base = DigestAlgorithm(algorithm.value.removesuffix("-sess"))
        stored = self.ha1.get(base)
        if stored is not None:
            return stored
        if self.password is not None:
            return compute_ha1(base, username, realm, self.password)
        return None


LookupResult = DigestSecret | str | None
CredentialLookup = Callable[[str, str], LookupResult | Awaitable[LookupResult]]
"""(username, realm) -> the user's secret; a plain str is a password; None: no such user."""


class AuthOutcome(enum.Enum):
    OK = "ok"
    MISSING = "missing"  # no credentials for our realm: challenge
    STALE = "stale"  # right password, old nonce: challenge with stale=true
    FAILED = "failed"  # wrong password, unknown user, replay: challenge again (or 403)
    MALFORMED = "malformed"  # credentials that do not parse: 400


@dataclass(frozen=True, slots=True)
class AuthResult:
    outcome: AuthOutcome
    username: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is AuthOutcome.OK


_NONCE_STRUCT: Final = struct.Struct(">d8s")
_NONCE_MAC_LENGTH: Final = 16


class DigestAuthenticator:
    """Server side of Digest authentication for one realm."""

    def __init__(
        self,
        realm: str,
        lookup: CredentialLookup,
        *,
        algorithms: tuple[DigestAlgorithm, ...] = (DigestAlgorithm.SHA256, DigestAlgorithm.MD5),
        nonce_lifetime: float = 300.0,
        max_tracked_nonces: int = 100_000,
        key: bytes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.realm = realm
        self.algorithms = algorithms
        self.nonce_lifetime = nonce_lifetime
        self._lookup = lookup
        self._key = key or secrets.token_bytes(32)
        self._clock = clock
        self._max_tracked = max_tracked_nonces
        # nonce -> highest nonce-count seen, oldest first; a nonce older than the newest one
        # evicted for space is treated as stale, so eviction never reopens a replay.
        self._nonce_counts: OrderedDict[str, int] = OrderedDict()
        self._evicted_until = 0.0

    # -- nonces

    def new_nonce(self) -> str:
        issued = _NONCE_STRUCT.pack(self._clock(), secrets.token_bytes(8))
        mac = hmac.new(self._key, issued, hashlib.sha256).digest()[:_NONCE_MAC_LENGTH]
        return base64.urlsafe_b64encode(issued + mac).decode().rstrip("=")

    def _nonce_issued_at(self, nonce: str) -> float | None:
        """When we issued `nonce`, or None if we did not issue it."""
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (ValueError, TypeError):
            return None
        if len(raw) != _NONCE_STRUCT.size + _NONCE_MAC_LENGTH:
            return None
        issued, mac = raw[: _NONCE_STRUCT.size], raw[_NONCE_STRUCT.size :]
        expected = hmac.new(self._key, issued, hashlib.sha256).digest()[:_NONCE_MAC_LENGTH]
        if not hmac.compare_digest(mac, expected):
            return None
        issued_at: float = _NONCE_STRUCT.unpack(issued)[0]
        return issued_at

    def _prune(self, now: float) -> None:
        while self._nonce_counts:
            nonce, _ = next(iter(self._nonce_counts.items()))
            issued = self._nonce_issued_at(nonce) or 0.0
            if now - issued <= self.nonce_lifetime and len(self._nonce_counts) <= self._max_tracked:
                break
            self._nonce_counts.popitem(last=False)
            if now - issued <= self.nonce_lifetime:
                self._evicted_until = max(self._evicted_until, issued)

    @property
    def tracked_nonces(self) -> int:
        return len(self._nonce_counts)

    # -- challenges

    def challenges(self, *, stale: bool = False) -> list[AuthChallenge]:
        """One challenge per algorithm, in order of preference, sharing one nonce (RFC 8760)."""
        nonce = self.new_nonce()
        result = []
        for algorithm in self.algorithms:
            params = {
                "realm": self.realm,
                "nonce": nonce,
                "algorithm": algorithm.value,
                "qop": "auth",
            }
            if stale:
                params["stale"] = "true"
            result.append(AuthChallenge("Digest", params))
        return result

    def challenge(
        self,
        request: Request,
        *,
        stale: bool = False,
        proxy: bool = False,
        to_tag: str | None = None,
    ) -> Response:
        """A 401 (or 407 for a proxy) carrying fresh challenges for `request`."""
        response = request.create_response(407 if proxy else 401, to_tag=to_tag)
        header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        for challenge in self.challenges(stale=stale):
            response.headers.add(header, challenge)
        return response

    # -- verification

    async def verify(self, request: Request, *, proxy: bool = False) -> AuthResult:
        """Check the credentials `request` carries for our realm."""
        try:
            all_credentials = request.proxy_authorization if proxy else request.authorization
        except SipParseError as error:
            return AuthResult(AuthOutcome.MALFORMED, detail=error.detail)
        for credentials in all_credentials:
            if (
                credentials.scheme.lower() == "digest"
                and credentials.params.get("realm") == self.realm
            ):
                return await self._verify(request, credentials)
        return AuthResult(AuthOutcome.MISSING)

    async def _verify(self, request: Request, credentials: AuthCredentials) -> AuthResult:
        params = credentials.params
        username = params.get("username")
        nonce = params.get("nonce")
        uri = params.get("uri")
        response = params.get("response")
        if not username or not nonce or uri is None or not response:
            return AuthResult(AuthOutcome.MALFORMED, username, "missing Digest parameters")
        algorithm = DigestAlgorithm.from_text(params.get("algorithm"))
        if algorithm is None or algorithm not in self.algorithms:
            return AuthResult(AuthOutcome.FAILED, username, "algorithm not offered")
        qop = params.get("qop")
        nc_text = params.get("nc")
        cnonce = params.get("cnonce")
        if qop is not None and (qop not in ("auth", "auth-int") or not nc_text or not cnonce):
            return AuthResult(AuthOutcome.MALFORMED, username, "bad qop, nc or cnonce")
        if not _same_uri(uri, request):
            return AuthResult(AuthOutcome.FAILED, username, "digest uri is not the Request-URI")

        issued = self._nonce_issued_at(nonce)
        if issued is None:
            return AuthResult(AuthOutcome.FAILED, username, "nonce not ours")

        secret = self._lookup(username, self.realm)
        if inspect.isawaitable(secret):
            secret = await secret
        if isinstance(secret, str):
            secret = DigestSecret(password=secret)
        ha1 = secret.ha1_for(algorithm, username, self.realm) if secret is not None else None
        # Compute even for an unknown user so that timing does not tell which users exist.
        expected = compute_response(
            algorithm=algorithm,
            ha1=ha1 or "0" * 64,
            nonce=nonce,
            method=request.method,
            uri=uri,
            qop=qop,
            nc=nc_text,
            cnonce=cnonce,
            body=request.body,
        )
        if not hmac.compare_digest(expected.encode(), response.lower().encode()) or ha1 is None:
            return AuthResult(AuthOutcome.FAILED, username, "wrong credentials")

        now = self._clock()
        self._prune(now)
        if now - issued > self.nonce_lifetime or issued <= self._evicted_until:
            return AuthResult(AuthOutcome.STALE, username, "nonce expired")
        count = _parse_nc(nc_text) if qop is not None else 1
        if count is None:
            return AuthResult(AuthOutcome.MALFORMED, username, "bad nonce-count")
        last = self._nonce_counts.get(nonce, 0)
        if count <= last:
            return AuthResult(AuthOutcome.FAILED, username, "nonce-count replayed")
        self._nonce_counts[nonce] = count
        return AuthResult(AuthOutcome.OK, username)


def _parse_nc(text: str | None) -> int | None:
    if text is None or len(text) != 8:
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


def _same_uri(digest_uri: str, request: Request) -> bool:
    """The digest-uri must name the Request-URI (RFC 7616 §3.4.6)."""
    if digest_uri == str(request.uri):
        return True
    try:
        parsed = parse_uri(digest_uri)
    except SipParseError:
        return False
    if isinstance(parsed, SipUri):
        return parsed.equivalent(request.uri)
    return parsed == request.uri
