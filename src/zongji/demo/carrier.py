"""The demo's carrier: a SIP peer on its own address and port that plays the telephone company,
so that a newcomer can try outside calls with nothing but a softphone (`zongji serve --demo`).

It is what a real carrier is to the PBX, built on `zongji.sip` and `zongji.media`:

- it is the registrar of the demo trunk (a registration trunk): REGISTER is challenged with
  Digest and checked against the trunk's username and password as the operator configured them
  (read from the trunk service each time, so a changed password takes effect at once);
- it answers OPTIONS (the trunk's keep-alive);
- it answers every outbound call after a second of ringing and plays an announcement (the
  `welcome` prompt, in a loop) until the caller hangs up or `talk_seconds` have passed, then
  hangs up itself. A few numbers behave otherwise, to try the failure paths: a number ending in
  0486 is busy, 0404 does not exist, 0480 rings and is never answered;
- it places inbound calls to the PBX (`call`), as `zongji demo call` does from its own process.

It listens on `settings.demo_carrier_host` (127.0.0.2 by default: Linux answers on all of
127/8), not on 127.0.0.1, because the PBX recognises trunk calls by their source address: a
carrier on 127.0.0.1 would make every softphone on the same machine look like the carrier.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zongji.demo.caller import (
    CallReport,
    Say,
    answer_in_dialog,
    drain_events,
    endpoint_spec,
    place_call,
)
from zongji.media import EndpointSpec, LocalMediaServer, MediaError, Prompt
from zongji.sip import (
    AuthOutcome,
    DigestAlgorithm,
    DigestAuthenticator,
    IncomingCall,
    IncomingRequest,
    LocalMedia,
    SdpSession,
    SipError,
    SipParseError,
    UserAgent,
    parse_register,
    parse_sdp,
)

if TYPE_CHECKING:
    from zongji.node import Component
    from zongji.services import Services

log = logging.getLogger(__name__)

REALM = "carrier.demo"
ALLOWED = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO")
MAX_EXPIRES = 3600

SecretLookup = Callable[[str], Awaitable[str | None]]
"""username -> the trunk's password, or None for a username the carrier does not know."""


@dataclass
class CarrierCall:
    """One call the carrier received from the PBX (an outbound call), for the demo's log and
    tests: what number was dialled and which caller ID the PBX presented."""

    number: str
    caller: str  # the From user part
    asserted: str | None  # P-Asserted-Identity, as sent
    status: int = 0  # the final status the carrier answered with
    ended_by: str | None = None  # "pbx" or "carrier"


def _user_of(uri: Any) -> str:
    return str(getattr(uri, "user", "") or "")


class DemoCarrier:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        secret: SecretLookup,
        rtp_port_min: int = 30000,
        rtp_port_max: int = 30999,
        talk_seconds: float = 30.0,
        ring_seconds: float = 1.0,
        prompt: str = "welcome",
    ) -> None:
        self.host = host
        self._wanted_port = port
        self.port = 0
        self._secret = secret
        self._rtp = (rtp_port_min, rtp_port_max)
        self.talk_seconds = talk_seconds
        self.ring_seconds = ring_seconds
        self.prompt = prompt
        self.ua: UserAgent | None = None
        self.media: LocalMediaServer | None = None
        self.calls: deque[CarrierCall] = deque(maxlen=100)  # the latest, for a look at them
        self.registrations: dict[str, str] = {}  # username -> the contact it registered
        self._auth = DigestAuthenticator(
            REALM, self._lookup, algorithms=(DigestAlgorithm.MD5, DigestAlgorithm.SHA256)
        )
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        ua = UserAgent(
            local_user="carrier", user_agent="Zongji demo carrier", allowed_methods=ALLOWED
        )
        transport = await ua.listen("udp", self.host, self._wanted_port)
        self.port = transport.local_address.port
        self.ua = ua
        self.media = LocalMediaServer(host=self.host, port_min=self._rtp[0], port_max=self._rtp[1])
        await self.media.start()
        self._spawn(drain_events(self.media))
        ua.on_request = self._on_request
        log.info("demo carrier listening", extra={"address": self.address})

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.ua is not None:
            await self.ua.close()
        if self.media is not None:
            await self.media.close()

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def call(
        self,
        pbx: str,
        number: str,
        *,
        caller: str = "+8613912345678",
        digits: str = "",
        wait: float = 3.0,
        hold: float = 30.0,
        say: Say = lambda text: None,
    ) -> CallReport:
        """An inbound call to the PBX at `pbx` ("host:port"), as from a mobile phone."""
        if self.ua is None or self.media is None:
            raise RuntimeError("start the carrier first")
        return await place_call(
            self.ua,
            self.media,
            local_host=self.host,
            pbx=pbx,
            number=number,
            caller=caller,
            digits=digits,
            wait=wait,
            hold=hold,
            say=say,
        )

    # --- requests ---------------------------------------------------------------------------

    async def _on_request(self, incoming: IncomingRequest) -> None:
        method = incoming.method
        if method == "OPTIONS":
            incoming.respond(200, headers=[("Allow", ", ".join(ALLOWED))])
        elif method == "REGISTER":
            await self._register(incoming)
        elif isinstance(incoming, IncomingCall):
            await self._answer(incoming)
        else:
            incoming.respond(405)

    async def _lookup(self, username: str, realm: str) -> str | None:
        return await self._secret(username)

    async def _register(self, incoming: IncomingRequest) -> None:
        request = incoming.request
        result = await self._auth.verify(request)
        if not result.ok:
            stale = result.outcome is AuthOutcome.STALE
            incoming.send(self._auth.challenge(request, stale=stale, to_tag=incoming.to_tag))
            return
        try:
            register = parse_register(request)
        except SipParseError as error:
            incoming.respond(400, str(error)[:80])
            return
        username = result.username or ""
        if register.remove_all:
            self.registrations.pop(username, None)
            incoming.respond(200)
            return
        contacts = []
        for binding in register.bindings:
            expires = min(binding.expires, MAX_EXPIRES)
            if expires == 0:
                self.registrations.pop(username, None)
                continue
            contacts.append(("Contact", str(binding.contact.with_params(expires=str(expires)))))
            self.registrations[username] = str(binding.contact.uri)
        incoming.respond(200, headers=contacts)

    async def _answer(self, incoming: IncomingCall) -> None:
        """An outbound call from the PBX: ring, answer, announce, hang up after a while."""
        request = incoming.request
        number = _user_of(request.uri)
        asserted = request.headers.get("P-Asserted-Identity")
        record = CarrierCall(number, _user_of(request.from_addr.uri), asserted)
        self.calls.append(record)
        log.info(
            "demo carrier: call to %s from %s (%s)", number, record.caller, asserted or "no PAI"
        )
        digits = "".join(c for c in number if c.isdigit())
        if digits.endswith("0404"):
            record.status = 404
            incoming.reject(404, "Not Found")
            return
        incoming.ring(180)
        if digits.endswith("0480"):
            await incoming.cancelled.wait()  # rings until the PBX gives up
            record.status = 487
            return
        ring = asyncio.ensure_future(incoming.cancelled.wait())
        await asyncio.wait({ring}, timeout=self.ring_seconds)
        ring.cancel()
        if incoming.cancelled.is_set():
            record.status = 487
            return
        if digits.endswith("0486"):
            record.status = 486
            incoming.reject(486, "Busy Here")
            return
        await self._talk(incoming, record)

    async def _talk(self, incoming: IncomingCall, record: CarrierCall) -> None:
        assert self.media is not None
        media = self.media
        try:
            info = await media.create_endpoint(EndpointSpec())
        except MediaError:
            record.status = 503
            incoming.reject(503)
            return
        try:
            session = SdpSession(LocalMedia(self.host, info.local[1]), username="carrier")
            try:
                answer, negotiated = session.answer(parse_sdp(incoming.offer))
            except (SipError, ValueError):
                negotiated = None
            if negotiated is None:
                record.status = 488
                incoming.reject(488)
                return
            await media.update_endpoint(info.id, endpoint_spec(negotiated))
            dialog = incoming.answer(answer.encode())
            record.status = 200

            async def in_dialog(request: IncomingRequest) -> None:
                await answer_in_dialog(request, session, media, info.id)

            dialog.on_request = in_dialog
            await media.play(info.id, [Prompt(self.prompt)], loop=True)
            ended = asyncio.ensure_future(dialog.wait_terminated())
            await asyncio.wait({ended}, timeout=self.talk_seconds)
            if ended.done():
                record.ended_by = "pbx"
            else:
                ended.cancel()
                record.ended_by = "carrier"
                with contextlib.suppress(SipError, TimeoutError):
                    await asyncio.wait_for(dialog.bye(), 10)
        finally:
            with contextlib.suppress(MediaError):
                await media.destroy_endpoint(info.id)


async def start_demo_carrier(services: Services) -> DemoCarrier:
    """Start the carrier for a demo node (`DemoCarrierBeside` does, beside the PBX).

    The carrier knows the demo trunk's password by asking the trunk service, as a carrier's
    provisioning would: whatever registration trunk points at this carrier may register."""
    settings = services.settings
    host = settings.demo_carrier_host

    async def secret(username: str) -> str | None:
        for config in await services.pbx.trunks.configs():
            if config.username == username and config.host == host and config.password:
                return str(config.password)
        return None

    carrier = DemoCarrier(
        host=host,
        port=settings.demo_carrier_port,
        secret=secret,
        rtp_port_min=settings.rtp_port_min,
        rtp_port_max=settings.rtp_port_max,
    )
    await carrier.start()
    return carrier


class DemoCarrierBeside:
    """The PBX component of a demo node with the carrier simulator started right after it and
    stopped right before it; its port is reported among the PBX's (`ports["demo_carrier"]`), where
    the demo's setup finds it.

    It lives here, not in the PBX component, because the demo is composition: call control
    must not know the demo exists."""

    def __init__(self, pbx: Component, services: Services) -> None:
        self.pbx = pbx
        self.name = pbx.name
        self.services = services
        self.carrier: DemoCarrier | None = None

    async def start(self) -> dict[str, Any]:
        ports = await self.pbx.start()
        self.carrier = await start_demo_carrier(self.services)
        ports["demo_carrier"] = self.carrier.port
        return ports

    async def stop(self) -> None:
        if self.carrier is not None:
            await self.carrier.stop()
        await self.pbx.stop()
