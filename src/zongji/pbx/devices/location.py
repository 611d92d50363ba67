"""The location service: where each user's registered devices can be reached now.

In memory, per node (DESIGN §3: a device registers to the node that serves its calls; a shared
store can implement `Location` later without the call engine noticing). Keyed by (enterprise,
user), so two enterprises that both have extension 8001 never share a binding: nothing here is
keyed by extension or username alone.

Two views of the same table. Call control reads `Location.bindings()`: asynchronous, plain data
naming the node that holds each registration and its flow (`contracts.Binding`), what a store
shared by several nodes can return too. The live transport `Flow`s stay here, on the SIP side of
the node that received the REGISTER: whoever sends to a binding asks `flow_for()` at send time,
which answers only for this node's own registrations (DESIGN §5: another node's device is reached
through that node, or through the edge proxy its Path names). `registrations()` and `contacts()`
are the table itself, for the registrar, the journal and the node's own checks.

A user has several bindings (one per device, and a device may register several Contacts). A
binding is keyed by its Contact URI as the device sent it; a refresh with the same Call-ID and a
lower or equal CSeq is out of order and ignored (RFC 3261 §10.3 step 7). Each binding keeps

- the URI to send requests to: the Contact, or for UDP from behind a NAT (the Contact's host:port
  is not where the REGISTER came from) the Contact rewritten to the source address, which is the
  NAT's mapping (the "contact fixing" of RFC 3581-style symmetric signalling);
- the `Flow` the REGISTER came in on: for TCP/TLS the connection to reuse (the device may not
  accept new connections), for UDP the socket to send from;
- its expiry in loop time; expired bindings are never returned and are purged lazily on read and
  by `sweep()` (a job every few seconds), which also reports users whose last binding expired.

A user's presence (first binding / last binding gone) is reported to `on_presence`, which the
node wires to the directory (`DirectoryUsers.mark_registered`) and a `RegistrationChanged`
event.

A binding made through proxies keeps their Path (RFC 3327): requests to it are routed through
them, and its Contact is never fixed (see the registrar). Every change (saved, refreshed,
removed, expired) is reported to the `journal` (`BindingStore`, the database), and `restore()`
puts back what it kept when the node starts, so registrations outlive the process.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from zongji.pbx.contracts import Binding, Device
from zongji.platform.ids import uuid7
from zongji.sip import Flow, HostPort, TransportKind

PresenceListener = Callable[[uuid.UUID, uuid.UUID, bool], None]
"""(tenant_id, user_id, registered) -> None: on a user's first binding and after their last."""


def loop_time() -> float:
    """The running loop's clock (what `Contact.expires_at` is measured in)."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Contact:
    """One registered contact as this node holds it: with the live flow to reach the device on.
    Never leaves the SIP side of the node (call control sees `contracts.Binding`)."""

    device: Device
    uri: str  # the Contact URI, fixed up for NAT (received/rport) when the device is behind one
    flow: Flow  # the flow the REGISTER came in on: for TCP/TLS the connection to reuse
    expires_at: float  # loop time
    user_agent: str = ""
    #: The Path the REGISTER collected (RFC 3327), first entry = first hop: requests to the
    #: device carry it as their Route set. Empty for a device that registered directly.
    path: tuple[str, ...] = ()


@dataclass(slots=True)
class Registration:
    """One registered Contact with what the registrar needs to refresh and list it."""

    key: str  # the Contact URI as the device sent it, without parameters that do not identify it
    sent: str  # the Contact URI as sent (listed back in the 200, so the device recognises it)
    contact: Contact
    call_id: str
    cseq: int
    nat: bool  # the Contact was rewritten to the source address
    row_id: uuid.UUID  # the binding's row in the journal; kept across refreshes
    instance_id: str | None = None  # `+sip.instance` (RFC 5626), kept for the journal
    reg_id: int | None = None

    @property
    def path(self) -> tuple[str, ...]:
        return self.contact.path

    @property
    def device(self) -> Device:
        return self.contact.device


@dataclass(frozen=True, slots=True)
class NewBinding:
    """A Contact of one REGISTER, as the registrar prepared it."""

    key: str
    sent: str
    uri: str  # fixed for NAT when `nat`
    expires: int  # seconds granted; 0 removes
    nat: bool
    path: tuple[str, ...] = ()  # RFC 3327: the proxies between us and the device, first hop first
    instance_id: str | None = None
    reg_id: int | None = None


@dataclass(frozen=True, slots=True)
class StoredBinding:
    """A binding as the journal kept it: everything but the live flow, which the node builds
    again from `transport` and `source` (see `BindingStore`)."""

    row_id: uuid.UUID
    device: Device
    key: str
    sent: str
    uri: str
    path: tuple[str, ...]
    nat: bool
    call_id: str
    cseq: int
    user_agent: str
    expires_in: float  # seconds left when it was read
    transport: TransportKind
    source: HostPort
    instance_id: str | None = None
    reg_id: int | None = None


class BindingJournal(Protocol):
    """Where the location service reports every change, so bindings outlive the process.

    Both calls are synchronous and must not block: the journal queues and writes later."""

    def saved(self, binding: Registration, expires_in: float) -> None: ...

    def removed(self, binding: Registration) -> None: ...


UserKey = tuple[uuid.UUID, uuid.UUID]


class LocationService:
    """`Location` for one node: its users' registered contacts, with expiry, and their flows."""

    def __init__(
        self,
        *,
        node: str = "local",
        now: Callable[[], float] = loop_time,
        wall: Callable[[], datetime] = utc_now,
        on_presence: PresenceListener | None = None,
        journal: BindingJournal | None = None,
    ) -> None:
        """`node` names this node in the bindings it hands out (settings.node_name); `now` is the
        clock expiries run on, `wall` the time of day they are reported in."""
        self.node = node
        self._now = now
        self._wall = wall
        self._users: dict[UserKey, dict[str, Registration]] = {}
        self.on_presence = on_presence
        self.journal = journal

    def now(self) -> float:
        """The clock expiries are measured on."""
        return self._now()

    # -- Location ------------------------------------------------------------------------------

    async def bindings(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Sequence[Binding]:
        registrations = self.registrations(tenant_id, user_id)
        if not registrations:
            return []
        now, wall = self._now(), self._wall()
        return [
            self._binding(r, wall + timedelta(seconds=r.contact.expires_at - now))
            for r in registrations
        ]

    # -- the SIP side: sending to a binding ----------------------------------------------------

    def flow_for(self, binding: Binding) -> Flow | None:
        """The live flow this node reaches `binding` on, looked up when a request is about to
        go: the connection or NAT mapping the device registered over, as it is now.

        None when this node holds none: the registration is another node's (its flow is there;
        DESIGN §5), or it ended after `binding` was read."""
        if binding.node != self.node:
            return None
        found = self._users.get((binding.device.tenant_id, binding.device.user_id), {})
        for registration in found.values():
            if registration.row_id == binding.id and registration.contact.expires_at > self._now():
                return registration.contact.flow
        return None

    # -- this node's table: for the registrar, the journal and the node's own checks -----------

    def contacts(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Sequence[Contact]:
        """The user's contacts registered on this node, with their flows."""
        return [r.contact for r in self.registrations(tenant_id, user_id)]

    def registrations(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, credential_id: uuid.UUID | None = None
    ) -> list[Registration]:
        """Live bindings of the user (of one credential, when given), oldest expiry first."""
        key = (tenant_id, user_id)
        found = self._users.get(key)
        if not found:
            return []
        now = self._now()
        if any(b.contact.expires_at <= now for b in found.values()):
            self._purge(key, found, now)
        return sorted(
            (
                b
                for b in found.values()
                if credential_id is None or b.device.credential_id == credential_id
            ),
            key=lambda b: b.contact.expires_at,
        )

    def update(
        self,
        device: Device,
        changes: Iterable[NewBinding],
        *,
        flow: Flow,
        call_id: str,
        cseq: int,
        user_agent: str = "",
    ) -> None:
        """Apply one REGISTER's Contacts for `device` (expires 0 removes that Contact)."""
        key = (device.tenant_id, device.user_id)
        found = self._users.get(key)
        was_registered = bool(found)
        if found is None:
            found = {}
        now = self._now()
        for change in changes:
            moved = found.get(change.key)  # its journal row is reused
            current = moved
            if current is not None and current.device.credential_id != device.credential_id:
                current = None  # another device of the user sent the same Contact: it moves
            if current is not None and current.call_id == call_id and current.cseq >= cseq:
                continue  # out of order (RFC 3261 §10.3 step 7)
            if change.expires <= 0:
                gone = found.pop(change.key, None)
                if gone is not None:
                    self._journal_removed(gone)
                continue
            contact = Contact(
                device=device,
                uri=change.uri,
                flow=flow,
                expires_at=now + change.expires,
                user_agent=user_agent,
                path=change.path,
            )
            binding = Registration(
                change.key,
                change.sent,
                contact,
                call_id,
                cseq,
                change.nat,
                row_id=moved.row_id if moved is not None else uuid7(),
                instance_id=change.instance_id,
                reg_id=change.reg_id,
            )
            found[change.key] = binding
            if self.journal is not None:
                self.journal.saved(binding, float(change.expires))
        self._settle(key, found, was_registered)

    def restore(self, stored: StoredBinding, flow: Flow) -> None:
        """Put back a binding the journal kept across a restart (no presence change: the user
        was registered before the node stopped, and still is)."""
        now = self._now()
        if stored.expires_in <= 0:
            return
        contact = Contact(
            device=stored.device,
            uri=stored.uri,
            flow=flow,
            expires_at=now + stored.expires_in,
            user_agent=stored.user_agent,
            path=stored.path,
        )
        binding = Registration(
            stored.key,
            stored.sent,
            contact,
            stored.call_id,
            stored.cseq,
            stored.nat,
            row_id=stored.row_id,
            instance_id=stored.instance_id,
            reg_id=stored.reg_id,
        )
        found = self._users.setdefault((stored.device.tenant_id, stored.device.user_id), {})
        found[stored.key] = binding

    def remove_all(self, device: Device) -> None:
        """`Contact: *`: every binding of this device's credential goes."""
        key = (device.tenant_id, device.user_id)
        found = self._users.get(key)
        if not found:
            return
        for name in [n for n, b in found.items() if b.device.credential_id == device.credential_id]:
            self._journal_removed(found.pop(name))
        self._settle(key, found, True)

    def drop_credentials(self, tenant_id: uuid.UUID, credential_ids: Sequence[uuid.UUID]) -> None:
        """Revoked credentials: their bindings end now."""
        doomed = set(credential_ids)
        for key, found in list(self._users.items()):
            if key[0] != tenant_id:
                continue
            names = [n for n, b in found.items() if b.device.credential_id in doomed]
            if names:
                for name in names:
                    self._journal_removed(found.pop(name))
                self._settle(key, found, True)

    def drop_tenant(self, tenant_id: uuid.UUID) -> None:
        """A suspended or cancelled enterprise: none of its devices stays registered."""
        for key, found in list(self._users.items()):
            if key[0] == tenant_id and found:
                for binding in found.values():
                    self._journal_removed(binding)
                found.clear()
                self._settle(key, found, True)

    def sweep(self) -> int:
        """Purge every expired binding; returns how many went."""
        now = self._now()
        removed = 0
        for key, found in list(self._users.items()):
            before = len(found)
            if any(b.contact.expires_at <= now for b in found.values()):
                self._purge(key, found, now)
            removed += before - len(found)
        return removed

    @property
    def binding_count(self) -> int:
        return sum(len(found) for found in self._users.values())

    # -- internals -----------------------------------------------------------------------------

    def _binding(self, registration: Registration, expires_at: datetime) -> Binding:
        contact = registration.contact
        flow = contact.flow
        transport = flow.kind.value.lower()
        return Binding(
            id=registration.row_id,
            node=self.node,
            device=contact.device,
            uri=contact.uri,
            path=contact.path,
            expires_at=expires_at,
            transport=transport,
            source=str(flow.remote),
            flow=f"{transport} {flow.local} {flow.remote}",
            nat=registration.nat,
            user_agent=contact.user_agent,
            instance_id=registration.instance_id,
            reg_id=registration.reg_id,
        )

    def _purge(self, key: UserKey, found: dict[str, Registration], now: float) -> None:
        for name in [n for n, b in found.items() if b.contact.expires_at <= now]:
            self._journal_removed(found.pop(name))
        self._settle(key, found, True)

    def _journal_removed(self, binding: Registration) -> None:
        if self.journal is not None:
            self.journal.removed(binding)

    def _settle(self, key: UserKey, found: dict[str, Registration], was_registered: bool) -> None:
        if found:
            self._users[key] = found
        else:
            self._users.pop(key, None)
        if bool(found) != was_registered and self.on_presence is not None:
            self.on_presence(key[0], key[1], bool(found))
