"""Registrations that outlive the process: the location service's journal in the database.

Calls are routed by the in-memory `LocationService`; this store follows it behind the scenes,
so that a node that restarts (or crashed) knows at once where its phones are instead of sending
their callers to voicemail until each phone's next re-REGISTER (up to an hour for a phone
granted 3,600 s).

Writing. Every change the location service reports (a binding saved, refreshed, removed or
expired) is queued here and the REGISTER never waits for the database. The write-behind
(`platform/write_behind.py`) writes what is queued in one transaction for every enterprise, at
once when it was idle, else at most once per `GATHER_SECONDS`; changes to the same binding in one
batch are coalesced, so a REGISTER refresh costs at most a share of one UPDATE executemany, and a
burst of re-registrations after an outage is a few transactions (SQLite has one writer;
everything else queues behind it). The statements are Core on a platform-scope connection (a
batch spans enterprises): every row's tenant is the authenticated device's, written once at
INSERT, and refreshes and removals address rows by the primary key the location service made for
them. A busy or unreachable database is retried; what the worker had not written when the
process died is lost: that is at most the last moments' refreshes, which only make a binding look
older than it is.

Reading. `restore()` runs once when the node starts, before it takes requests: it loads this
node's unexpired rows, deletes the expired ones, and puts the bindings back into the location
service with a flow built from the stored transport and address:

- UDP: the stored source address (the NAT's mapping, or the phone itself) from our UDP socket:
  exactly what a live binding would have used, so the phone rings at once (as long as its NAT
  kept the mapping, which its short NAT expiry made it refresh).
- TCP/TLS: the connection died with the process. The flow opens a new connection to the
  Contact's address when a call comes; a phone that accepts connections there rings, one that
  does not (behind NAT, most mobile clients) is reachable only after it reconnects and
  registers again, which most phones do as soon as they see the connection drop.
- Through a proxy (Path): the Path is the route, so nothing was lost with the process.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, distinct, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from zongji.pbx.contracts import Device
from zongji.pbx.devices.location import LocationService, Registration, StoredBinding
from zongji.pbx.devices.models import RegistrationBinding, SipCredential
from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Database, TenantScope
from zongji.platform.write_behind import WriteBehind
from zongji.sip import Destination, Flow, HostPort, SipUri, TransportKind, parse_uri

log = logging.getLogger(__name__)
BATCH = 500
GATHER_SECONDS = 0.25
"""The least time between two transactions' starts: at a few hundred REGISTERs a second that
makes one transaction of many rows instead of one per REGISTER (a fifth of the CPU per refresh
in bench_pbx_register --smoke), and it is all a crash can lose."""

TABLE: Table = RegistrationBinding.__table__  # type: ignore[assignment]
_INSERT = insert(TABLE)
_REFRESH = update(TABLE).where(TABLE.c.id == bindparam("row_id"))

FlowFactory = Callable[[Destination], Flow]
"""Builds a flow to a destination from the node's transports (`TransportLayer.flow_to`)."""

_Change = tuple[uuid.UUID, dict[str, Any] | None]  # (tenant, the row's values or None: delete)


class BindingStore:
    """`BindingJournal` for the location service, on the node's database."""

    def __init__(self, db: Database, clock: Clock, node: str) -> None:
        self._db = db
        self._clock = clock
        self._node = node
        self._written: set[uuid.UUID] = set()  # rows in the database (inserted or restored)
        self._changes: WriteBehind[uuid.UUID, _Change] = WriteBehind(
            db,
            self._write,
            pace=GATHER_SECONDS,
            after_commit=self._committed,
            lost=_lost,
            max_batch=BATCH,
        )

    async def registered(self, tenant_id: uuid.UUID) -> tuple[int, int]:
        """The enterprise's registered devices and users with one, on every node: credentials
        with an unexpired binding in the journal (what this node queued is written first)."""
        await self._changes.written()
        async with self._db.session(TenantScope(tenant_id)) as session:
            row = (
                await session.execute(
                    select(
                        func.count(distinct(RegistrationBinding.credential_id)),
                        func.count(distinct(RegistrationBinding.user_id)),
                    ).where(RegistrationBinding.expires_at > self._clock.now())
                )
            ).one()
        return int(row[0]), int(row[1])

    # -- BindingJournal ------------------------------------------------------------------------

    def saved(self, binding: Registration, expires_in: float) -> None:
        contact = binding.contact
        device = contact.device
        remote = contact.flow.remote
        values = {
            "node": self._node,
            "user_id": device.user_id,
            "credential_id": device.credential_id,
            "username": device.username,
            "contact_key": binding.key,
            "sent": binding.sent,
            "uri": contact.uri,
            "path": list(contact.path),
            "nat": binding.nat,
            "call_id": binding.call_id,
            "cseq": binding.cseq,
            "user_agent": contact.user_agent,
            "transport": contact.flow.kind.value.lower(),
            "source_host": remote.host,
            "source_port": remote.port,
            "instance_id": binding.instance_id,
            "reg_id": binding.reg_id,
            "expires_at": self._clock.now() + timedelta(seconds=expires_in),
        }
        self._queue(binding.row_id, (device.tenant_id, values))

    def removed(self, binding: Registration) -> None:
        self._queue(binding.row_id, (binding.device.tenant_id, None))

    # -- start and stop ------------------------------------------------------------------------

    async def restore(self, location: LocationService, flow_to: FlowFactory) -> int:
        """Put this node's unexpired bindings back into `location`; returns how many."""
        now = self._clock.now()
        session = self._db.session(PLATFORM, write=True)
        async with session, session.begin():
            await session.execute(
                delete(RegistrationBinding).where(
                    RegistrationBinding.node == self._node, RegistrationBinding.expires_at <= now
                )
            )
            # A credential revoked while the node was down is not put back.
            live = select(SipCredential.id).where(SipCredential.revoked_at.is_(None))
            rows = list(
                (
                    await session.scalars(
                        select(RegistrationBinding).where(
                            RegistrationBinding.node == self._node,
                            RegistrationBinding.credential_id.in_(live),
                        )
                    )
                ).all()
            )
        restored = 0
        for row in rows:
            stored = _stored(row, (row.expires_at - now).total_seconds())
            if stored is None:
                continue
            try:
                flow = flow_to(Destination(stored.transport, _reach_at(stored)))
            except Exception:  # no such transport on this node any more (TLS switched off)
                log.warning("binding %s not restored: no %s transport", row.id, stored.transport)
                continue
            location.restore(stored, flow)
            self._written.add(row.id)
            restored += 1
        return restored

    async def drain(self) -> None:
        """Wait until every change queued so far is written (tests, shutdown)."""
        await self._changes.drain()

    # -- internals -----------------------------------------------------------------------------

    def _queue(self, row_id: uuid.UUID, change: _Change) -> None:
        # no loop (a synchronous caller): nothing can be written
        with contextlib.suppress(RuntimeError):
            self._changes.put(row_id, change)  # the latest change of a binding wins

    async def _write(self, connection: AsyncConnection, batch: dict[uuid.UUID, _Change]) -> None:
        """New bindings inserted, known ones updated in place with one executemany (a refresh
        never reads its row back), removed ones deleted."""
        inserts: list[dict[str, Any]] = []
        refreshes: list[dict[str, Any]] = []
        deletes: list[uuid.UUID] = []
        for row_id, (tenant_id, values) in batch.items():
            if values is None:
                if row_id in self._written:
                    deletes.append(row_id)
            elif row_id in self._written:
                refreshes.append({"row_id": row_id, **values})
            else:
                inserts.append({"id": row_id, "tenant_id": tenant_id, **values})
        if deletes:
            await connection.execute(delete(TABLE).where(TABLE.c.id.in_(deletes)))
        if refreshes:
            await connection.execute(_REFRESH, refreshes)
        if inserts:
            await connection.execute(_INSERT, inserts)

    async def _committed(self, batch: dict[uuid.UUID, _Change]) -> None:
        for row_id, (_, values) in batch.items():
            if values is None:
                self._written.discard(row_id)
            else:
                self._written.add(row_id)


def _lost(batch: dict[uuid.UUID, _Change], error: Exception) -> None:
    log.error("could not write %d registration changes: %s", len(batch), error)


def _stored(row: RegistrationBinding, expires_in: float) -> StoredBinding | None:
    try:
        transport = TransportKind(row.transport.upper())
    except ValueError:
        return None
    return StoredBinding(
        row_id=row.id,
        device=Device(row.tenant_id, row.user_id, row.credential_id, row.username),
        key=row.contact_key,
        sent=row.sent,
        uri=row.uri,
        path=tuple(row.path),
        nat=row.nat,
        call_id=row.call_id,
        cseq=row.cseq,
        user_agent=row.user_agent,
        expires_in=expires_in,
        transport=transport,
        source=HostPort(row.source_host, row.source_port),
        instance_id=row.instance_id,
        reg_id=row.reg_id,
    )


def _reach_at(stored: StoredBinding) -> HostPort:
    """Where a restored binding's flow sends: the source address for UDP (what a live binding
    uses); for TCP/TLS, whose connection is gone, the Contact's own address if it is one
    (a new connection to the phone's ephemeral source port could never be accepted)."""
    if stored.transport is TransportKind.UDP or stored.path:
        return stored.source
    with contextlib.suppress(Exception):
        uri = parse_uri(stored.uri)
        if isinstance(uri, SipUri):
            return uri.host_port()
    return stored.source
