"""A registrar on a real socket, and phones (our own `zongji.sip` user agent) that register to it.

The SIP front door here is the one the node's component has for REGISTER: the guard first, then
the registrar; everything else is refused. The services are the suite's (`services` fixture: real
database, fake clock for the guard and the directory, the event loop's clock for expiries).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest

from zongji.directory.schemas import EnterpriseCreate
from zongji.directory.user_schemas import UserCreate
from zongji.pbx.calls.component import SUPPORTED
from zongji.pbx.devices.credentials import IssuedCredential
from zongji.platform.actor import SYSTEM
from zongji.services import Services
from zongji.sip.address import NameAddress
from zongji.sip.auth.client import Credentials, DigestClient
from zongji.sip.auth.digest import DigestAlgorithm
from zongji.sip.fields import AuthChallenge
from zongji.sip.message import Request, Response
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.transport.base import Destination
from zongji.sip.ua.core import UserAgent
from zongji.sip.ua.requests import IncomingRequest
from zongji.sip.uri import parse_uri

HOST = "127.0.0.1"
_mobiles = itertools.count(13900000001)


@dataclass
class Ent:
    id: uuid.UUID
    code: str
    domain: str


@dataclass
class SipServer:
    services: Services
    ua: UserAgent
    udp_port: int
    tcp_port: int

    def destination(self, kind: TransportKind = TransportKind.UDP) -> Destination:
        port = self.udp_port if kind is TransportKind.UDP else self.tcp_port
        return Destination(kind, HostPort(HOST, port))

    async def enterprise(self, code: str) -> Ent:
        ent = await self.services.directory.enterprises.create(
            SYSTEM,
            EnterpriseCreate(code=code, name=f"{code} 公司", area_code="025", city="南京"),
        )
        return Ent(ent.id, ent.code, ent.sip_domain)

    async def user(self, ent: Ent, name: str, extension: str) -> uuid.UUID:
        created = await self.services.directory.users.create(
            SYSTEM,
            ent.id,
            UserCreate(name=name, mobile=str(next(_mobiles)), extension=extension),
        )
        return created.id

    async def device(
        self, ent: Ent, user_id: uuid.UUID, kind: str = "softphone"
    ) -> IssuedCredential:
        return await self.services.pbx.credentials.issue(
            SYSTEM, ent.id, user_id, kind=kind, label=f"test {kind}"
        )


async def front_door(services: Services, incoming: IncomingRequest) -> None:
    """What the node's SIP component does with an out-of-dialog request, for REGISTER."""
    pbx = services.pbx
    remote = incoming.source.remote
    if not pbx.guard.admit(remote.host, remote.port, incoming.method):
        incoming.send_statelessly(incoming.create_response(403, "Forbidden (source blocked)"))
        return
    if incoming.method == "REGISTER":
        await pbx.registrar.handle(incoming)
    elif incoming.method == "SUBSCRIBE":  # stands for any request a device must authenticate
        uri = incoming.request.uri
        tenant = await pbx.view.tenant_by_domain(getattr(uri, "host", ""))
        if tenant is None:
            incoming.respond(404)
            return
        device = await pbx.device_auth.authenticate(incoming, tenant)
        if device is not None:
            incoming.respond(200, headers=[("X-Device", device.username), ("Expires", "0")])
    else:
        incoming.respond(405, headers=[("Allow", "REGISTER")])


@pytest.fixture
async def sip(services: Services) -> AsyncIterator[SipServer]:
    ua = UserAgent(local_user="pbx", supported=SUPPORTED)
    udp = await ua.listen("udp", HOST, 0)
    tcp = await ua.listen("tcp", HOST, 0)

    async def on_request(incoming: IncomingRequest) -> None:
        await front_door(services, incoming)

    ua.on_request = on_request
    try:
        yield SipServer(services, ua, udp.local_address.port, tcp.local_address.port)
    finally:
        await ua.close()


class Phone:
    """A softphone: our own user agent registering with a device credential."""

    def __init__(self, ua: UserAgent, server: SipServer, kind: TransportKind) -> None:
        self.ua = ua
        self.server = server
        self.kind = kind

    def register_request(
        self,
        domain: str,
        aor_user: str,
        *,
        expires: int | None = 300,
        contacts: list[str] | None = None,
        star: bool = False,
        call_id: str | None = None,
        cseq: int = 1,
        query: bool = False,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Request:
        """A REGISTER (`query`: without Contact, asking for the current bindings)."""
        aor = NameAddress(parse_uri(f"sip:{aor_user}@{domain}"))
        extra: list[tuple[str, object]] = list(headers)
        if expires is not None:
            extra.append(("Expires", str(expires)))
        contact: str | bool = True
        if star:
            contact = "*"
        request = self.ua.create_request(
            "REGISTER",
            f"sip:{domain}",
            from_=aor,
            to=aor,
            call_id=call_id,
            cseq=cseq,
            contact=False if query or contacts else contact,
            headers=extra,
        )
        for value in contacts or []:
            request.headers.add("Contact", value)
        return request

    async def send(
        self, request: Request, credentials: Credentials | DigestClient | None = None
    ) -> Response:
        return await self.ua.request(
            request, destination=self.server.destination(self.kind), credentials=credentials
        )

    async def register(
        self,
        cred: IssuedCredential,
        *,
        expires: int | None = 300,
        password: str | None = None,
        aor_user: str | None = None,
        domain: str | None = None,
        contacts: list[str] | None = None,
        sha256: bool = False,
        call_id: str | None = None,
        cseq: int = 1,
        star: bool = False,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Response:
        request = self.register_request(
            domain or cred.domain,
            aor_user or cred.username,
            expires=expires,
            contacts=contacts,
            star=star,
            call_id=call_id,
            cseq=cseq,
            headers=headers,
        )
        creds = Credentials(cred.username, password if password is not None else cred.password)
        client = Sha256Only(creds) if sha256 else DigestClient(creds)
        return await self.send(request, client)


class Sha256Only(DigestClient):
    """A client that only answers SHA-256 challenges (RFC 8760): proves the registrar takes
    SHA-256 even though it offers MD5 first."""

    def answer(self, challenge: AuthChallenge, request: Request):  # type: ignore[no-untyped-def]
        if (
            DigestAlgorithm.from_text(challenge.params.get("algorithm"))
            is not DigestAlgorithm.SHA256
        ):
            return None
        return super().answer(challenge, request)


@pytest.fixture
async def phones(sip: SipServer) -> AsyncIterator[list[Phone]]:
    """Call `make_phone(kind)` through `phone_factory`; all are closed at the end."""
    made: list[Phone] = []
    yield made
    for phone in made:
        await phone.ua.close()


async def new_phone(
    sip: SipServer, made: list[Phone], kind: TransportKind = TransportKind.UDP
) -> Phone:
    ua = UserAgent(local_user="phone")
    await ua.listen(kind.value.lower(), HOST, 0)
    phone = Phone(ua, sip, kind)
    made.append(phone)
    return phone
