"""Who sees which event: every event class is decided, and no event of one enterprise carries a
key of another (api/ws/audience.py)."""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from datetime import UTC, datetime

import zongji
from zongji.api.ws.audience import (
    AUDIENCES,
    NOT_SENT,
    OPERATORS,
    admins,
    audience_of,
    enterprise,
    keys_of,
    user,
)
from zongji.directory.events import ContactsChanged, DirectoryChanged, EnterpriseSuspended
from zongji.identity.models import Role, SubjectKind
from zongji.identity.principal import Principal
from zongji.pbx.contracts import CallDirection, CallStatus
from zongji.pbx.events import CallEnded, TrunkChanged, TrunkChangeKind
from zongji.platform.db import PLATFORM_TENANT
from zongji.platform.event_wire import registry

A, B = uuid.uuid4(), uuid.uuid4()


def test_every_event_of_the_product_is_either_sent_to_someone_or_never() -> None:
    for module in pkgutil.walk_packages(zongji.__path__, "zongji."):  # every event class
        importlib.import_module(module.name)
    ours = {cls for cls in registry().values() if cls.__module__.startswith("zongji.")}
    assert not set(AUDIENCES) & NOT_SENT
    assert ours - set(AUDIENCES) - NOT_SENT == set(), "decide who sees these (audience.py)"


def _principal(kind: SubjectKind, tenant: uuid.UUID, *roles: Role) -> Principal:
    return Principal(kind, uuid.uuid4(), tenant, "x", frozenset(roles), uuid.uuid4(), uuid.uuid4())


def test_a_connection_hears_its_enterprise_its_role_and_itself() -> None:
    operator = _principal(SubjectKind.CONSOLE, PLATFORM_TENANT, Role.OPERATOR)
    admin = _principal(SubjectKind.CONSOLE, A, Role.ENTERPRISE_ADMIN)
    employee = _principal(SubjectKind.USER, A, Role.EMPLOYEE, Role.CONTACT_MANAGER)
    assert keys_of(operator) == {OPERATORS}
    assert keys_of(admin) == {enterprise(A), admins(A)}
    assert keys_of(employee) == {enterprise(A), user(A, employee.subject_id)}


def test_events_reach_only_their_own_enterprise() -> None:
    zhang, li = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    call = CallEnded(
        tenant_id=A,
        call_id="c1",
        record_id=uuid.uuid4(),
        direction=CallDirection.INTERNAL,
        status=CallStatus.ANSWERED,
        caller_number="8001",
        caller_user_id=zhang,
        caller_name="张三",
        callee_number="8002",
        callee_user_id=li,
        callee_name="李四",
        answered_by_user_id=li,
        started_at=now,
        answered_at=now,
        ended_at=now,
        billable_seconds=0,
    )
    assert audience_of(call) == {admins(A), user(A, zhang), user(A, li)}
    assert audience_of(DirectoryChanged(tenant_id=A, cursor=1, action="user.create")) == {
        enterprise(A)
    }
    assert audience_of(ContactsChanged(tenant_id=A, owner_id=zhang, action="contact.add")) == {
        user(A, zhang)
    }
    assert audience_of(EnterpriseSuspended(tenant_id=A, reason=None)) == {OPERATORS, enterprise(A)}
    trunk = TrunkChanged(tenant_id=None, trunk_id=uuid.uuid4(), change=TrunkChangeKind.CREATED)
    assert audience_of(trunk) == {OPERATORS}
    # An enterprise event without its enterprise reaches nobody (never a guess).
    assert audience_of(DirectoryChanged(tenant_id=None, cursor=1, action="user.create")) == set()
    for event in (call, DirectoryChanged(tenant_id=A, cursor=1, action="x")):
        assert not any(str(B) in key for key in audience_of(event))
