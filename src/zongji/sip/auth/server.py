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
    FAILED = "failed"  # a nonce we issued to this source, wrong password / unknown user / replay
    UNKNOWN_NONCE = "unknown_nonce"  # a nonce not issued to this source, wrong response: challenge
    OTHER_TARGET = "other_target"  # right response, but its digest-uri names another target
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

    def new_nonce(self, source: str = "") -> str:
        """A nonce for `source` (whoever the challenge goes to): an answer to it from anywhere
        else is not one to this nonce (`UNKNOWN_NONCE`)."""
        issued = _NONCE_STRUCT.pack(self._clock(), secrets.token_bytes(8))
        return base64.urlsafe_b64encode(issued + self._mac(issued, source)).decode().rstrip("=")

    def _mac(self, issued: bytes, source: str) -> bytes:
        message = issued + source.encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_NONCE_MAC_LENGTH]

    def _nonce_issued_at(self, nonce: str, source: str) -> float | None:
        """When we issued `nonce` to `source`, or None if we did not issue it to them."""
        parts = _split_nonce(nonce)
        if parts is None:
            return None
        issued, mac = parts
        if not hmac.compare_digest(mac, self._mac(issued, source)):
            return None
        issued_at: float = _NONCE_STRUCT.unpack(issued)[0]
        return issued_at

    def _prune(self, now: float) -> None:
        while self._nonce_counts:
            nonce, _ = next(iter(self._nonce_counts.items()))
            issued = _issue_time(nonce)  # tracked nonces were verified when they were added
            if now - issued <= self.nonce_lifetime and len(self._nonce_counts) <= self._max_tracked:
                break
            self._nonce_counts.popitem(last=False)
            if now - issued <= self.nonce_lifetime:
                self._evicted_until = max(self._evicted_until, issued)

    @property
    def tracked_nonces(self) -> int:
        return len(self._nonce_counts)

    # -- challenges

    def challenges(self, *, stale: bool = False, source: str = "") -> list[AuthChallenge]:
        """One challenge per algorithm, in order of preference, sharing one nonce (RFC 8760)
        issued to `source`."""
        nonce = self.new_nonce(source)
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
        source: str = "",
    ) -> Response:
        """A 401 (or 407 for a proxy) carrying fresh challenges for `request` from `source`."""
        response = request.create_response(407 if proxy else 401, to_tag=to_tag)
        header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        for challenge in self.challenges(stale=stale, source=source):
            response.headers.add(header, challenge)
        return response

    # -- verification

    async def verify(
        self, request: Request, *, proxy: bool = False, source: str = ""
    ) -> AuthResult:
        """Check the credentials `request` (which came from `source`) carries for our realm."""
        try:
            all_credentials = request.proxy_authorization if proxy else request.authorization
        except SipParseError as error:
            return AuthResult(AuthOutcome.MALFORMED, detail=error.detail)
        for credentials in all_credentials:
            if (
                credentials.scheme.lower() == "digest"
                and credentials.params.get("realm") == self.realm
            ):
                return await self._verify(request, credentials, source)
        return AuthResult(AuthOutcome.MISSING)

    async def _verify(
        self, request: Request, credentials: AuthCredentials, source: str
    ) -> AuthResult:
        params = credentials.params
        username = params.get("username")
        nonce = params.get("nonce")
        uri = params.get("uri")
        response = params.get("response")
        if not username or not nonce or uri is None or not response:
            return AuthResult(AuthOutcome.MALFORMED, username, "missing Digest parameters")
        issued = self._nonce_issued_at(nonce, source)
        algorithm = DigestAlgorithm.from_text(params.get("algorithm"))
        if algorithm is None or algorithm not in self.algorithms:
            outcome = AuthOutcome.UNKNOWN_NONCE if issued is None else AuthOutcome.FAILED
            return AuthResult(outcome, username, "algorithm not offered")
        qop = params.get("qop")
        nc_text = params.get("nc")
        cnonce = params.get("cnonce")
        if qop is not None and (qop not in ("auth", "auth-int") or not nc_text or not cnonce):
            return AuthResult(AuthOutcome.MALFORMED, username, "bad qop, nc or cnonce")

        secret = self._lookup(username, self.realm)
        if inspect.isawaitable(secret):
            secret = await secret
        if isinstance(secret, str):
            secret = DigestSecret(password=secret)
        ha1 = secret.ha1_for(algorithm, username, self.realm) if secret is not None else None
        # Compute even for an unknown user so that timing does not tell which users exist.
        # The digest-uri is the one the client signed, whatever the Request-URI says.
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
        matches = hmac.compare_digest(expected.encode(), response.lower().encode())
        right = matches and ha1 is not None
        if issued is None:
            if right:  # the password is known: a nonce of an earlier run, or another address
                return AuthResult(AuthOutcome.STALE, username, "nonce not issued to this source")
            return AuthResult(AuthOutcome.UNKNOWN_NONCE, username, "nonce not ours")
        if not right:
            return AuthResult(AuthOutcome.FAILED, username, "wrong credentials")
        if not names_same_target(uri, request):
            return AuthResult(AuthOutcome.OTHER_TARGET, username, "digest uri names another target")

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


def _split_nonce(nonce: str) -> tuple[bytes, bytes] | None:
    """A nonce's issue data and MAC, or None if it is not shaped like one of ours."""
    try:
        raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) != _NONCE_STRUCT.size + _NONCE_MAC_LENGTH:
        return None
    return raw[: _NONCE_STRUCT.size], raw[_NONCE_STRUCT.size :]


def _issue_time(nonce: str) -> float:
    parts = _split_nonce(nonce)
    if parts is None:
        return 0.0
    issued_at: float = _NONCE_STRUCT.unpack(parts[0])[0]
    return issued_at


def _parse_nc(text: str | None) -> int | None:
    if text is None or len(text) != 8:
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


def names_same_target(digest_uri: str, request: Request) -> bool:
    """Whether the digest-uri names what the request is for.

    RFC 7616 §3.4.6 asks that the digest-uri "match" the Request-URI, but real clients put other
    things there: SIPp's default is the address it sends to (`sip:192.0.2.1:5060`), and a proxy
    may rewrite the Request-URI's host after the phone signed it. What the response protects is
    *who or what is asked for*, so the user part decides: a digest-uri without one names the
    server itself (a registrar domain, our address) and fits any request; one with a user part
    must name the Request-URI's user (the number dialled). A digest-uri that is no URI at all
    names nothing we can check, so it fits only if it is the Request-URI verbatim.
    """
    if digest_uri == str(request.uri):
        return True
    try:
        parsed = parse_uri(digest_uri)
    except SipParseError:
        return False
    if not isinstance(parsed, SipUri):
        return parsed == request.uri
    if not parsed.user:
        return True
    target = request.uri
    return isinstance(target, SipUri) and parsed.user == target.user
