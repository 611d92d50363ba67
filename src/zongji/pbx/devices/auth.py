"""Who is this device? Digest authentication of REGISTER, INVITE and SUBSCRIBE against the
enterprise's device credentials (SEC-3: only an enterprise's own authenticated devices register
or call).

The realm is the enterprise's SIP domain, so a credential only ever verifies in the enterprise it
was issued in. One `DigestAuthenticator` per enterprise realm, made on first use; its nonces are
HMACs over their issue time, so they cost no memory until answered. MD5 is offered before
SHA-256: both are accepted, but SIPp 3.6 (and older phones) give up if the first challenge is one
they do not know (RFC 8760 asks the other order; docs/pbx/devices.md says why not here).

REGISTER is challenged with 401/WWW-Authenticate, everything else with 407/Proxy-Authenticate
(RFC 3261 §22.1, §22.3: the PBX is a proxy-like B2BUA for calls). Refused outright (403), because
asking again cannot help: a blocked source, a suspended or cancelled enterprise, a credential of
another enterprise, an Authorization for another realm, a right response whose digest-uri names
another target (another number than the one dialled). A wrong password is challenged again until
the guard blocks the source.

Every nonce is bound to the address it was sent to, and only a wrong answer to such a nonce counts
as a failure with the guard (`AuthOutcome.FAILED`): what anyone can send from a forged address (a
nonce we never issued, malformed credentials, a foreign realm) is answered but never counted, so
spoofed datagrams cannot get an address blocked. Every answer here (challenges and refusals) is
sent statelessly, once: an unauthenticated INVITE over UDP would otherwise have its 407 resent
ten times by Timer G, an amplifier for forged sources. The caller's own retransmission of the
request gets a fresh challenge.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence

from zongji.pbx.contracts import Device, TenantLine
from zongji.pbx.devices.credentials import CredentialRecord, DeviceCredentials
from zongji.pbx.devices.guard import AuthGuard
from zongji.sip import (
    AuthOutcome,
    DigestAlgorithm,
    DigestAuthenticator,
    DigestSecret,
    IncomingRequest,
    Response,
    SipParseError,
)

ALGORITHMS = (DigestAlgorithm.MD5, DigestAlgorithm.SHA256)


class DeviceAuthenticator:
    """`DeviceAuth`: verifies a request's credentials and answers it when they fall short."""

    def __init__(
        self,
        credentials: DeviceCredentials,
        guard: AuthGuard,
        *,
        nonce_lifetime: float = 300.0,
        md5_only_agents: Sequence[str] = (),
    ) -> None:
        self._credentials = credentials
        self._guard = guard
        self._nonce_lifetime = nonce_lifetime
        self._md5_only_agents = tuple(md5_only_agents)
        self._key = secrets.token_bytes(32)  # one key: nonces of all realms
        self._authenticators: dict[uuid.UUID, DigestAuthenticator] = {}

    def blocked(self, host: str) -> bool:
        return self._guard.blocked(host)

    def authenticator(self, tenant: TenantLine) -> DigestAuthenticator:
        """The enterprise's authenticator (a new one when its SIP domain changed)."""
        found = self._authenticators.get(tenant.tenant_id)
        realm = tenant.sip_domain
        if found is None or found.realm != realm:
            tenant_id = tenant.tenant_id

            async def lookup(username: str, realm: str) -> DigestSecret | None:
                return await self._credentials.secret(tenant_id, username, realm)

            found = DigestAuthenticator(
                realm,
                lookup,
                algorithms=ALGORITHMS,
                nonce_lifetime=self._nonce_lifetime,
                key=self._key,
            )
            self._authenticators[tenant.tenant_id] = found
        return found

    async def authenticate(self, incoming: IncomingRequest, tenant: TenantLine) -> Device | None:
        credential = await self.verify(incoming, tenant)
        if credential is None:
            return None
        return Device(tenant.tenant_id, credential.user_id, credential.id, credential.username)

    async def verify(
        self, incoming: IncomingRequest, tenant: TenantLine
    ) -> CredentialRecord | None:
        """Like `authenticate`, returning the whole credential (the registrar needs its user)."""
        source = incoming.source.remote
        host = source.host
        request = incoming.request
        proxy = request.method != "REGISTER"
        authenticator = self.authenticator(tenant)
        if self._guard.blocked(host, _claimed_username(incoming, proxy, authenticator.realm)):
            _respond(incoming, 403, "Forbidden (source blocked)")
            return None
        if not tenant.active:
            _respond(incoming, 403, "Forbidden (enterprise not active)")
            return None
        result = await authenticator.verify(request, proxy=proxy, source=host)
        outcome = result.outcome
        if outcome is AuthOutcome.OK and result.username is not None:
            credential = await self._credentials.find(tenant.tenant_id, result.username)
            if credential is not None:  # revoked between lookup and here: a failure below
                self._guard.succeeded(host, result.username)
                return credential
            outcome = AuthOutcome.FAILED
        if outcome is AuthOutcome.MALFORMED:
            _respond(incoming, 400, "Bad Authorization")
            return None
        if outcome is AuthOutcome.MISSING and _foreign_realm(incoming, proxy, authenticator.realm):
            _respond(incoming, 403, "Forbidden (wrong realm)")
            return None
        if outcome is AuthOutcome.OTHER_TARGET:
            _respond(incoming, 403, "Forbidden (digest uri names another target)")
            return None
        if outcome is not AuthOutcome.FAILED:  # MISSING, STALE, UNKNOWN_NONCE: (re)challenge
            stale = outcome is AuthOutcome.STALE
            _send(incoming, self._challenge(incoming, authenticator, proxy=proxy, stale=stale))
            return None
        # FAILED: a wrong guess at a nonce this source was given (wrong password, unknown
        # username, replayed nonce-count)
        if self._guard.failed(host, source.port, result.username):
            _respond(incoming, 403, "Forbidden (source blocked)")
            return None
        if result.username and await self._credentials.other_tenants_with(
            tenant.tenant_id, result.username
        ):
            _respond(incoming, 403, "Forbidden (credential of another domain)")
            return None
        _send(incoming, self._challenge(incoming, authenticator, proxy=proxy))
        return None

    def _challenge(
        self,
        incoming: IncomingRequest,
        authenticator: DigestAuthenticator,
        *,
        proxy: bool,
        stale: bool = False,
    ) -> Response:
        """A 401/407 with MD5 and SHA-256 challenges, or MD5 alone for a phone known to fail
        on any SHA-256 challenge (its User-Agent starts with one of `md5_only_agents`). Either
        way the answer is verified by the same authenticator, so nonces and their counts are
        shared and a changed User-Agent header cannot replay anything."""
        request = incoming.request
        source = incoming.source.remote.host  # the nonce is good from there only
        agent = request.headers.get("User-Agent") or ""
        if not agent.startswith(self._md5_only_agents):
            return authenticator.challenge(
                request, stale=stale, proxy=proxy, to_tag=incoming.to_tag, source=source
            )
        response = request.create_response(407 if proxy else 401, to_tag=incoming.to_tag)
        header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        for challenge in authenticator.challenges(stale=stale, source=source):
            if challenge.params.get("algorithm") == DigestAlgorithm.MD5.value:
                response.headers.add(header, challenge)
        return response


def _foreign_realm(incoming: IncomingRequest, proxy: bool, realm: str) -> bool:
    """Digest credentials for some realm other than ours (another enterprise's domain)."""
    try:
        given = incoming.request.proxy_authorization if proxy else incoming.request.authorization
    except SipParseError:
        return False
    return any(
        c.scheme.lower() == "digest" and (c.params.get("realm") or "").lower() != realm.lower()
        for c in given
    )


def _claimed_username(incoming: IncomingRequest, proxy: bool, realm: str) -> str | None:
    """The username the request's credentials for our realm claim (unverified: only to find a
    block per username behind a trusted proxy)."""
    try:
        given = incoming.request.proxy_authorization if proxy else incoming.request.authorization
    except SipParseError:
        return None
    for credentials in given:
        if credentials.scheme.lower() == "digest" and credentials.params.get("realm") == realm:
            return credentials.params.get("username")
    return None


def _respond(incoming: IncomingRequest, status: int, reason: str) -> None:
    """Refuse, once and statelessly, unless the stack already answered (it answers 500 for a
    handler that took too long)."""
    if not incoming.answered:
        incoming.send_statelessly(incoming.create_response(status, reason))


def _send(incoming: IncomingRequest, response: Response) -> None:
    """Send a challenge, once and statelessly (see the module's docstring)."""
    if not incoming.answered:
        incoming.send_statelessly(response)
