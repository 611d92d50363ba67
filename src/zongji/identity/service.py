"""Logging in and staying logged in (CL-3, CL-4, SEC-2, SEC-4, ADM-29).

Employees log in with their mobile and a one-time code (6 digits, 5 minutes, single use, 5 wrong
tries); console users with an account and password. Either way the device gets a short-lived
access token and a refresh token bound to it. Every request re-checks the session and the
enterprise, so logging out, deregistering or suspending the enterprise takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy import delete, select, update

from zongji.audit.models import AuditLevel
from zongji.audit.service import AuditLog, Target
from zongji.directory.enterprises import EnterpriseService
from zongji.directory.models import EnterpriseStatus
from zongji.directory.schemas import AdminAccountCreate
from zongji.directory.service_period import ServiceState
from zongji.directory.users import DirectoryUsers, UserLogin
from zongji.identity.events import DeviceDeregistered, SessionsEnded
from zongji.identity.models import (
    AuthSession,
    CodeChannel,
    ConsoleAccount,
    Device,
    LoginCode,
    Role,
    SubjectKind,
)
from zongji.identity.passwords import (
    check_strength,
    hash_password,
    needs_rehash,
    verify_password,
)
from zongji.identity.principal import Principal, actor_kind
from zongji.identity.schemas import CodeSent, DeviceInfo, TokenPair
from zongji.identity.tokens import InvalidToken, TokenSigner, digest, new_refresh_token
from zongji.platform.actor import Actor
from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, PLATFORM_TENANT, Database, TenantScope
from zongji.platform.errors import Problem, conflict, field_error, not_found, unauthenticated
from zongji.platform.events import EventBus
from zongji.platform.phone import InvalidNumber, to_mobile_e164
from zongji.platform.ratelimit import Limit, RateLimiter
from zongji.platform.sms import SmsGateway, SmsMessage
from zongji.platform.uow import UnitOfWork

log = logging.getLogger(__name__)

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=5)
CODE_MAX_FAILURES = 5
SEND_PER_MOBILE = (Limit(1, 60), Limit(5, 3600), Limit(10, 86400))
SEND_PER_ADDRESS = (Limit(5, 60), Limit(30, 3600))
VERIFY_PER_ADDRESS = (Limit(30, 600),)
PASSWORD_FAILURES_PER_ACCOUNT = (Limit(10, 900),)
PASSWORD_FAILURES_PER_ADDRESS = (Limit(30, 900),)


class VoiceCodeSender(Protocol):
    """Calls a mobile from the enterprise's main number and reads the code out (CL-4).

    The PBX provides it; until one is plugged in, voice codes are refused as unavailable."""

    async def call_with_code(self, tenant_id: uuid.UUID, mobile: str, code: str) -> None: ...


def _problem(status: int, code: str, en: str, zh: str, **extra: object) -> Problem:
    if status == 401:
        p = unauthenticated(code, en, zh)
        p.extra.update(extra)
        return p
    return Problem(status, code, en, zh, extra=dict(extra))


def enterprise_unavailable(status: EnterpriseStatus) -> Problem:
    if status is EnterpriseStatus.CANCELLED:
        return Problem(403, "enterprise_cancelled", "The enterprise is cancelled.", "企业已销户。")
    return Problem(
        403, "enterprise_suspended", "The enterprise is suspended.", "企业已停机，暂不能使用。"
    )


def out_of_service(login: UserLogin, state: ServiceState) -> Problem:
    """Why a user outside service is refused (403: who they are is known, they may not)."""
    if state is ServiceState.SUSPENDED:
        return Problem(
            403,
            "user_suspended",
            "This user is suspended; ask the enterprise's administrator.",
            "该用户已停机，请联系企业管理员。",
        )
    when = {
        "valid_from": login.valid_from.isoformat() if login.valid_from else None,
        "valid_until": login.valid_until.isoformat() if login.valid_until else None,
    }
    if state is ServiceState.NOT_YET_VALID:
        return Problem(
            403,
            "outside_validity",
            f"This user's service starts on {when['valid_from']}.",
            f"该用户的服务自 {when['valid_from']} 起生效。",
            extra=when,
        )
    return Problem(
        403,
        "outside_validity",
        f"This user's service ended on {when['valid_until']}.",
        f"该用户的服务已于 {when['valid_until']} 到期。",
        extra=when,
    )


def invalid_code(attempts_left: int | None = None) -> Problem:
    extra = {} if attempts_left is None else {"attempts_left": attempts_left}
    return _problem(401, "code_invalid", "The code is not correct.", "验证码不正确。", **extra)


@dataclass(frozen=True)
class _Outcome:
    """What a code check decided; raised or acted on after its transaction commits."""

    problem: Problem | None = None
    login: UserLogin | None = None


class IdentityService:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        audit: AuditLog,
        enterprises: EnterpriseService,
        users: DirectoryUsers,
        sms: SmsGateway,
        limiter: RateLimiter,
        signer: TokenSigner,
        secret_key: bytes,
        refresh_ttl: int,
        sms_signature: str = "【云总机】",
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._audit = audit
        self._enterprises = enterprises
        self._users = users
        self._sms = sms
        self._limiter = limiter
        self._signer = signer
        self._code_key = hashlib.sha256(b"login-code:" + secret_key).digest()
        self._refresh_ttl = timedelta(seconds=refresh_ttl)
        self._signature = sms_signature
        self.voice: VoiceCodeSender | None = None

    # -- one-time codes (CL-3, CL-4) -----------------------------------------------------------

    def _code_hash(self, mobile: str, code: str) -> str:
        return hmac.new(self._code_key, f"{mobile}:{code}".encode(), hashlib.sha256).hexdigest()

    async def request_code(
        self, mobile_raw: str, channel: CodeChannel, address: str | None
    ) -> CodeSent:
        """Send a login code if the mobile belongs to an active user. The answer is the same
        either way, so that it doesn't tell strangers which numbers are registered."""
        mobile = _mobile(mobile_raw)
        if channel is CodeChannel.VOICE and self.voice is None:
            raise Problem(
                503,
                "voice_code_unavailable",
                "Voice codes are not available; use an SMS code.",
                "暂不支持语音验证码，请使用短信验证码。",
            )
        address_key = f"code-send:addr:{address}"
        mobile_key = f"code-send:mobile:{mobile}"
        self._limiter.check(address_key, SEND_PER_ADDRESS)
        self._limiter.check(mobile_key, SEND_PER_MOBILE)
        self._limiter.hit(address_key, 3600)
        self._limiter.hit(mobile_key, 86400)
        sent = CodeSent(expires_in=int(CODE_TTL.total_seconds()), channel=channel)
        active = [
            login
            for login in await self._users.logins_for_mobile(mobile)
            if login.enterprise_status is EnterpriseStatus.ACTIVE
        ]
        if not active:
            return sent
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        now = self._clock.now()
        async with UnitOfWork(self._db, self._bus, PLATFORM) as uow:
            # A new code replaces any earlier one: only the latest can be used.
            await uow.session.execute(
                update(LoginCode)
                .where(LoginCode.mobile == mobile, LoginCode.used_at.is_(None))
                .values(used_at=now)
            )
            uow.session.add(
                LoginCode(
                    mobile=mobile,
                    channel=channel.value,
                    code_hash=self._code_hash(mobile, code),
                    created_at=now,
                    expires_at=now + CODE_TTL,
                    failed_attempts=0,
                    requested_from=address,
                )
            )
        tenant = active[0].tenant_id
        if channel is CodeChannel.VOICE:
            assert self.voice is not None
            await self.voice.call_with_code(tenant, mobile, code)
        else:
            minutes = int(CODE_TTL.total_seconds() // 60)
            text = f"{self._signature}您的登录验证码是 {code}，{minutes} 分钟内有效，请勿告诉他人。"
            await self._sms.send(SmsMessage(mobile, text, tenant, secret=code, valid_for=CODE_TTL))
        return sent

    async def code_login(
        self,
        mobile_raw: str,
        code: str,
        device: DeviceInfo,
        *,
        enterprise: str | None,
        address: str | None,
    ) -> TokenPair:
        mobile = _mobile(mobile_raw)
        self._limiter.take(f"code-verify:addr:{address}", VERIFY_PER_ADDRESS)
        code = code.strip()
        async with UnitOfWork(self._db, self._bus, PLATFORM) as uow:
            outcome = await self._check_code(uow, mobile, code, enterprise)
            if outcome.login is None:
                # Commit the counted failure, then refuse.
                pass
            else:
                login = outcome.login
                pair = await self._open_session(
                    uow,
                    SubjectKind.USER,
                    login.user_id,
                    login.tenant_id,
                    login.name,
                    _user_roles(login),
                    device,
                    address,
                )
                await self._users.mark_registered(uow, login.user_id)
        if outcome.problem is not None:
            raise outcome.problem
        return pair

    async def _check_code(
        self, uow: UnitOfWork, mobile: str, code: str, enterprise: str | None
    ) -> _Outcome:
        now = self._clock.now()
        row = await uow.session.scalar(
            select(LoginCode)
            .where(LoginCode.mobile == mobile, LoginCode.used_at.is_(None))
            .order_by(LoginCode.created_at.desc())
            .limit(1)
            .with_for_update()
        )
        if row is None:
            return _Outcome(invalid_code())
        if row.expires_at <= now:
            return _Outcome(
                _problem(
                    401,
                    "code_expired",
                    "The code has expired; ask for a new one.",
                    "验证码已过期，请重新获取。",
                )
            )
        if row.failed_attempts >= CODE_MAX_FAILURES:
            return _Outcome(_locked())
        if not (
            code.isdigit() and hmac.compare_digest(row.code_hash, self._code_hash(mobile, code))
        ):
            row.failed_attempts += 1
            left = CODE_MAX_FAILURES - row.failed_attempts
            return _Outcome(_locked() if left == 0 else invalid_code(left))
        logins = await self._users.logins_for_mobile(mobile)
        if enterprise:
            logins = [item for item in logins if item.enterprise_code == enterprise]
        active = [i for i in logins if i.enterprise_status is EnterpriseStatus.ACTIVE]
        if not active:
            if logins:
                return _Outcome(enterprise_unavailable(logins[0].enterprise_status))
            return _Outcome(
                _problem(
                    403,
                    "not_registered",
                    "This mobile is not registered.",
                    "该手机号未在企业通讯录中登记。",
                )
            )
        now_in_service = [i for i in active if i.service_state(now) is ServiceState.IN_SERVICE]
        if not now_in_service:
            first = active[0]
            return _Outcome(out_of_service(first, first.service_state(now)))
        active = now_in_service
        if len(active) > 1:
            choices = [{"code": i.enterprise_code, "name": i.enterprise_name} for i in active]
            return _Outcome(
                Problem(
                    409,
                    "enterprise_choice_required",
                    "This mobile is in several enterprises; choose one.",
                    "该手机号属于多个企业，请选择要登录的企业。",
                    extra={"enterprises": choices},
                )
            )
        row.used_at = now
        return _Outcome(login=active[0])

    # -- passwords (console) -------------------------------------------------------------------

    async def password_login(
        self, account: str, password: str, device: DeviceInfo, *, address: str | None
    ) -> TokenPair:
        account_key = f"password:account:{account.lower()}"
        address_key = f"password:addr:{address}"
        self._limiter.check(account_key, PASSWORD_FAILURES_PER_ACCOUNT)
        self._limiter.check(address_key, PASSWORD_FAILURES_PER_ADDRESS)
        async with self._db.session(PLATFORM) as session:
            row = await session.scalar(
                select(ConsoleAccount).where(ConsoleAccount.login == account)
            )
        if not await verify_password(row.password_hash if row else None, password):
            self._limiter.hit(account_key, 900)
            self._limiter.hit(address_key, 900)
            log.info("console login refused", extra={"account": account, "address": address})
            raise unauthenticated(
                "invalid_credentials", "Wrong account or password.", "账号或密码错误。"
            )
        assert row is not None
        if row.tenant_id != PLATFORM_TENANT:
            status = await self._enterprises.status_of(row.tenant_id)
            if status is not EnterpriseStatus.ACTIVE:
                raise enterprise_unavailable(status or EnterpriseStatus.CANCELLED)
        self._limiter.reset(account_key)
        async with UnitOfWork(self._db, self._bus, PLATFORM) as uow:
            if needs_rehash(row.password_hash):
                account_row = await uow.session.get(ConsoleAccount, row.id)
                if account_row is not None:
                    account_row.password_hash = await hash_password(password)
            return await self._open_session(
                uow,
                SubjectKind.CONSOLE,
                row.id,
                row.tenant_id,
                row.name,
                frozenset({Role(row.role)}),
                device,
                address,
            )

    async def change_password(
        self, principal: Principal, old: str, new: str, *, address: str | None
    ) -> None:
        """ADM-29. Ends the account's other sessions: whoever knew the old password is out."""
        if principal.kind is not SubjectKind.CONSOLE:
            raise Problem(
                400,
                "no_password",
                "Client users log in with codes and have no password.",
                "客户端用户使用验证码登录，没有密码。",
            )
        check_strength(new, "new_password")
        if new == old:
            raise field_error(
                "new_password",
                "password_unchanged",
                "The new password is the same as the old one.",
                "新密码不能与旧密码相同。",
            )
        async with UnitOfWork(self._db, self._bus, PLATFORM) as uow:
            account = await uow.session.get(
                ConsoleAccount, principal.subject_id, with_for_update=True
            )
            if account is None:
                raise unauthenticated()
            if not await verify_password(account.password_hash, old):
                raise field_error(
                    "old_password",
                    "password_wrong",
                    "The current password is not correct.",
                    "当前密码不正确。",
                )
            account.password_hash = await hash_password(new)
            account.password_changed_at = self._clock.now()
            await self._revoke(
                uow,
                [AuthSession.subject_id == account.id, AuthSession.id != principal.session_id],
                "password_changed",
            )
            await self._audit.record(
                uow,
                principal.actor(address),
                "auth.password_change",
                Target("account", str(account.id), account.login),
                tenant_id=account.tenant_id,
                level=AuditLevel.WARNING,
            )

    # -- accounts ------------------------------------------------------------------------------

    async def reset_password(self, actor: Actor, login: str, new: str) -> None:
        """Set a console account's password without the old one (operator or node CLI); all its
        sessions end."""
        check_strength(new)
        async with UnitOfWork(self._db, self._bus, PLATFORM) as uow:
            account = await uow.session.scalar(
                select(ConsoleAccount).where(ConsoleAccount.login == login).with_for_update()
            )
            if account is None:
                raise not_found("Account", "账号")
            account.password_hash = await hash_password(new)
            account.password_changed_at = self._clock.now()
            await self._revoke(uow, [AuthSession.subject_id == account.id], "password_reset")
            await self._audit.record(
                uow,
                actor,
                "auth.password_reset",
                Target("account", str(account.id), login),
                tenant_id=account.tenant_id,
                level=AuditLevel.WARNING,
            )

    async def find_account(self, login: str) -> ConsoleAccount | None:
        async with self._db.session(PLATFORM) as session:
            return await session.scalar(select(ConsoleAccount).where(ConsoleAccount.login == login))

    async def create_operator(
        self, actor: Actor, login: str, name: str, password: str
    ) -> uuid.UUID:
        async with UnitOfWork(self._db, self._bus, PLATFORM) as uow:
            account = await self._create_account(
                uow, actor, PLATFORM_TENANT, Role.OPERATOR, login, name, password
            )
            return account.id

    async def create_enterprise_admin(
        self, uow: UnitOfWork, actor: Actor, tenant_id: uuid.UUID, admin: AdminAccountCreate
    ) -> None:
        await self._create_account(
            uow, actor, tenant_id, Role.ENTERPRISE_ADMIN, admin.login, admin.name, admin.password
        )

    async def add_enterprise_admin(
        self, actor: Actor, tenant_id: uuid.UUID, admin: AdminAccountCreate
    ) -> uuid.UUID:
        await self._enterprises.get(tenant_id)  # 404 for an unknown enterprise
        async with UnitOfWork(self._db, self._bus, PLATFORM) as uow:
            account = await self._create_account(
                uow,
                actor,
                tenant_id,
                Role.ENTERPRISE_ADMIN,
                admin.login,
                admin.name,
                admin.password,
            )
            return account.id

    async def _create_account(
        self,
        uow: UnitOfWork,
        actor: Actor,
        tenant_id: uuid.UUID,
        role: Role,
        login: str,
        name: str,
        password: str,
    ) -> ConsoleAccount:
        check_strength(password)
        if await uow.session.scalar(select(ConsoleAccount.id).where(ConsoleAccount.login == login)):
            raise conflict("login_taken", "This login name is taken.", "该登录账号已被使用。")
        now = self._clock.now()
        account = ConsoleAccount(
            tenant_id=tenant_id,
            login=login,
            name=name,
            role=role.value,
            password_hash=await hash_password(password),
            created_at=now,
            password_changed_at=now,
        )
        uow.session.add(account)
        await uow.session.flush()
        await self._audit.record(
            uow,
            actor,
            f"account.create.{role.value}",
            Target("account", str(account.id), login),
            tenant_id=tenant_id,
            level=AuditLevel.WARNING,
            summary={"login": login, "name": name, "role": role.value},
        )
        return account

    # -- users' service (OPS-3) ---------------------------------------------------------------

    async def set_user_suspended(
        self,
        actor: Actor,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        suspended: bool,
        *,
        reason: str | None = None,
    ) -> None:
        """停机 / 复机 one user. Suspending ends every session of theirs in the same
        transaction (their refresh tokens stop working, access tokens are refused at once); the
        PBX hears of it through the directory's event and refuses their REGISTERs and calls."""
        async with UnitOfWork(self._db, self._bus, TenantScope(tenant_id)) as uow:
            changed = await self._users.set_suspended(uow, actor, user_id, suspended, reason)
            if changed and suspended:
                await self._revoke(
                    uow,
                    [
                        AuthSession.subject_kind == SubjectKind.USER.value,
                        AuthSession.subject_id == user_id,
                    ],
                    "user_suspended",
                )

    # -- sessions and tokens -------------------------------------------------------------------

    async def _open_session(
        self,
        uow: UnitOfWork,
        kind: SubjectKind,
        subject_id: uuid.UUID,
        tenant_id: uuid.UUID,
        name: str,
        roles: frozenset[Role],
        info: DeviceInfo,
        address: str | None,
    ) -> TokenPair:
        now = self._clock.now()
        device = None
        if info.device_id is not None:
            device = await uow.session.get(Device, info.device_id)
            if device is not None and (
                device.subject_id != subject_id or device.deregistered_at is not None
            ):
                device = None  # someone else's, or deregistered: start afresh
        if device is None:
            device = Device(
                tenant_id=tenant_id,
                subject_kind=kind.value,
                subject_id=subject_id,
                name=info.name,
                platform=info.platform,
                created_at=now,
                last_seen_at=now,
                deregistered_at=None,
            )
            uow.session.add(device)
        else:
            device.name, device.platform, device.last_seen_at = info.name, info.platform, now
        refresh = new_refresh_token()
        session = AuthSession(
            tenant_id=tenant_id,
            device_id=device.id,
            subject_kind=kind.value,
            subject_id=subject_id,
            refresh_hash=digest(refresh),
            previous_refresh_hash=None,
            refresh_expires_at=now + self._refresh_ttl,
            created_at=now,
            refreshed_at=now,
            revoked_at=None,
            revoked_reason=None,
        )
        uow.session.add(session)
        await uow.session.flush()
        actor = Actor(actor_kind(kind, roles), name, subject_id, tenant_id, address)
        await self._audit.record(
            uow,
            actor,
            "auth.login",
            Target("device", str(device.id), f"{device.name} ({device.platform})"),
            tenant_id=tenant_id,
            summary={"device": str(device.id)},
        )
        return self._pair(session, refresh, name, roles)

    def _pair(
        self, session: AuthSession, refresh: str, name: str, roles: frozenset[Role]
    ) -> TokenPair:
        now = self._clock.now()
        return TokenPair(
            access_token=self._signer.issue(
                session_id=session.id,
                tenant_id=session.tenant_id,
                subject_id=session.subject_id,
                subject_kind=session.subject_kind,
                now=now,
            ),
            expires_in=self._signer.ttl,
            refresh_token=refresh,
            refresh_expires_in=int((session.refresh_expires_at - now).total_seconds()),
            device_id=session.device_id,
            subject_kind=SubjectKind(session.subject_kind),
            subject_id=session.subject_id,
            tenant_id=session.tenant_id,
            name=name,
            roles=sorted(roles),
        )

    async def refresh(self, token: str, device_id: uuid.UUID, *, address: str | None) -> TokenPair:
        """Rotate the refresh token. A rotated-out token coming back means a copy exists: the
        session ends, and both holders must log in again."""
        hashed = digest(token)
        now = self._clock.now()
        ended = _problem(
            401, "session_ended", "The session has ended; log in again.", "登录已失效，请重新登录。"
        )
        async with UnitOfWork(self._db, self._bus, PLATFORM) as uow:
            session = await uow.session.scalar(
                select(AuthSession).where(AuthSession.refresh_hash == hashed).with_for_update()
            )
            if session is None:
                reused = await uow.session.scalar(
                    select(AuthSession)
                    .where(AuthSession.previous_refresh_hash == hashed)
                    .with_for_update()
                )
                if reused is not None and reused.revoked_at is None:
                    reused.revoked_at, reused.revoked_reason = now, "refresh_reuse"
                    log.warning(
                        "refresh token reused; session revoked", extra={"session": str(reused.id)}
                    )
                failure: Problem = ended if reused is not None else _invalid_refresh()
            elif session.device_id != device_id:
                failure = _invalid_refresh()
            elif session.revoked_at is not None or session.refresh_expires_at <= now:
                failure = ended
            else:
                principal = await self._resolve(session)
                refresh = new_refresh_token()
                session.previous_refresh_hash = session.refresh_hash
                session.refresh_hash = digest(refresh)
                session.refreshed_at = now
                session.refresh_expires_at = now + self._refresh_ttl
                return self._pair(session, refresh, principal.name, principal.roles)
        raise failure

    async def authenticate(self, token: str) -> Principal:
        try:
            claims = self._signer.verify(token, self._clock.now())
        except InvalidToken as exc:
            expired = str(exc) == "expired"
            raise unauthenticated(
                "token_expired" if expired else "invalid_token",
                "The access token has expired." if expired else "The access token is not valid.",
                "访问令牌已过期。" if expired else "访问令牌无效。",
            ) from exc
        async with self._db.session(TenantScope(claims.tenant_id)) as db_session:
            session = await db_session.get(AuthSession, claims.session_id)
        if session is None or session.revoked_at is not None:
            raise unauthenticated(
                "session_ended", "The session has ended; log in again.", "登录已失效，请重新登录。"
            )
        return await self._resolve(session)

    async def reauthenticate(self, principal: Principal) -> Principal:
        """The principal of a connection that outlives its access token (the WebSocket
        gateway): its session and subject read afresh as `authenticate` does, so a logout, a
        suspension or a removed account ends it; raises the same problems."""
        async with self._db.session(TenantScope(principal.tenant_id)) as db_session:
            session = await db_session.get(AuthSession, principal.session_id)
        if (
            session is None
            or session.revoked_at is not None
            or session.refresh_expires_at <= self._clock.now()  # a connection kept for a month
        ):
            raise unauthenticated(
                "session_ended", "The session has ended; log in again.", "登录已失效，请重新登录。"
            )
        return await self._resolve(session)

    async def _resolve(self, session: AuthSession) -> Principal:
        """Who the session's subject is now: roles and enterprise state are read afresh."""
        kind = SubjectKind(session.subject_kind)
        if kind is SubjectKind.USER:
            login = await self._users.login_of(session.tenant_id, session.subject_id)
            if login is None:
                raise unauthenticated(
                    "account_removed", "The account no longer exists.", "账号已不存在。"
                )
            status, name, roles = login.enterprise_status, login.name, _user_roles(login)
            state = login.service_state(self._clock.now())
            if status is EnterpriseStatus.ACTIVE and state is not ServiceState.IN_SERVICE:
                raise out_of_service(login, state)
        else:
            async with self._db.session(PLATFORM) as db_session:
                account = await db_session.get(ConsoleAccount, session.subject_id)
            if account is None:
                raise unauthenticated(
                    "account_removed", "The account no longer exists.", "账号已不存在。"
                )
            name, roles = account.name, frozenset({Role(account.role)})
            status = (
                EnterpriseStatus.ACTIVE
                if session.tenant_id == PLATFORM_TENANT
                else await self._enterprises.status_of(session.tenant_id)
                or EnterpriseStatus.CANCELLED
            )
        if status is not EnterpriseStatus.ACTIVE:
            raise enterprise_unavailable(status)
        return Principal(
            kind, session.subject_id, session.tenant_id, name, roles, session.id, session.device_id
        )

    async def logout(self, principal: Principal, *, address: str | None) -> None:
        async with UnitOfWork(self._db, self._bus, principal.scope) as uow:
            await self._revoke(uow, [AuthSession.id == principal.session_id], "logout")
            await self._audit.record(
                uow,
                principal.actor(address),
                "auth.logout",
                Target("device", str(principal.device_id), principal.name),
                tenant_id=principal.tenant_id,
            )

    async def deregister(self, principal: Principal, *, address: str | None) -> None:
        """注销: end every session of this device; it needs a fresh code to come back."""
        async with UnitOfWork(self._db, self._bus, principal.scope) as uow:
            device = await uow.session.get(Device, principal.device_id)
            if device is not None:
                device.deregistered_at = self._clock.now()
            await self._revoke(uow, [AuthSession.device_id == principal.device_id], "deregistered")
            await self._audit.record(
                uow,
                principal.actor(address),
                "auth.deregister",
                Target("device", str(principal.device_id), device.name if device else "?"),
                tenant_id=principal.tenant_id,
                level=AuditLevel.WARNING,
            )
            uow.publish(
                DeviceDeregistered(tenant_id=principal.tenant_id, device_id=principal.device_id)
            )

    async def _revoke(self, uow: UnitOfWork, where: list[object], reason: str) -> None:
        """End the matching sessions, and say which after the commit (`SessionsEnded`), so a
        connection held open on one (the WebSocket gateway) is closed at once."""
        ended = (
            await uow.session.scalars(
                update(AuthSession)
                .where(AuthSession.revoked_at.is_(None), *where)  # type: ignore[arg-type]
                .values(revoked_at=self._clock.now(), revoked_reason=reason)
                .returning(AuthSession.id)
            )
        ).all()
        if ended:
            tenant = uow.scope.tenant_id if isinstance(uow.scope, TenantScope) else None
            uow.publish(SessionsEnded(tenant_id=tenant, session_ids=tuple(ended), reason=reason))

    async def purge_expired(self) -> int:
        """Housekeeping: forget codes a day after they expired, and long-dead sessions."""
        cutoff = self._clock.now() - timedelta(days=1)
        async with UnitOfWork(self._db, self._bus, PLATFORM) as uow:
            codes = await uow.session.execute(
                delete(LoginCode).where(LoginCode.expires_at < cutoff)
            )
            sessions = await uow.session.execute(
                delete(AuthSession).where(AuthSession.refresh_expires_at < cutoff)
            )
        return int(codes.rowcount or 0) + int(sessions.rowcount or 0)  # type: ignore[attr-defined]


def _mobile(raw: str) -> str:
    try:
        return to_mobile_e164(raw)
    except InvalidNumber as exc:
        raise field_error(
            "mobile", "invalid_mobile", "Not a valid mobile number.", "手机号码格式不正确。"
        ) from exc


def _locked() -> Problem:
    return _problem(
        401,
        "code_locked",
        "Too many wrong codes; ask for a new one.",
        "验证码错误次数过多，请重新获取。",
    )


def _invalid_refresh() -> Problem:
    return _problem(
        401, "invalid_refresh_token", "The refresh token is not valid.", "刷新令牌无效。"
    )


def _user_roles(login: UserLogin) -> frozenset[Role]:
    return frozenset({Role.EMPLOYEE, Role.CONTACT_MANAGER} if login.is_admin else {Role.EMPLOYEE})
