"""The registrar (RFC 3261 §10.3): devices tell the PBX where they are.

A REGISTER is handled in this order, each step answering and stopping on failure:

1. the enterprise is the one whose SIP domain is the Request-URI's host (unknown: 404);
2. the request is readable as a REGISTER (`parse_register`; `Contact: *` needs `Expires: 0`): 400;
3. the device proves it holds one of the enterprise's credentials (Digest MD5 or SHA-256, 401;
   403 for a blocked source, a suspended enterprise, another enterprise's credential);
4. the address-of-record (To) is that credential's: its username, or its user's extension, at the
   enterprise's domain (403 otherwise: a device cannot register for a colleague);
5. every expiry asked for is at least `sip_min_expires` (423 Interval Too Brief + Min-Expires)
   and is cut to `sip_max_expires`; a UDP device behind a NAT gets at most `sip_nat_expires`, so
   its re-REGISTERs keep the NAT's mapping open (the keep-alive);
6. at most `sip_max_contacts` bindings per user (403 beyond);
7. the bindings change, and the 200 lists all of this credential's current bindings with the
   seconds each has left (§10.3 step 8), and the Path when the device supports it.

**Direct or through a proxy.** A REGISTER with a Path (RFC 3327) came through proxies that want
to stay on the way to the device: the binding keeps the Path, requests to the device are routed
through it (its first entry is the first hop), and the Contact is stored as sent, because the
proxy, not we, sees the device's real address. Only a REGISTER that came *direct* (no Path, a
single Via: the device itself sent it to us) can be judged for NAT: then its source address is the
device's, and a Contact that names another address is fixed to the source. A REGISTER relayed by a
proxy without Path (several Vias) keeps its Contact as sent too: its source address is the proxy's,
and rewriting the Contact to it would send the device's calls back to the proxy (which, as a
registrar's client, would route them back here: a loop).
"""

from __future__ import annotations

import logging

from zongji.directory.service_period import local_today
from zongji.pbx.contracts import Device, TelephonyView
from zongji.pbx.devices.auth import DeviceAuthenticator
from zongji.pbx.devices.binding_store import BindingStore
from zongji.pbx.devices.credentials import DeviceCredentials
from zongji.pbx.devices.location import LocationService, NewBinding
from zongji.pbx.devices.presence import PresencePublisher
from zongji.platform.clock import Clock, SystemClock
from zongji.sip import (
    Binding,
    Flow,
    IncomingRequest,
    SipParseError,
    SipUri,
    TransportKind,
    parse_register,
)

log = logging.getLogger(__name__)


class Registrar:
    def __init__(
        self,
        view: TelephonyView,
        auth: DeviceAuthenticator,
        credentials: DeviceCredentials,
        location: LocationService,
        *,
        min_expires: int = 60,
        max_expires: int = 3600,
        nat_expires: int = 120,
        max_contacts: int = 10,
        presence: PresencePublisher | None = None,
        clock: Clock | None = None,
        bindings: BindingStore | None = None,
    ) -> None:
        self._presence = presence
        self._clock: Clock = clock or SystemClock()
        self._bindings = bindings
        self._view = view
        self._auth = auth
        self._credentials = credentials
        self._location = location
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.nat_expires = nat_expires
        self.max_contacts = max_contacts

    async def housekeeping(self) -> None:
        """A job: purge expired bindings (reporting users who went offline), and write when each
        device last registered."""
        self._location.sweep()
        await self._credentials.flush_seen()

    async def close(self) -> None:
        """The node stops: write what is still queued (presence, bindings, last registration
        times). The bindings stay in the database for the node's next start."""
        if self._presence is not None:
            await self._presence.drain()
        if self._bindings is not None:
            await self._bindings.drain()
        await self._credentials.flush_seen()

    async def handle(self, incoming: IncomingRequest) -> None:
        try:
            await self._handle(incoming)
        except Exception:
            log.exception("REGISTER failed")
            if not incoming.answered:
                incoming.respond(500)

    async def _handle(self, incoming: IncomingRequest) -> None:
        request = incoming.request
        uri = request.uri
        domain = uri.host if isinstance(uri, SipUri) else ""
        tenant = await self._view.tenant_by_domain(domain)
        if tenant is None:
            incoming.respond(404, "Not Found (unknown domain)")
            return
        try:
            register = parse_register(request)
            path = tuple(str(hop) for hop in request.path)  # RFC 3327, first hop first
        except SipParseError as error:
            incoming.respond(400, f"Bad Request ({error.detail or 'malformed REGISTER'})"[:120])
            return
        credential = await self._auth.verify(incoming, tenant)
        if credential is None:
            return  # challenged or refused
        aor = register.aor
        subscriber = await self._view.subscriber(tenant.tenant_id, credential.user_id)
        names = {credential.username}
        if subscriber is not None and subscriber.extension:
            names.add(subscriber.extension)
        if aor.host.lower() != tenant.sip_domain.lower() or aor.user not in names:
            incoming.respond(403, "Forbidden (To is not this device's address)")
            return
        if subscriber is None:  # the user was deleted; the credential is being revoked
            incoming.respond(403, "Forbidden (no such user)")
            return
        if not subscriber.in_service(local_today(self._clock.now(), tenant.timezone)):
            # suspended, or outside the validity period (ADM-21): no service until it is back
            incoming.respond(403, "Forbidden (user out of service)")
            return
        device = Device(tenant.tenant_id, credential.user_id, credential.id, credential.username)
        flow = incoming.source
        user_agent = request.headers.get("User-Agent") or ""
        if register.remove_all:
            self._location.remove_all(device)
        elif register.bindings:
            too_brief = [b for b in register.bindings if 0 < b.expires < self.min_expires]
            if too_brief:
                incoming.respond(423, headers=[("Min-Expires", str(self.min_expires))])
                return
            direct = not path and len(request.via) == 1
            changes = [self._prepare(b, flow, path=path, direct=direct) for b in register.bindings]
            current = {
                b.key for b in self._location.registrations(tenant.tenant_id, device.user_id)
            }
            after = (current | {c.key for c in changes if c.expires}) - {
                c.key for c in changes if not c.expires
            }
            if len(after) > self.max_contacts:
                incoming.respond(403, "Forbidden (too many contacts)")
                return
            self._location.update(
                device,
                changes,
                flow=flow,
                call_id=register.call_id,
                cseq=register.cseq,
                user_agent=user_agent[:128],
            )
            self._credentials.seen(credential)
        now = self._location.now()
        headers = [
            ("Contact", f"<{b.sent}>;expires={max(0, int(b.contact.expires_at - now + 0.5))}")
            for b in self._location.registrations(tenant.tenant_id, device.user_id, credential.id)
        ]
        if "path" in request.supported and "path" in request.headers:
            # RFC 3327 §5.3: the stored Path goes back to a device that said it understands it
            headers.extend(("Path", value) for value in request.headers.get_all("path"))
        if not incoming.answered:  # the stack answers 500 itself when a handler took too long
            incoming.respond(200, headers=headers)

    def _prepare(
        self, binding: Binding, flow: Flow, *, path: tuple[str, ...], direct: bool
    ) -> NewBinding:
        uri = binding.contact.uri
        sent = str(uri)
        key = str(uri.without_headers()) if isinstance(uri, SipUri) else sent
        expires = min(binding.expires, self.max_expires)
        fixed = sent
        nat = False
        instance_id = binding.contact.params.get("+sip.instance")
        reg_id = binding.contact.params.get("reg-id")
        if direct and isinstance(uri, SipUri) and flow.kind is TransportKind.UDP:
            target = uri.host_port()
            if (target.host, target.port) != (flow.remote.host, flow.remote.port):
                nat = True
                rewritten = SipUri(
                    host=flow.remote.host,  # an IPv6 literal gets its brackets when written
                    user=uri.user,
                    port=flow.remote.port,
                    params=uri.params.without("maddr"),
                    scheme=uri.scheme,
                )
                fixed = str(rewritten)
                if expires:
                    expires = min(expires, self.nat_expires)
        return NewBinding(
            key=key,
            sent=sent,
            uri=fixed,
            expires=expires,
            nat=nat,
            path=path,
            instance_id=instance_id[:255] if instance_id else None,
            reg_id=int(reg_id) if reg_id and reg_id.isdigit() and len(reg_id) < 10 else None,
        )
