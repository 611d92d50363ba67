"""The PBX as a node component: the SIP user agent, the media engine and the call engine, started
and stopped with the node, and the front door every SIP request comes through.

The front door decides only *who handles* a request, never what it means: REGISTER goes to the
registrar, INVITE to the call engine, SUBSCRIBE for message-summary to voicemail (after the
device has authenticated), OPTIONS is answered here. A source the guard has blocked (repeated
authentication failures) or that floods us is turned away before any of them sees it, and a new
call past the node's rating (`calls/admission.py`) is refused with a stateless 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from zongji.media import LocalMediaServer
from zongji.pbx.calls.admission import RETRY_AFTER
from zongji.pbx.calls.engine import CallEngine
from zongji.pbx.calls.recovery import end_interrupted_calls
from zongji.pbx.services import PbxServices
from zongji.platform.clock import Clock
from zongji.platform.config import Settings
from zongji.sip import IncomingCall, IncomingRequest, UserAgent, server_context

log = logging.getLogger(__name__)

ALLOWED = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "SUBSCRIBE", "NOTIFY", "INFO")
SUPPORTED = ("path",)  # RFC 3327: phones registering through an edge proxy


@dataclass(frozen=True)
class PbxComponentDeps:
    """What the component is given by the composition root: the PBX's services, the settings
    (ports, TLS, media range) and the clock — not the node's whole `Services`."""

    settings: Settings
    clock: Clock
    pbx: PbxServices


class PbxComponent:
    """One node's telephony: SIP on UDP and TCP (and TLS when a certificate is configured), RTP
    on the configured port range."""

    name = "sip"

    def __init__(self, deps: PbxComponentDeps) -> None:
        self.deps = deps
        self.settings: Settings = deps.settings
        self.ua: UserAgent | None = None
        self.media: LocalMediaServer | None = None
        self.engine: CallEngine | None = None
        self._recovery: asyncio.Task[int] | None = None  # BYEs to a dead node's calls

    async def start(self) -> dict[str, Any]:
        settings, pbx = self.settings, self.deps.pbx
        ua = UserAgent(
            local_user="zongji",
            allowed_methods=ALLOWED,
            symmetric_dialogs=True,  # phones behind NAT: in-dialog requests go back on their flow
            supported=SUPPORTED,
        )
        self.ua = ua
        advertised = settings.sip_public_host or None
        udp, tcp = await ua.listen_udp_and_tcp(
            settings.host, settings.sip_port, advertised_host=advertised
        )
        ports: dict[str, Any] = {"udp": udp.local_address.port, "tcp": tcp.local_address.port}
        if settings.sip_tls_cert is not None:
            context = server_context(str(settings.sip_tls_cert), _opt(settings.sip_tls_key))
            tls = await ua.listen(
                "tls",
                settings.host,
                settings.sip_tls_port,
                advertised_host=advertised,
                server_ssl=context,
            )
            ports["tls"] = tls.local_address.port
        self.media = LocalMediaServer(
            host=settings.host, port_min=settings.rtp_port_min, port_max=settings.rtp_port_max
        )
        await self.media.start()
        ports["rtp"] = [settings.rtp_port_min, settings.rtp_port_max]
        restored = await pbx.bindings.restore(pbx.location, ua.transport.flow_to)
        if restored:
            log.info("registrations restored", extra={"count": restored})
        interrupted = await pbx.records.close_interrupted()
        if interrupted:
            log.warning("calls closed as interrupted", extra={"count": len(interrupted)})
            self._recovery = asyncio.get_running_loop().create_task(
                end_interrupted_calls(ua, interrupted)
            )
        self.engine = CallEngine(ua, self.media, pbx, settings, self.deps.clock)
        await self.engine.start()
        pbx.admission.start()  # its loop-lag timer
        ua.on_request = self.dispatch
        await pbx.trunk_runtime.start(ua)
        return ports

    async def stop(self) -> None:
        pbx = self.deps.pbx
        pbx.admission.stop()
        await pbx.trunk_runtime.stop()
        if self.engine is not None:
            await self.engine.stop()
        await pbx.records.drain()  # the records of the calls just ended, written behind them
        await pbx.voicemail.mwi.close()  # final NOTIFYs are not owed at shutdown; stop the timers
        if self._recovery is not None and not self._recovery.done():
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
        if self.ua is not None:
            await self.ua.close()
        if self.media is not None:
            await self.media.close()

    async def dispatch(self, incoming: IncomingRequest) -> None:
        """Hand an out-of-dialog request to the part that handles it."""
        pbx = self.deps.pbx
        method = incoming.method
        remote = incoming.source.remote
        if not pbx.guard.admit(remote.host, remote.port, method):
            # Blocked or flooding: a 403 sent once (never retransmitted, no transaction kept)
            # costs one datagram and tells an honest device why.
            incoming.send_statelessly(incoming.create_response(403, "Forbidden (source blocked)"))
            return
        if method == "REGISTER":
            await pbx.registrar.handle(incoming)
        elif isinstance(incoming, IncomingCall):
            assert self.engine is not None
            if not self._admit(incoming):
                return
            with pbx.admission.handling():
                await self.engine.handle_invite(incoming)
        elif method == "SUBSCRIBE":
            await self._subscribe(incoming)
        elif method == "OPTIONS":
            incoming.respond(200, headers=[("Allow", ", ".join(ALLOWED))])
        else:
            incoming.respond(405, headers=[("Allow", ", ".join(ALLOWED))])

    def _admit(self, incoming: IncomingCall) -> bool:
        """Overload control (`calls/admission.py`), before any authentication or database work:
        a refused call gets one stateless 503 with Retry-After. A phone's first INVITE (no
        credentials yet: it will only be challenged) is checked but not charged to the rate."""
        pbx = self.deps.pbx
        headers = incoming.request.headers
        remote = incoming.source.remote
        charge = (
            "proxy-authorization" in headers
            or "authorization" in headers
            or pbx.trunk_runtime.trunk_at(remote.host, remote.port) is not None
        )
        refusal = pbx.admission.refusal(charge=charge)
        if refusal is None:
            return True
        response = incoming.create_response(
            503,
            f"Service Unavailable ({refusal.value})",
            headers=[("Retry-After", str(RETRY_AFTER))],
        )
        incoming.send_statelessly(response)
        return False

    async def _subscribe(self, incoming: IncomingRequest) -> None:
        pbx = self.deps.pbx
        event = incoming.request.headers.get("Event") or ""
        if event.split(";")[0].strip().lower() != "message-summary":
            incoming.respond(489, headers=[("Allow-Events", "message-summary")])
            return
        uri = incoming.request.uri
        tenant = await pbx.view.tenant_by_domain(getattr(uri, "host", ""))
        if tenant is None:
            incoming.respond(404, reason="Unknown domain")
            return
        device = await pbx.device_auth.authenticate(incoming, tenant)
        if device is None:
            return  # challenged or refused already
        await pbx.voicemail.subscribe(incoming, device)


def _opt(path: Any) -> str | None:
    return None if path is None else str(path)
