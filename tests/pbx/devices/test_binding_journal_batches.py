"""The registrations' journal (`devices/binding_store.py`) on the platform write-behind: the
changes of several enterprises' phones made in one moment are one transaction, each row under
its own enterprise; a refresh rewrites its row and a removal deletes it."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from sqlalchemy import event, select

from zongji.pbx.contracts import Device
from zongji.pbx.devices.location import Contact, Registration
from zongji.pbx.devices.models import RegistrationBinding
from zongji.platform.db import PLATFORM
from zongji.services import Services
from zongji.sip import HostPort, TransportKind


def registration(tenant_id: uuid.UUID, username: str, cseq: int = 1) -> Registration:
    device = Device(tenant_id, uuid.uuid4(), uuid.uuid4(), username)
    # the journal reads a flow's kind and source address only
    flow: Any = SimpleNamespace(kind=TransportKind.UDP, remote=HostPort("192.0.2.7", 5060))
    contact = Contact(device, f"sip:{username}@192.0.2.7:5060", flow, 0.0, "phone/1.0")
    return Registration(
        key=contact.uri,
        sent=contact.uri,
        contact=contact,
        call_id=f"reg-{username}",
        cseq=cseq,
        nat=False,
        row_id=uuid.uuid4(),
    )


async def journal(services: Services) -> dict[uuid.UUID, tuple[uuid.UUID, int]]:
    async with services.db.session(PLATFORM) as session:
        rows = (await session.scalars(select(RegistrationBinding))).all()
    return {row.id: (row.tenant_id, row.cseq) for row in rows}


async def test_several_enterprises_phones_are_one_transaction(services: Services) -> None:
    store = services.pbx.bindings
    acme, other = uuid.uuid4(), uuid.uuid4()
    commits: list[int] = []
    engine = services.db.engine.sync_engine

    def on_commit(conn: Any) -> None:
        commits.append(1)

    one, two, three = registration(acme, "a1"), registration(acme, "a2"), registration(other, "o1")
    event.listen(engine, "commit", on_commit)
    try:
        for binding in (one, two, three):
            store.saved(binding, 300)
        await store.drain()
        assert len(commits) == 1
        assert await journal(services) == {
            one.row_id: (acme, 1),
            two.row_id: (acme, 1),
            three.row_id: (other, 1),
        }
        commits.clear()
        one.cseq = 7
        store.saved(one, 300)  # a refresh: its row rewritten in place
        store.removed(three)
        await store.drain()
        assert len(commits) == 1
    finally:
        event.remove(engine, "commit", on_commit)
    assert await journal(services) == {one.row_id: (acme, 7), two.row_id: (acme, 1)}
