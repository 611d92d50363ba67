"""A running call engine on real sockets, and phones built on `zongji.sip` that register to it.

`CallRig` is what the node's SIP component does, reduced to calls: the node's services (real
database, registrar, device credentials, view, policy, records, voicemail), a `UserAgent` on a
free UDP port whose REGISTERs go to the registrar and INVITEs to the `CallEngine`, and a
`LocalMediaServer` anchoring the media. `Phone` is a softphone: it registers with its device
credential, places calls with a real RTP socket in its SDP, and answers, rings or refuses calls
as a test tells it to.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import clear_tables, make_settings
from zongji.directory.schemas import EnterpriseCreate
from zongji.directory.user_schemas import UserCreate
from zongji.media.server import LocalMediaServer
from zongji.pbx.calls.engine import CallEngine
from zongji.pbx.devices.presence import PresencePublisher
from zongji.pbx.records.search import CallFilters, CallRecordOut
from zongji.pbx.trunks.models import TrunkMode
from zongji.pbx.trunks.schemas import TrunkCreate
from zongji.platform.actor import SYSTEM
from zongji.platform.clock import SystemClock
from zongji.services import Services, build_services
from zongji.sip.auth.client import Credentials
from zongji.sip.dialog import Dialog
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.offer_answer import LocalMedia, SdpSession
from zongji.sip.sdp import Direction, parse_sdp
from zongji.sip.timers import TimerSettings
from zongji.sip.transport.base import Destination
from zongji.sip.ua.core import UserAgent
from zongji.sip.ua.outgoing import OutgoingCall
from zongji.sip.ua.requests import IncomingCall, IncomingRequest

HOST = "127.0.0.1"
_mobiles = itertools.count(13900000001)


@dataclass(frozen=True)
class Tenant:
    id: uuid.UUID
    code: str
    domain: str


@dataclass(frozen=True)
class Credential:
    username: str
    password: str
    domain: str


class CallRig:
    def __init__(self, services: Services, timers: TimerSettings | None = None) -> None:
        self.services = services
        #: SIP timers of the engine and the phones (short ones let transactions end quickly)
        self.timers = timers
        self.ua: UserAgent | None = None
        self.media: LocalMediaServer | None = None
        self.engine: CallEngine | None = None
        self.port = 0
        self.phones: list[Phone] = []

    async def start(self) -> None:
        pbx = self.services.pbx
        self.ua = UserAgent(local_user="zongji", symmetric_dialogs=True, settings=self.timers)
        udp = await self.ua.listen("udp", HOST, 0)
        self.port = udp.local_address.port
        await self.ua.listen("tcp", HOST, self.port)
        self.media = LocalMediaServer(host=HOST, port_min=30000, port_max=39999)
        await self.media.start()
        self.engine = CallEngine(
            self.ua, self.media, pbx, self.services.settings, self.services.clock
        )
        await self.engine.start()
        self.ua.on_request = self.dispatch
        await self.services.pbx.trunk_runtime.start(self.ua)

    async def stop(self) -> None:
        await self.services.pbx.trunk_runtime.stop()
        for phone in self.phones:
            await phone.stop()
        if self.engine is not None:
            await self.engine.stop()
        if self.ua is not None:
            await self.ua.close()
        if self.media is not None:
            await self.media.close()

    async def dispatch(self, incoming: IncomingRequest) -> None:
        assert self.engine is not None
        if incoming.method == "REGISTER":
            await self.services.pbx.registrar.handle(incoming)
        elif isinstance(incoming, IncomingCall):
            await self.engine.handle_invite(incoming)
        else:
            incoming.respond(200 if incoming.method == "OPTIONS" else 405)

    # --- provisioning, as an admin would --------------------------------------------------

    async def enterprise(self, code: str, **fields: Any) -> Tenant:
        data = EnterpriseCreate(
            **{"code": code, "name": f"{code} 公司", "area_code": "025", "city": "南京", **fields}
        )
        ent = await self.services.directory.enterprises.create(SYSTEM, data)
        return Tenant(ent.id, ent.code, ent.sip_domain)

    async def user(
        self, tenant: Tenant, name: str, extension: str, *, voicemail: bool = False, **fields: Any
    ) -> uuid.UUID:
        """A user with an extension; their voicemail box is off unless asked for, so an
        unanswered call ends as busy / no answer."""
        fields.setdefault("mobile", str(next(_mobiles)))
        created = await self.services.directory.users.create(
            SYSTEM, tenant.id, UserCreate(name=name, extension=extension, **fields)
        )
        await self.services.pbx.voicemail.mailbox.set_enabled(tenant.id, created.id, voicemail)
        return created.id

    async def device(self, tenant: Tenant, user_id: uuid.UUID) -> Credential:
        issued = await self.services.pbx.credentials.issue(SYSTEM, tenant.id, user_id)
        return Credential(issued.username, issued.password, tenant.domain)

    async def phone(self, tenant: Tenant, user_id: uuid.UUID, *, register: bool = True) -> Phone:
        phone = Phone(self, await self.device(tenant, user_id))
        await phone.start()
        self.phones.append(phone)
        if register:
            await phone.register()
        return phone

    async def carrier(self, mode: str = "answer") -> Phone:
        """A carrier's SIP edge: a peer with RTP that answers (or refuses) what the PBX sends it
        and can call the PBX from outside."""
        carrier = Phone(self, Credential("carrier", "", "carrier.example.com"))
        carrier.mode = mode
        await carrier.start()
        self.phones.append(carrier)
        return carrier

    async def trunk(self, name: str, port: int, *, priority: int = 100) -> uuid.UUID:
        """An IP-authenticated trunk to a carrier on `port`, as the operator configures it."""
        data = TrunkCreate(
            name=name,
            host=HOST,
            port=port,
            mode=TrunkMode.IP,
            options_interval=0,
            priority=priority,
        )
        trunk = await self.services.pbx.trunks.create(SYSTEM, data)
        await self.services.pbx.trunk_runtime.reload()
        return trunk.id

    async def numbers(self, tenant: Tenant, *numbers: str) -> None:
        await self.services.directory.numbers.add(SYSTEM, tenant.id, list(numbers))

    # --- what the calls left ------------------------------------------------------------

    async def records(self, tenant: Tenant) -> list[CallRecordOut]:
        page = await self.services.pbx.records.search.page(tenant.id, CallFilters(), limit=200)
        return list(page.items)

    async def wait_record(
        self,
        tenant: Tenant,
        match: Callable[[CallRecordOut], bool] = lambda r: True,
        *,
        within: float = 10.0,
    ) -> CallRecordOut:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            for record in await self.records(tenant):
                if record.ended_at is not None and match(record):
                    return record
            if loop.time() > deadline:
                raise AssertionError(f"no such call record: {await self.records(tenant)!r}")
            await asyncio.sleep(0.05)

    async def idle(self, within: float = 5.0) -> None:
        """Until the engine has no live call and no media endpoint left."""
        assert self.engine is not None
        assert self.media is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self.engine.calls or (await self.media.server_stats()).endpoints:
            if loop.time() > deadline:
                stats = await self.media.server_stats()
                raise AssertionError(f"still busy: {list(self.engine.calls)}, {stats}")
            await asyncio.sleep(0.05)


class _Rtp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.arrived = asyncio.Event()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append(data)
        self.arrived.set()


@dataclass
class Ringing:
    """A call arriving at a phone, for the test to answer or refuse."""

    incoming: IncomingCall
    phone: Phone
    dialog: Dialog | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    def answer(self) -> Dialog:
        offer = parse_sdp(self.incoming.offer)
        answer, negotiated = self.phone.session.answer(offer)
        assert negotiated is not None
        self.phone.remote_rtp = (negotiated.remote_address or HOST, negotiated.remote_port)
        self.dialog = self.incoming.answer(answer.encode())
        self.phone.dialog = self.dialog
        self.dialog.on_request = self.phone.in_dialog
        return self.dialog


class Phone:
    """A softphone on our own SIP stack, with a real RTP socket."""

    def __init__(self, rig: CallRig, credential: Credential) -> None:
        self.rig = rig
        self.credential = credential
        # the rig's timers; a phone of another harness (no rig) keeps the defaults
        timers = rig.timers if rig is not None else None
        self.ua = UserAgent(local_user=credential.username, settings=timers)
        #: what to do with an incoming call: "ring" (180 and wait for the test), "answer",
        #: "busy" (486), "decline" (603)
        self.mode = "ring"
        self.calls: asyncio.Queue[Ringing] = asyncio.Queue()
        self.dialog: Dialog | None = None
        self.remote_rtp: tuple[str, int] | None = None
        self.reinvites: list[str] = []  # directions of re-INVITEs received
        self._rtp: _Rtp = _Rtp()
        self._rtp_transport: asyncio.DatagramTransport | None = None
        self.session: SdpSession
        self.sip_port = 0
        self._dtmf_seq = 100
        self._dtmf_ts = 8000

    @property
    def pbx(self) -> Destination:
        return Destination(TransportKind.UDP, HostPort(HOST, self.rig.port))

    @property
    def username(self) -> str:
        return self.credential.username

    async def start(self) -> None:
        listener = await self.ua.listen("udp", HOST, 0)
        self.sip_port = listener.local_address.port
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self._rtp, local_addr=(HOST, 0))
        self._rtp_transport = transport
        port = transport.get_extra_info("sockname")[1]
        self.session = SdpSession(LocalMedia(HOST, port))
        self.ua.on_request = self._on_request

    async def stop(self) -> None:
        if self._rtp_transport is not None:
            self._rtp_transport.close()
        await self.ua.close()

    async def register(self) -> None:
        c = self.credential
        registration = self.ua.registration(
            f"sip:{c.domain}",
            f"sip:{c.username}@{c.domain}",
            credentials=Credentials(c.username, c.password),
            expires=600,
            destination=self.pbx,
        )
        response = await registration.register()
        assert response.status == 200, response

    def offer(self, direction: Direction = Direction.SENDRECV) -> bytes:
        local = LocalMedia(self.session.local.address, self.session.local.port, direction=direction)
        return self.session.offer(local).encode()

    async def call(
        self,
        number: str,
        *,
        body: bytes | None = None,
        authenticate: bool = True,
        from_: str | None = None,
        domain: str | None = None,
    ) -> OutgoingCall:
        c = self.credential
        return await self.ua.invite(
            f"sip:{number}@{domain or c.domain}",
            from_=from_ or f"sip:{c.username}@{c.domain}",
            body=self.offer() if body is None else body,
            destination=self.pbx,
            credentials=Credentials(c.username, c.password) if authenticate else None,
        )

    async def answered(self, call: OutgoingCall) -> Dialog:
        dialog = await call.answered()
        assert call.final_response is not None
        negotiated = self.session.accept_answer(parse_sdp(call.final_response.body))
        assert negotiated is not None
        self.remote_rtp = (negotiated.remote_address or HOST, negotiated.remote_port)
        self.dialog = dialog
        dialog.on_request = self.in_dialog
        return dialog

    def send_rtp(self, count: int = 5, payload_type: int = 0, ssrc: int = 0x1234) -> None:
        """A few G.711 packets to wherever the PBX told us to send."""
        assert self._rtp_transport is not None
        assert self.remote_rtp is not None
        for n in range(count):
            header = bytes([0x80, payload_type]) + n.to_bytes(2, "big")
            header += (n * 160).to_bytes(4, "big") + ssrc.to_bytes(4, "big")
            self._rtp_transport.sendto(header + bytes([0xFF]) * 160, self.remote_rtp)

    def send_dtmf(self, digit: int, ssrc: int = 0x4321) -> None:
        """One RFC 4733 key press (start, continuation, three end packets), each press with its
        own timestamp and following sequence numbers."""
        transport, remote = self._rtp_transport, self.remote_rtp
        assert transport is not None
        assert remote is not None
        self._dtmf_ts += 1600
        for n, (end, duration) in enumerate(
            [(False, 160), (False, 320), (True, 480), (True, 480), (True, 480)]
        ):
            self._dtmf_seq += 1
            marker = 0x80 if n == 0 else 0
            header = bytes([0x80, marker | 101]) + (self._dtmf_seq & 0xFFFF).to_bytes(2, "big")
            header += self._dtmf_ts.to_bytes(4, "big") + ssrc.to_bytes(4, "big")
            event = bytes([digit, (0x80 if end else 0) | 10]) + duration.to_bytes(2, "big")
            transport.sendto(header + event, remote)

    async def key(self, digits: str) -> None:
        for digit in digits:
            self.send_dtmf("0123456789*#".index(digit))  # RFC 4733 event codes: * is 10, # 11
            await asyncio.sleep(0.15)

    @property
    def rtp_received(self) -> list[bytes]:
        return self._rtp.received

    async def wait_rtp(self, count: int = 1, within: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(self._rtp.received) < count:
            if loop.time() > deadline:
                raise AssertionError(f"{len(self._rtp.received)} RTP packets, wanted {count}")
            await asyncio.sleep(0.02)

    async def _on_request(self, incoming: IncomingRequest) -> None:
        if not isinstance(incoming, IncomingCall):
            incoming.respond(200)
            return
        ringing = Ringing(incoming, self)
        if self.mode == "busy":
            incoming.reject(486)
        elif self.mode == "decline":
            incoming.reject(603)
        else:
            incoming.ring(180)
            if self.mode == "answer":
                ringing.answer()
            else:
                asyncio.get_running_loop().create_task(_watch_cancel(ringing))
        await self.calls.put(ringing)

    async def next_call(self, within: float = 5.0) -> Ringing:
        return await asyncio.wait_for(self.calls.get(), within)

    async def in_dialog(self, incoming: IncomingRequest) -> None:
        if isinstance(incoming, IncomingCall):
            offer = parse_sdp(incoming.offer)
            direction = offer.direction_for(offer.media[0]).value
            self.reinvites.append(direction)
            answer, _ = self.session.answer(offer)
            incoming.answer(answer.encode())
        else:
            incoming.respond(200)


async def _watch_cancel(ringing: Ringing) -> None:
    await ringing.incoming.cancelled.wait()
    ringing.cancelled.set()


async def no_listener_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def running_rig(
    database_url: str,
    tmp_path: Path,
    *,
    ring_timeout: float = 3.0,
    timers: TimerSettings | None = None,
) -> AsyncIterator[CallRig]:
    """A started `CallRig` over fresh services (its phones and engine on `timers`), stopped and
    closed on exit."""
    settings = make_settings(
        database_url, tmp_path, ring_timeout=ring_timeout, media_timeout=0, trunk_setup_timeout=1.0
    )
    services = build_services(settings, clock=SystemClock())
    await clear_tables(services)
    running = CallRig(services, timers)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
        # registrations publish presence in the background: let that finish before closing
        presence = services.pbx.location.on_presence
        if isinstance(presence, PresencePublisher):
            await presence.drain()
        await services.close()
