"""SIP over TLS through the node's component: a phone registers on the TLS port with Digest,
and a call to it reaches it on the connection it registered on (a phone behind NAT can be
reached no other way)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.interop.pbx_harness import HOST, running_pbx
from zongji.sip.auth.client import Credentials
from zongji.sip.network import HostPort, TransportKind
from zongji.sip.offer_answer import LocalMedia, SdpSession
from zongji.sip.transport import client_context, server_context
from zongji.sip.transport.base import Destination
from zongji.sip.ua.core import UserAgent
from zongji.sip.ua.requests import IncomingCall, IncomingRequest

DATA = Path(__file__).resolve().parent.parent / "sip" / "data"
CERT, KEY = str(DATA / "localhost-cert.pem"), str(DATA / "localhost-key.pem")


def _offer(port: int) -> bytes:
    return SdpSession(LocalMedia(HOST, port)).offer(LocalMedia(HOST, port)).encode()


async def test_a_phone_registers_and_is_called_over_tls(database_url: str, tmp_path: Path) -> None:
    async with running_pbx(
        database_url, tmp_path, sip_tls_cert=Path(CERT), sip_tls_key=Path(KEY), sip_tls_port=0
    ) as pbx:
        assert "tls" in pbx.ports
        acme = await pbx.enterprise("acme")
        alice = await pbx.user(acme, "张三", "8001")
        bob = await pbx.user(acme, "李四", "8002")
        alice_cred = await pbx.device(acme, alice)
        bob_cred = await pbx.device(acme, bob)

        # 张三's phone speaks TLS only; it verifies the node's certificate
        tls_phone = UserAgent(local_user="alice")
        await tls_phone.listen(
            "tls", HOST, 0, server_ssl=server_context(CERT, KEY), client_ssl=client_context(CERT)
        )
        invited: asyncio.Queue[IncomingCall] = asyncio.Queue()

        async def ring(incoming: IncomingRequest) -> None:
            if isinstance(incoming, IncomingCall):
                await invited.put(incoming)

        tls_phone.on_request = ring
        udp_phone = UserAgent(local_user="bob")
        await udp_phone.listen("udp", HOST, 0)
        try:
            node_tls = Destination(TransportKind.TLS, HostPort(HOST, int(pbx.ports["tls"])))
            registration = tls_phone.registration(
                f"sip:{acme.domain}",
                f"sip:{alice_cred.username}@{acme.domain}",
                credentials=Credentials(alice_cred.username, alice_cred.password),
                expires=600,
                destination=node_tls,
            )
            response = await registration.register()
            assert response.status == 200
            (contact,) = pbx.services.pbx.location.contacts(acme.id, alice)
            assert contact.flow.kind is TransportKind.TLS
            assert contact.flow.connection is not None  # reached again on this connection

            # 李四 (UDP) calls 8001: the INVITE arrives at 张三's phone over the TLS connection
            call = await udp_phone.invite(
                f"sip:8001@{acme.domain}",
                from_=f"sip:{bob_cred.username}@{acme.domain}",
                body=_offer(40000),
                destination=Destination(TransportKind.UDP, HostPort(HOST, pbx.udp_port)),
                credentials=Credentials(bob_cred.username, bob_cred.password),
            )
            incoming = await asyncio.wait_for(invited.get(), 10)
            assert incoming.source.kind is TransportKind.TLS
            dialog = incoming.answer(_offer(40002))
            caller_dialog = await asyncio.wait_for(call.answered(), 10)
            await caller_dialog.bye()
            await asyncio.wait_for(dialog.wait_terminated(), 10)
            record = await pbx.wait_record(acme)
            assert (record.status, record.answered_by_user_id) == ("answered", alice)
        finally:
            await tls_phone.close()
            await udp_phone.close()
