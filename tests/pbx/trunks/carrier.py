"""A carrier's SIP edge for trunk tests, built on `zongji.sip`: a real peer on a loopback port that
answers REGISTER with Digest (the interop registrar) and OPTIONS, and that a test can make go
silent, answer 503, or come back."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.interop.sip_registrar import Registrar
from zongji.sip.transport.base import Flow
from zongji.sip.ua import IncomingRequest
from zongji.sip.ua.core import UserAgent

HOST = "127.0.0.1"


@dataclass
class Carrier:
    realm: str = "carrier.example.com"
    passwords: dict[str, str] = field(default_factory=dict)
    answering: bool = True  # False: requests get no answer at all, as from a dead carrier
    options_status: int = 200
    options_seen: int = 0
    ua: UserAgent | None = None
    port: int = 0
    sources: list[Flow] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.registrar = Registrar(self.realm, self.passwords)

    async def start(self, transport: str = "udp") -> Carrier:
        # a silent carrier must stay silent: no automatic 500 for the requests it ignores
        self.ua = UserAgent(local_user="carrier", unanswered_request_timeout=3600)
        listener = await self.ua.listen(transport, HOST, 0)
        self.port = listener.local_address.port
        self.ua.on_request = self._handle
        return self

    async def stop(self) -> None:
        if self.ua is not None:
            await self.ua.close()
            self.ua = None

    async def _handle(self, incoming: IncomingRequest) -> None:
        self.sources.append(incoming.source)
        if not self.answering:
            return
        if incoming.method == "OPTIONS":
            self.options_seen += 1
            incoming.respond(self.options_status)
        elif incoming.method == "REGISTER":
            await self.registrar.handle(incoming)
        else:
            incoming.respond(405)

    def bound(self, username: str) -> list[str]:
        """Contacts currently registered for `username` at this carrier."""
        return [b.contact for b in self.registrar.bindings.get(f"{username}@{self.realm}", [])]
