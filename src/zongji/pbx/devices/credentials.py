"""Device credentials (SEC-3, SEC-4): the platform issues each device of a user its own SIP login.

Users never see or choose SIP passwords: `issue` generates one, returns it exactly once, and
stores only the Digest HA1 values (MD5 and SHA-256) for the enterprise's SIP domain. A device
that is lost is revoked on its own; its registrations end at once (listeners in `on_revoke`,
the location service among them). A user's credentials are revoked when the user is deleted.

Digest verification needs a credential per REGISTER and INVITE, so the live credentials of an
enterprise are kept in memory, loaded on first use and dropped whenever this service changes them
(or another node announces it did, `CredentialsRevoked`).
"""

from __future__ import annotations

import asyncio
import secrets
import string
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from zongji.audit.service import AuditLog, Target
from zongji.directory.events import DirectoryChanged
from zongji.directory.users import DirectoryUsers
from zongji.pbx.devices.models import DeviceKind, SipCredential
from zongji.pbx.events import CredentialIssued, CredentialsRevoked
from zongji.pbx.view import TelephonyDirectory
from zongji.platform.actor import SYSTEM, Actor
from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Database, TenantScope
from zongji.platform.errors import Problem, conflict, not_found
from zongji.platform.events import EventBus
from zongji.platform.uow import UnitOfWork
from zongji.sip import DigestAlgorithm, DigestSecret, compute_ha1

PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 20  # ~119 bits; letters and digits only, which every phone's keypad UI accepts
USERNAME_ALPHABET = string.ascii_lowercase + string.digits
MAX_DEVICES_PER_USER = 20


@dataclass(frozen=True, slots=True)
class CredentialRecord:
    """A live credential as the registrar and the authenticator need it."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    label: str
    username: str
    realm: str
    secret: DigestSecret
    created_at: datetime
    last_registered_at: datetime | None


@dataclass(frozen=True)
class IssuedCredential:
    """What `issue` returns: the only time the password is ever seen."""

    credential: CredentialRecord
    password: str

    @property
    def username(self) -> str:
        return self.credential.username

    @property
    def domain(self) -> str:
        return self.credential.realm

    @property
    def id(self) -> uuid.UUID:
        return self.credential.id


RevokeListener = Callable[[uuid.UUID, Sequence[uuid.UUID]], None]
"""(tenant_id, credential ids) -> None: called after a revocation committed."""


class DeviceCredentials:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        audit: AuditLog,
        view: TelephonyDirectory,
        users: DirectoryUsers,
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._audit = audit
        self._view = view
        self._users = users
        self._cache: dict[uuid.UUID, dict[str, CredentialRecord]] = {}
        self._generation: dict[uuid.UUID, int] = {}
        self._loading: dict[uuid.UUID, asyncio.Future[dict[str, CredentialRecord]]] = {}
        self._seen: dict[uuid.UUID, tuple[uuid.UUID, datetime]] = {}  # id -> (tenant, when)
        self.on_revoke: list[RevokeListener] = []
        bus.subscribe((CredentialIssued, CredentialsRevoked), self._on_changed)
        bus.subscribe(DirectoryChanged, self._on_directory_changed)

    # -- issue, list, revoke -------------------------------------------------------------------

    async def issue(
        self,
        actor: Actor,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        *,
        kind: str = DeviceKind.SOFTPHONE.value,
        label: str = "",
    ) -> IssuedCredential:
        """A new credential for one of the user's devices; the password is returned only here."""
        try:
            kind = DeviceKind(kind).value
        except ValueError:
            raise Problem(
                422,
                "invalid_device_kind",
                "Device kind must be softphone, web or desk_phone.",
                "设备类型只能是 softphone、web 或 desk_phone。",
            ) from None
        subscriber = await self._view.subscriber_now(tenant_id, user_id)
        tenant = await self._view.tenant(tenant_id)
        if tenant is None or subscriber is None:
            raise not_found("User", "用户")
        if not tenant.active:
            raise conflict(
                "enterprise_not_active",
                "The enterprise is suspended or cancelled.",
                "企业已停机或销户。",
            )
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))
        realm = tenant.sip_domain
        prefix = subscriber.extension or "dev"
        for _attempt in range(5):
            username = f"{prefix}-{_random(4)}"
            try:
                row = await self._insert(
                    actor, tenant_id, user_id, kind, label.strip()[:64], username, realm, password
                )
            except IntegrityError:
                continue  # the random part collided with another device's: draw again
            break
        else:
            raise conflict(
                "conflict", "Could not find a free device username.", "无法生成设备用户名。"
            )
        self.invalidate(tenant_id)
        return IssuedCredential(_record(row), password)

    async def _insert(
        self,
        actor: Actor,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        kind: str,
        label: str,
        username: str,
        realm: str,
        password: str,
    ) -> SipCredential:
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            live = await uow.session.scalars(
                select(SipCredential.id).where(
                    SipCredential.user_id == user_id, SipCredential.revoked_at.is_(None)
                )
            )
            if len(live.all()) >= MAX_DEVICES_PER_USER:
                raise conflict(
                    "too_many_devices",
                    f"A user can have at most {MAX_DEVICES_PER_USER} devices.",
                    f"每个用户最多 {MAX_DEVICES_PER_USER} 台设备。",
                )
            row = SipCredential(
                user_id=user_id,
                kind=kind,
                label=label,
                username=username,
                realm=realm,
                ha1_md5=compute_ha1(DigestAlgorithm.MD5, username, realm, password),
                ha1_sha256=compute_ha1(DigestAlgorithm.SHA256, username, realm, password),
                created_at=self._clock.now(),
                revoked_at=None,
                last_registered_at=None,
            )
            uow.session.add(row)
            await uow.session.flush()
            await self._audit.record(
                uow,
                actor,
                "device.issue",
                _target(row),
                tenant_id=tenant_id,
                summary={"user_id": str(user_id), "kind": kind, "username": username},
            )
            uow.publish(CredentialIssued(tenant_id=tenant_id, credential_id=row.id))
        return row

    async def list(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> list[CredentialRecord]:
        """The user's live credentials, oldest first."""
        async with self._db.session(TenantScope(tenant_id)) as session:
            rows = await session.scalars(
                select(SipCredential)
                .where(SipCredential.user_id == user_id, SipCredential.revoked_at.is_(None))
                .order_by(SipCredential.created_at, SipCredential.id)
            )
            return [self._with_seen(_record(row)) for row in rows.all()]

    async def count(self, tenant_id: uuid.UUID) -> int:
        """The enterprise's live (issued, not revoked) credentials: its devices."""
        async with self._db.session(TenantScope(tenant_id)) as session:
            found = await session.scalar(
                select(func.count(SipCredential.id)).where(SipCredential.revoked_at.is_(None))
            )
        return int(found or 0)

    async def get(self, tenant_id: uuid.UUID, credential_id: uuid.UUID) -> CredentialRecord | None:
        async with self._db.session(TenantScope(tenant_id)) as session:
            row = await session.get(SipCredential, credential_id)
            if row is None or row.revoked_at is not None:
                return None
            return self._with_seen(_record(row))

    async def revoke(
        self,
        actor: Actor,
        tenant_id: uuid.UUID,
        credential_id: uuid.UUID,
        *,
        user_id: uuid.UUID | None = None,
    ) -> None:
        """Revoke one credential (of `user_id`, when given: an employee revokes only their own).
        Its registrations end now."""
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            row = await uow.session.get(SipCredential, credential_id, with_for_update=True)
            if row is None or row.revoked_at is not None:
                raise not_found("Device", "设备")
            if user_id is not None and row.user_id != user_id:
                raise not_found("Device", "设备")
            row.revoked_at = self._clock.now()
            await self._audit.record(
                uow,
                actor,
                "device.revoke",
                _target(row),
                tenant_id=tenant_id,
                summary={"user_id": str(row.user_id), "username": row.username},
            )
            uow.publish(CredentialsRevoked(tenant_id=tenant_id, credential_ids=(row.id,)))
        self._revoked(tenant_id, [credential_id])

    async def revoke_for_deleted_users(self, tenant_id: uuid.UUID) -> int:
        """Revoke every credential whose user no longer exists; returns how many."""
        async with self._db.session(TenantScope(tenant_id)) as session:
            owners = set(
                (
                    await session.scalars(
                        select(SipCredential.user_id).where(SipCredential.revoked_at.is_(None))
                    )
                ).all()
            )
        gone = owners - await self._users.existing_ids(tenant_id, list(owners))
        if not gone:
            return 0
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            rows = (
                await uow.session.scalars(
                    select(SipCredential).where(
                        SipCredential.user_id.in_(gone), SipCredential.revoked_at.is_(None)
                    )
                )
            ).all()
            now = self._clock.now()
            for row in rows:
                row.revoked_at = now
                await self._audit.record(
                    uow,
                    SYSTEM,
                    "device.revoke",
                    _target(row),
                    tenant_id=tenant_id,
                    summary={
                        "user_id": str(row.user_id),
                        "username": row.username,
                        "reason": "user deleted",
                    },
                )
            ids = [row.id for row in rows]
            uow.publish(CredentialsRevoked(tenant_id=tenant_id, credential_ids=tuple(ids)))
        self._revoked(tenant_id, ids)
        return len(ids)

    # -- what authentication asks --------------------------------------------------------------

    async def find(self, tenant_id: uuid.UUID, username: str) -> CredentialRecord | None:
        """The live credential `username` of the enterprise, from memory."""
        by_name = self._cache.get(tenant_id)
        if by_name is None:
            by_name = await self._load(tenant_id)
        return by_name.get(username)

    async def secret(self, tenant_id: uuid.UUID, username: str, realm: str) -> DigestSecret | None:
        """The Digest secret of `username` for `realm`: None for an unknown username, or one
        issued under another SIP domain (an HA1 is bound to its realm)."""
        record = await self.find(tenant_id, username)
        if record is None or record.realm.lower() != realm.lower():
            return None
        return record.secret

    async def other_tenants_with(self, tenant_id: uuid.UUID, username: str) -> bool:
        """Does another enterprise have a live credential of this name? (a device configured
        with the wrong domain: answered 403, not challenged for ever)"""
        async with self._db.session(PLATFORM) as session:
            found = await session.scalar(
                select(SipCredential.id)
                .where(
                    SipCredential.username == username,
                    SipCredential.tenant_id != tenant_id,
                    SipCredential.revoked_at.is_(None),
                )
                .limit(1)
            )
            return found is not None

    def seen(self, credential: CredentialRecord) -> None:
        """The device registered now; written to the database by `flush_seen` (a job), not on
        every REGISTER."""
        self._seen[credential.id] = (credential.tenant_id, self._clock.now())

    async def flush_seen(self) -> None:
        seen, self._seen = self._seen, {}
        by_tenant: dict[uuid.UUID, list[tuple[uuid.UUID, datetime]]] = {}
        for credential_id, (tenant_id, when) in seen.items():
            by_tenant.setdefault(tenant_id, []).append((credential_id, when))
        for tenant_id, items in by_tenant.items():
            session = self._db.session(TenantScope(tenant_id), write=True)
            async with session, session.begin():
                for credential_id, when in items:
                    await session.execute(
                        update(SipCredential)
                        .where(SipCredential.id == credential_id)
                        .values(last_registered_at=when)
                    )

    def invalidate(self, tenant_id: uuid.UUID) -> None:
        self._generation[tenant_id] = self._generation.get(tenant_id, 0) + 1
        self._cache.pop(tenant_id, None)

    # -- internals -----------------------------------------------------------------------------

    async def _load(self, tenant_id: uuid.UUID) -> dict[str, CredentialRecord]:
        """One query per enterprise, however many requests miss the cache at once (after a
        restart every phone re-registers within seconds)."""
        pending = self._loading.get(tenant_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[dict[str, CredentialRecord]] = (
            asyncio.get_running_loop().create_future()
        )
        self._loading[tenant_id] = future
        generation = self._generation.get(tenant_id, 0)
        try:
            async with self._db.session(TenantScope(tenant_id)) as session:
                rows = await session.scalars(
                    select(SipCredential).where(SipCredential.revoked_at.is_(None))
                )
                by_name = {row.username: _record(row) for row in rows.all()}
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: the waiters get it
            raise
        finally:
            self._loading.pop(tenant_id, None)
        if self._generation.get(tenant_id, 0) == generation:
            self._cache[tenant_id] = by_name
        future.set_result(by_name)
        return by_name

    def _with_seen(self, record: CredentialRecord) -> CredentialRecord:
        seen = self._seen.get(record.id)
        if seen is None:
            return record
        return CredentialRecord(
            **{
                **{f: getattr(record, f) for f in record.__dataclass_fields__},
                "last_registered_at": seen[1],
            }
        )

    def _revoked(self, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> None:
        self.invalidate(tenant_id)
        for credential_id in ids:
            self._seen.pop(credential_id, None)
        for listener in self.on_revoke:
            listener(tenant_id, ids)

    async def _on_changed(self, event: CredentialIssued | CredentialsRevoked) -> None:
        if event.tenant_id is None:
            return
        self.invalidate(event.tenant_id)
        if isinstance(event, CredentialsRevoked):
            ids = list(event.credential_ids)
            for listener in self.on_revoke:  # idempotent: this node may have done it already
                listener(event.tenant_id, ids)

    async def _on_directory_changed(self, event: DirectoryChanged) -> None:
        action = event.action
        if event.tenant_id is not None and ("delete" in action or action.startswith("import")):
            await self.revoke_for_deleted_users(event.tenant_id)


def _random(n: int) -> str:
    return "".join(secrets.choice(USERNAME_ALPHABET) for _ in range(n))


def _record(row: SipCredential) -> CredentialRecord:
    return CredentialRecord(
        id=row.id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        kind=row.kind,
        label=row.label,
        username=row.username,
        realm=row.realm,
        secret=DigestSecret(
            ha1={DigestAlgorithm.MD5: row.ha1_md5, DigestAlgorithm.SHA256: row.ha1_sha256}
        ),
        created_at=row.created_at,
        last_registered_at=row.last_registered_at,
    )


def _target(row: SipCredential) -> Target:
    return Target("device", str(row.id), f"{row.username} ({row.kind})")
