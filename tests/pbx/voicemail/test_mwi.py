"""Message-waiting indication (RFC 3842): a phone subscribed to its box sees the lamp follow it.

The notifier is the node's voicemail service behind a real `UserAgent` on 127.0.0.1 (its SUBSCRIBE
handling as the node component calls it, once the device has authenticated); the phone is another
`UserAgent` subscribing with `Subscription`, exactly as our SIP stack would as a client.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from zongji.media.wav import write_wav
from zongji.pbx.contracts import Device, Party
from zongji.pbx.voicemail.mwi import MwiNotifier
from zongji.pbx.voicemail.service import VoicemailService
from zongji.platform.clock import SystemClock
from zongji.sip.message import Request
from zongji.sip.ua.core import UserAgent
from zongji.sip.ua.requests import IncomingRequest
from zongji.sip.ua.subscription import Subscription

from .conftest import Office
from .leg import sine

WAIT = 5.0


@dataclass
class Switch:
    """The PBX side: a UA whose SUBSCRIBEs go to voicemail as device `devices[username]`."""

    ua: UserAgent
    port: int
    devices: dict[str, Device]
    notifier: MwiNotifier | None = None

    def uri(self, user: str) -> str:
        return f"sip:{user}@127.0.0.1:{self.port}"


@pytest.fixture
async def switch(voicemail: VoicemailService) -> AsyncIterator[Switch]:
    ua = UserAgent(local_user="pbx")
    transport = await ua.listen("udp", "127.0.0.1", 0)
    sw = Switch(ua, transport.local_address.port, {})

    async def on_request(incoming: IncomingRequest) -> None:
        user = incoming.request.from_addr.uri.user  # type: ignore[union-attr]
        device = sw.devices[str(user)]
        notifier = sw.notifier or voicemail.mwi
        await notifier.subscribe(incoming, device)

    ua.on_request = on_request
    yield sw
    await ua.close()


@pytest.fixture
async def phones() -> AsyncIterator[list[UserAgent]]:
    opened: list[UserAgent] = []
    yield opened
    for ua in opened:
        await ua.close()


async def phone(
    phones: list[UserAgent], switch: Switch, office_tenant: uuid.UUID, user: uuid.UUID, name: str
) -> UserAgent:
    ua = UserAgent(local_user=name)
    await ua.listen("udp", "127.0.0.1", 0)
    phones.append(ua)
    switch.devices[name] = Device(office_tenant, user, uuid.uuid4(), name)
    return ua


def summary(notify: Request) -> dict[str, str]:
    assert notify.headers.get("content-type") == "application/simple-message-summary"
    lines = notify.body.decode().strip().split("\r\n")
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in lines)}


async def next_summary(sub: Subscription) -> dict[str, str]:
    return summary(await asyncio.wait_for(sub.next_notify(), WAIT))


async def leave(
    voicemail: VoicemailService, tenant: uuid.UUID, box: uuid.UUID, tmp_path: Path
) -> uuid.UUID:
    path = tmp_path / "m.wav"
    write_wav(path, sine(500, 1.2))
    out = await voicemail.mailbox.leave(
        tenant,
        box,
        caller=Party("8002"),
        call_id=f"c-{uuid.uuid4()}",
        received_at=SystemClock().now(),
        seconds=1.2,
        wav=path.read_bytes(),
    )
    return out.id


async def test_the_lamp_follows_the_box(
    office: Office,
    voicemail: VoicemailService,
    switch: Switch,
    phones: list[UserAgent],
    tmp_path: Path,
) -> None:
    ua = await phone(phones, switch, office.acme.id, office.alice, "8001")
    sub = ua.subscription(
        switch.uri("8001"),
        "message-summary",
        expires=600,
        accept="application/simple-message-summary",
    )
    response = await asyncio.wait_for(sub.subscribe(), WAIT)
    assert response.status == 200
    assert response.expires == 600
    first = await asyncio.wait_for(sub.next_notify(), WAIT)
    assert first.headers.get("event") == "message-summary"
    assert (first.headers.get("subscription-state") or "").startswith("active;expires=")
    assert summary(first) == {
        "Messages-Waiting": "no",
        "Message-Account": "sip:8001@127.0.0.1",
        "Voice-Message": "0/0 (0/0)",
    }
    assert voicemail.mwi.subscriptions(office.acme.id, office.alice) == 1

    m1 = await leave(voicemail, office.acme.id, office.alice, tmp_path)
    got = await next_summary(sub)
    assert (got["Messages-Waiting"], got["Voice-Message"]) == ("yes", "1/0 (0/0)")
    m2 = await leave(voicemail, office.acme.id, office.alice, tmp_path)
    assert (await next_summary(sub))["Voice-Message"] == "2/0 (0/0)"

    await voicemail.mailbox.mark_heard(office.acme.id, office.alice, m1)
    got = await next_summary(sub)
    assert (got["Messages-Waiting"], got["Voice-Message"]) == ("yes", "1/1 (0/0)")
    await voicemail.mailbox.mark_heard(office.acme.id, office.alice, m2)
    got = await next_summary(sub)
    assert (got["Messages-Waiting"], got["Voice-Message"]) == ("no", "0/2 (0/0)")
    await voicemail.mailbox.delete(office.acme.id, office.alice, m1)
    assert (await next_summary(sub))["Voice-Message"] == "0/1 (0/0)"

    # a refresh is answered and NOTIFYed; an unsubscribe ends it with a final NOTIFY
    refreshed = await asyncio.wait_for(sub.refresh(300), WAIT)
    assert refreshed.status == 200
    assert refreshed.expires == 300
    notify = await asyncio.wait_for(sub.next_notify(), WAIT)
    assert notify.headers.get("subscription-state") in ("active;expires=300", "active;expires=299")
    assert (await asyncio.wait_for(sub.unsubscribe(), WAIT)).status == 200
    final = await asyncio.wait_for(sub.next_notify(), WAIT)
    assert (final.headers.get("subscription-state") or "").startswith("terminated")
    assert sub.state == "terminated"
    assert voicemail.mwi.subscriptions(office.acme.id, office.alice) == 0
    await leave(voicemail, office.acme.id, office.alice, tmp_path)
    await asyncio.sleep(0.3)
    assert sub.notifications.empty()


async def test_a_phone_hears_only_its_own_box(
    office: Office,
    voicemail: VoicemailService,
    switch: Switch,
    phones: list[UserAgent],
    tmp_path: Path,
) -> None:
    subs = {}
    for name, tenant, user in (
        ("8001", office.acme.id, office.alice),
        ("8002", office.acme.id, office.bob),
        ("o8001", office.other.id, office.carol),
    ):
        ua = await phone(phones, switch, tenant, user, name)
        # 8002 asks for Alice's account: it still only ever hears about its own box
        target = "8001" if name == "8002" else name
        sub = ua.subscription(switch.uri(target), "message-summary")
        assert (await asyncio.wait_for(sub.subscribe(), WAIT)).status == 200
        assert (await next_summary(sub))["Voice-Message"] == "0/0 (0/0)"
        subs[name] = sub
    await leave(voicemail, office.acme.id, office.alice, tmp_path)
    assert (await next_summary(subs["8001"]))["Voice-Message"] == "1/0 (0/0)"
    await leave(voicemail, office.other.id, office.carol, tmp_path)
    assert (await next_summary(subs["o8001"]))["Voice-Message"] == "1/0 (0/0)"
    await asyncio.sleep(0.3)
    assert subs["8002"].notifications.empty()
    assert subs["8001"].notifications.empty()


async def test_two_devices_of_one_user_both_hear(
    office: Office,
    voicemail: VoicemailService,
    switch: Switch,
    phones: list[UserAgent],
    tmp_path: Path,
) -> None:
    subs = []
    for name in ("desk", "mobile"):
        ua = await phone(phones, switch, office.acme.id, office.alice, name)
        sub = ua.subscription(switch.uri(name), "message-summary")
        await asyncio.wait_for(sub.subscribe(), WAIT)
        await next_summary(sub)
        subs.append(sub)
    await leave(voicemail, office.acme.id, office.alice, tmp_path)
    for sub in subs:
        assert (await next_summary(sub))["Messages-Waiting"] == "yes"


async def test_an_unrefreshed_subscription_ends_with_a_final_notify(
    office: Office, voicemail: VoicemailService, switch: Switch, phones: list[UserAgent]
) -> None:
    switch.notifier = MwiNotifier(voicemail.mailbox.counts, min_expires=1)
    ua = await phone(phones, switch, office.acme.id, office.alice, "8001")
    sub = ua.subscription(switch.uri("8001"), "message-summary", expires=1)
    assert (await asyncio.wait_for(sub.subscribe(), WAIT)).status == 200
    await next_summary(sub)
    assert switch.notifier.subscriptions(office.acme.id, office.alice) == 1
    final = await asyncio.wait_for(sub.next_notify(), WAIT)
    assert final.headers.get("subscription-state") == "terminated;reason=timeout"
    assert switch.notifier.subscriptions(office.acme.id, office.alice) == 0


async def test_a_fetch_gets_one_notify(
    office: Office,
    voicemail: VoicemailService,
    switch: Switch,
    phones: list[UserAgent],
    tmp_path: Path,
) -> None:
    await leave(voicemail, office.acme.id, office.alice, tmp_path)
    ua = await phone(phones, switch, office.acme.id, office.alice, "8001")
    sub = ua.subscription(switch.uri("8001"), "message-summary", expires=0)
    assert (await asyncio.wait_for(sub.subscribe(), WAIT)).status == 200
    final = await asyncio.wait_for(sub.next_notify(), WAIT)
    assert (final.headers.get("subscription-state") or "").startswith("terminated")
    assert summary(final)["Voice-Message"] == "1/0 (0/0)"
    assert voicemail.mwi.subscriptions(office.acme.id, office.alice) == 0


async def test_bad_subscriptions_get_the_right_answer(
    office: Office, voicemail: VoicemailService, switch: Switch, phones: list[UserAgent]
) -> None:
    ua = await phone(phones, switch, office.acme.id, office.alice, "8001")
    wrong_event = ua.subscription(switch.uri("8001"), "presence")
    response = await asyncio.wait_for(wrong_event.subscribe(), WAIT)
    assert response.status == 489
    assert response.headers.get("allow-events") == "message-summary"
    too_short = ua.subscription(switch.uri("8001"), "message-summary", expires=10)
    response = await asyncio.wait_for(too_short.subscribe(), WAIT)
    assert response.status == 423
    assert response.min_expires == 60
    wrong_type = ua.subscription(
        switch.uri("8001"), "message-summary", accept="application/pidf+xml"
    )
    assert (await asyncio.wait_for(wrong_type.subscribe(), WAIT)).status == 406
    too_long = ua.subscription(switch.uri("8001"), "message-summary", expires=86400)
    response = await asyncio.wait_for(too_long.subscribe(), WAIT)
    assert response.status == 200
    assert response.expires == 3600
    assert voicemail.mwi.subscriptions(office.acme.id, office.alice) == 1
