"""The in-memory view of enterprises and their users that call routing reads (DESIGN §2: no
database query per packet).

Each enterprise is loaded whole, the first time a call or a registration needs it, through the
directory's service methods (plain rows; the PBX never reads the directory's tables), and dropped
when the directory announces a change to it. The next request loads it again. An enterprise of a
few thousand users is one query for the users and one for its pool numbers, so reloading on every
change is cheaper than patching the snapshot, and can never drift from the database.

A load that races a change is not kept: every tenant has a generation counter, bumped by each
invalidation, and a load stores its result only if the generation it started under is still
current (the next request loads again).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from zongji.directory.enterprises import EnterpriseService
from zongji.directory.events import (
    ENTERPRISE_EVENTS,
    DirectoryChanged,
    ExtensionPlanChanged,
    NumbersChanged,
)
from zongji.directory.users import DirectoryUsers
from zongji.pbx.contracts import Subscriber, TenantLine
from zongji.platform.events import Event, EventBus

UNKNOWN_DOMAIN_TTL = 30.0
"""How long a domain nobody has is remembered as unknown (a flood of REGISTERs for random domains
must not become a flood of queries); a new enterprise's `EnterpriseCreated` clears it at once."""

# Events after which an enterprise's snapshot is stale.
INVALIDATING: tuple[type[Event], ...] = (
    DirectoryChanged,  # users: created, changed, moved, deleted, imported
    NumbersChanged,  # pool numbers: direct lines
    ExtensionPlanChanged,
    *ENTERPRISE_EVENTS,  # created, changed (SIP domain, numbers, features), suspended, resumed …
)

UNCHANGED_BY = frozenset({"user.register"})
"""Directory changes that touch nothing routing reads: a user's first registration (which the
registrar itself causes, once per user; reloading the enterprise for each would turn a
registration storm into a reload storm)."""


@dataclass(frozen=True)
class TenantSnapshot:
    line: TenantLine
    by_id: Mapping[uuid.UUID, Subscriber]
    by_extension: Mapping[str, Subscriber]
    receptionists: tuple[Subscriber, ...]


class TelephonyDirectory:
    """`TelephonyView` over the directory's services, cached per enterprise."""

    def __init__(
        self,
        enterprises: EnterpriseService,
        users: DirectoryUsers,
        bus: EventBus,
        *,
        monotonic: Callable[[], float],
    ) -> None:
        self._enterprises = enterprises
        self._users = users
        self._monotonic = monotonic
        self._snapshots: dict[uuid.UUID, TenantSnapshot | None] = {}
        self._generation: dict[uuid.UUID, int] = {}
        self._loading: dict[uuid.UUID, asyncio.Future[TenantSnapshot | None]] = {}
        self._domains: dict[str, uuid.UUID] = {}
        self._unknown_domains: dict[str, float] = {}
        self.loads = 0  # how many enterprise loads ran (tests and metrics)
        bus.subscribe(INVALIDATING, self._on_event)

    # -- TelephonyView -------------------------------------------------------------------------

    async def tenant(self, tenant_id: uuid.UUID) -> TenantLine | None:
        snapshot = await self._snapshot(tenant_id)
        return None if snapshot is None else snapshot.line

    async def tenant_by_domain(self, domain: str) -> TenantLine | None:
        key = domain.lower().rstrip(".")
        if not key:
            return None
        tenant_id = self._domains.get(key)
        if tenant_id is None:
            until = self._unknown_domains.get(key)
            if until is not None and until > self._monotonic():
                return None
            tenant_id = await self._enterprises.id_for_sip_domain(key)
            if tenant_id is None:
                if len(self._unknown_domains) > 10_000:
                    self._unknown_domains.clear()
                self._unknown_domains[key] = self._monotonic() + UNKNOWN_DOMAIN_TTL
                return None
        line = await self.tenant(tenant_id)
        if line is None or line.sip_domain.lower() != key:
            self._domains.pop(key, None)  # the enterprise moved to another domain
            return None
        return line

    async def subscriber(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Subscriber | None:
        snapshot = await self._snapshot(tenant_id)
        return None if snapshot is None else snapshot.by_id.get(user_id)

    async def by_extension(self, tenant_id: uuid.UUID, extension: str) -> Subscriber | None:
        snapshot = await self._snapshot(tenant_id)
        return None if snapshot is None else snapshot.by_extension.get(extension)

    async def receptionists(self, tenant_id: uuid.UUID) -> Sequence[Subscriber]:
        snapshot = await self._snapshot(tenant_id)
        return () if snapshot is None else snapshot.receptionists

    # -- beyond the contract -------------------------------------------------------------------

    async def subscriber_now(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> Subscriber | None:
        """Like `subscriber`, but a miss reloads the enterprise once before saying no: for the
        API, where a user created a moment ago must be found even if the directory's event has
        not been delivered yet. (Not for the SIP paths: a flood of unknown ids must not become
        a flood of reloads.)"""
        found = await self.subscriber(tenant_id, user_id)
        if found is None and tenant_id in self._snapshots:
            self.invalidate(tenant_id)
            found = await self.subscriber(tenant_id, user_id)
        return found

    async def subscribers(self, tenant_id: uuid.UUID) -> Sequence[Subscriber]:
        snapshot = await self._snapshot(tenant_id)
        return () if snapshot is None else tuple(snapshot.by_id.values())

    def invalidate(self, tenant_id: uuid.UUID | None = None) -> None:
        """Forget one enterprise (or all): the next request loads it again."""
        ids = list(self._snapshots) if tenant_id is None else [tenant_id]
        for tid in ids:
            self._generation[tid] = self._generation.get(tid, 0) + 1
            snapshot = self._snapshots.pop(tid, None)
            if snapshot is not None:
                self._domains.pop(snapshot.line.sip_domain.lower(), None)
        if tenant_id is None:
            self._domains.clear()
            self._unknown_domains.clear()

    # -- loading -------------------------------------------------------------------------------

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, DirectoryChanged) and event.action in UNCHANGED_BY:
            return
        if event.tenant_id is not None:
            self.invalidate(event.tenant_id)
        if isinstance(event, ENTERPRISE_EVENTS):
            self._unknown_domains.clear()  # a new or renamed domain may now exist

    async def _snapshot(self, tenant_id: uuid.UUID) -> TenantSnapshot | None:
        if tenant_id in self._snapshots:
            return self._snapshots[tenant_id]
        pending = self._loading.get(tenant_id)
        if pending is not None:  # one load per enterprise, however many requests wait for it
            return await asyncio.shield(pending)
        future: asyncio.Future[TenantSnapshot | None] = asyncio.get_running_loop().create_future()
        self._loading[tenant_id] = future
        generation = self._generation.get(tenant_id, 0)
        try:
            snapshot = await self._load(tenant_id)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody else logs it
            raise
        finally:
            self._loading.pop(tenant_id, None)
        if self._generation.get(tenant_id, 0) == generation:
            self._snapshots[tenant_id] = snapshot
            if snapshot is not None:
                self._domains[snapshot.line.sip_domain.lower()] = tenant_id
        future.set_result(snapshot)
        return snapshot

    async def _load(self, tenant_id: uuid.UUID) -> TenantSnapshot | None:
        self.loads += 1
        row = await self._enterprises.telephony_row(tenant_id)
        if row is None:
            return None
        line = _line(row)
        by_id: dict[uuid.UUID, Subscriber] = {}
        by_extension: dict[str, Subscriber] = {}
        for user in await self._users.telephony_rows(tenant_id):
            subscriber = _subscriber(tenant_id, user)
            by_id[subscriber.user_id] = subscriber
            if subscriber.extension:
                by_extension[subscriber.extension] = subscriber
        receptionists = tuple(
            sorted(
                (s for s in by_id.values() if s.is_receptionist),
                key=lambda s: (s.extension or "", str(s.user_id)),
            )
        )
        return TenantSnapshot(line, by_id, by_extension, receptionists)


def _line(row: Mapping[str, Any]) -> TenantLine:
    area = str(row["area_code"])
    return TenantLine(
        tenant_id=row["id"],
        code=row["code"],
        name=row["name"],
        sip_domain=row["sip_domain"],
        status=row["status"],
        area_code=area[1:] if area.startswith("0") else area,
        city=row["city"],
        timezone=row["timezone"],
        main_number=row["main_number"],
        access_number=row["access_number"],
        features=dict(row["features"]),
        extension_length=int(row["extension_length"]),
    )


def _subscriber(tenant_id: uuid.UUID, row: Mapping[str, Any]) -> Subscriber:
    valid_from: date | None = row["valid_from"]
    valid_until: date | None = row["valid_until"]
    return Subscriber(
        tenant_id=tenant_id,
        user_id=row["id"],
        name=row["name"],
        extension=row["extension"],
        direct_line=row["direct_line"],
        mobile=row["mobile"],
        is_receptionist=bool(row["is_receptionist"]),
        outbound_restriction=row["outbound_restriction"],
        outbound_time=row["outbound_time"],
        monthly_minutes=row["monthly_minutes"],
        work_start=row["work_start"],
        work_end=row["work_end"],
        valid_from=valid_from,
        valid_until=valid_until,
        suspended=bool(row.get("suspended", False)),
    )
