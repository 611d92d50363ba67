"""Recording, listing and verifying the operation log.

Entries are written inside the transaction of the change they describe, not after it: then a change
can neither commit without its entry (a crash between the two) nor leave an entry for a change that
rolled back. Appending locks the chain's head row, so concurrent writers of one enterprise link up
one after another; other enterprises' chains are not held up.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from zongji.audit.chain import GENESIS, entry_hash
from zongji.audit.models import PLATFORM_CHAIN, AuditChainHead, AuditEntry, AuditLevel
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Database, Scope, TenantScope
from zongji.platform.uow import UnitOfWork

SECRET_WORDS = ("password", "secret", "token", "code_hash", "sms_code", "credential")


@dataclass(frozen=True)
class Target:
    type: str
    id: str | None
    label: str


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    level: AuditLevel | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    tenant_id: uuid.UUID | None = None  # platform scope only: which chain to read


@dataclass(frozen=True)
class BrokenLink:
    tenant_id: uuid.UUID
    seq: int
    entry_id: uuid.UUID | None
    reason: str


@dataclass
class VerifyReport:
    chains: int = 0
    entries: int = 0
    broken: list[BrokenLink] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken


def redact(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Drop anything secret-looking from a change summary, whatever the caller passed."""
    clean: dict[str, Any] = {}
    for key, value in summary.items():
        if any(word in key.lower() for word in SECRET_WORDS):
            clean[key] = "***"
        elif isinstance(value, Mapping):
            clean[key] = redact(value)
        else:
            clean[key] = value
    return clean


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """`{field: [old, new]}` for the fields whose value differs."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


class AuditLog:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def record(
        self,
        uow: UnitOfWork,
        actor: Actor,
        action: str,
        target: Target,
        *,
        tenant_id: uuid.UUID | None = None,
        level: AuditLevel = AuditLevel.INFO,
        summary: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        chain = tenant_id or _chain_of(uow.scope)
        session = uow.session
        head = await _lock_head(session, chain)
        entry = AuditEntry(
            tenant_id=chain,
            seq=head.seq + 1,
            at=self._clock.now(),
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            actor_name=actor.name,
            address=actor.address,
            action=action,
            target_type=target.type,
            target_id=target.id,
            target_label=target.label[:256],
            level=level.value,
            summary=redact(summary or {}),
            prev_hash=head.hash,
        )
        entry.hash = entry_hash(entry, head.hash)
        head.seq, head.hash = entry.seq, entry.hash
        session.add(entry)
        await session.flush()
        return entry

    def _query(self, scope: Scope, flt: AuditFilter) -> Select[AuditEntry]:
        query = select(AuditEntry)
        if not isinstance(scope, TenantScope):
            query = query.where(AuditEntry.tenant_id == (flt.tenant_id or PLATFORM_CHAIN))
        if flt.actor:
            query = query.where(AuditEntry.actor_name.contains(flt.actor, autoescape=True))
        if flt.action:
            query = query.where(AuditEntry.action.startswith(flt.action, autoescape=True))
        if flt.level:
            query = query.where(AuditEntry.level == flt.level.value)
        if flt.target:
            query = query.where(AuditEntry.target_label.contains(flt.target, autoescape=True))
        if flt.since:
            query = query.where(AuditEntry.at >= flt.since)
        if flt.until:
            query = query.where(AuditEntry.at < flt.until)
        return query

    async def list(
        self, scope: Scope, flt: AuditFilter, *, limit: int, before_seq: int | None = None
    ) -> list[AuditEntry]:
        """Newest first; page on with `before_seq` = the last seq of the previous page."""
        query = self._query(scope, flt).order_by(AuditEntry.seq.desc()).limit(limit)
        if before_seq is not None:
            query = query.where(AuditEntry.seq < before_seq)
        async with self._db.session(scope) as session:
            return list((await session.scalars(query)).all())

    async def stream(self, scope: Scope, flt: AuditFilter) -> AsyncIterator[AuditEntry]:
        """Every matching entry, oldest first, in batches (exports of any size)."""
        after = 0
        while True:
            query = (
                self._query(scope, flt)
                .where(AuditEntry.seq > after)
                .order_by(AuditEntry.seq)
                .limit(1000)
            )
            async with self._db.session(scope) as session:
                batch = list((await session.scalars(query)).all())
            for entry in batch:
                yield entry
            if len(batch) < 1000:
                return
            after = batch[-1].seq

    async def verify(self) -> VerifyReport:
        """Recompute every chain; report the first broken link of each."""
        report = VerifyReport()
        async with self._db.session(PLATFORM) as session:
            heads = {h.tenant_id: h for h in (await session.scalars(select(AuditChainHead))).all()}
            chains = set(heads) | set(
                (await session.scalars(select(AuditEntry.tenant_id).distinct())).all()
            )
        for chain in sorted(chains):
            report.chains += 1
            broken = await self._verify_chain(chain, heads.get(chain), report)
            if broken:
                report.broken.append(broken)
        return report

    async def _verify_chain(
        self, chain: uuid.UUID, head: AuditChainHead | None, report: VerifyReport
    ) -> BrokenLink | None:
        prev_hash, expected_seq = GENESIS, 1
        async with self._db.session(PLATFORM) as session:
            entries = await session.stream_scalars(
                select(AuditEntry).where(AuditEntry.tenant_id == chain).order_by(AuditEntry.seq)
            )
            async for entry in entries:
                report.entries += 1
                if entry.seq != expected_seq:
                    return BrokenLink(chain, expected_seq, entry.id, "entry missing")
                if entry.prev_hash != prev_hash:
                    return BrokenLink(chain, entry.seq, entry.id, "does not link to previous")
                if entry_hash(entry, prev_hash) != entry.hash:
                    return BrokenLink(chain, entry.seq, entry.id, "content altered")
                prev_hash, expected_seq = entry.hash, expected_seq + 1
        last_seq = expected_seq - 1
        if head is None:
            return BrokenLink(chain, last_seq, None, "chain head missing")
        if (head.seq, head.hash) != (last_seq, prev_hash):
            return BrokenLink(chain, last_seq + 1, None, "entries removed from the end")
        return None


def _chain_of(scope: Scope) -> uuid.UUID:
    return scope.tenant_id if isinstance(scope, TenantScope) else PLATFORM_CHAIN


async def _lock_head(session: AsyncSession, chain: uuid.UUID) -> AuditChainHead:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(AuditChainHead)
        .values(tenant_id=chain, seq=0, hash=GENESIS)
        .on_conflict_do_nothing(index_elements=["tenant_id"])
    )
    head = await session.scalar(
        select(AuditChainHead)
        .where(AuditChainHead.tenant_id == chain)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert head is not None
    return head
