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
another enterprise, an Authorization for another realm. A wrong password is challenged again
until the guard blocks the source.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence

from zongji.pbx.contracts import Device, TenantLine
from zongji.pbx.devices.credentials import CredentialRecord, DeviceCredentials
from zongji.pbx.devices.guard import AuthGuard
from zongji.sip.auth.digest import DigestAlgorithm
from zongji.sip.auth.server import AuthOutcome, DigestAuthenticator, DigestSecret
from zongji.sip.errors import SipParseError
from zongji.sip.message import Response
from zongji.sip.ua.requests import IncomingRequest

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
        host = incoming.source.remote.host
        if self._guard.blocked(host):
            _respond(incoming, 403, "Forbidden (source blocked)")
            return None
        if not tenant.active:
            _respond(incoming, 403, "Forbidden (enterprise not active)")
            return None
        request = incoming.request
        proxy = request.method != "REGISTER"
        authenticator = self.authenticator(tenant)
        result = await authenticator.verify(request, proxy=proxy)
        if result.outcome is AuthOutcome.OK and result.username is not None:
            credential = await self._credentials.find(tenant.tenant_id, result.username)
            if credential is not None:  # revoked between lookup and here: a failure below
                self._guard.succeeded(host)
                return credential
        if result.outcome is AuthOutcome.MALFORMED:
            self._guard.failed(host)
            _respond(incoming, 400, "Bad Authorization")
            return None
        if result.outcome is AuthOutcome.MISSING:
            if _foreign_realm(incoming, proxy, authenticator.realm):
                self._guard.failed(host)
                _respond(incoming, 403, "Forbidden (wrong realm)")
                return None
            _send(incoming, self._challenge(incoming, authenticator, proxy=proxy))
            return None
        if result.outcome is AuthOutcome.STALE:
            _send(incoming, self._challenge(incoming, authenticator, proxy=proxy, stale=True))
            return None
        # FAILED: wrong password, unknown username, replayed nonce-count, nonce not ours
        now_blocked = self._guard.failed(host)
        if now_blocked:
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
        agent = request.headers.get("User-Agent") or ""
        if not agent.startswith(self._md5_only_agents):
            return authenticator.challenge(
                request, stale=stale, proxy=proxy, to_tag=incoming.to_tag
            )
        response = request.create_response(407 if proxy else 401, to_tag=incoming.to_tag)
        header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        for challenge in authenticator.challenges(stale=stale):
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


def _respond(incoming: IncomingRequest, status: int, reason: str) -> None:
    """Answer, unless the stack already did (it answers 500 for a handler that took too long)."""
    if not incoming.answered:
        incoming.respond(status, reason)


def _send(incoming: IncomingRequest, response: Response) -> None:
    if not incoming.answered:
        incoming.send(response)
