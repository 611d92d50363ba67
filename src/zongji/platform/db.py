"""Storage: the engine, the declarative base, and sessions scoped to one enterprise by construction.

Every enterprise-owned table mixes in `TenantOwned`. A session opened for a tenant adds
`tenant_id = <that tenant>` to every ORM query of such a table (SELECT, UPDATE, DELETE, and
`Session.get`) and stamps it on every new row, refusing rows of another tenant at flush. Code in a
context therefore cannot forget the `WHERE`: it never writes it. Only the platform scope (operator
work, migrations, node bookkeeping) sees across enterprises, and it has to ask for that by name.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, MetaData, Table, TextClause, TypeDecorator, Uuid, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql.elements import BindParameter, ClauseElement
from sqlalchemy.sql.util import find_tables

from zongji.platform.ids import uuid7

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
        uuid.UUID: Uuid,
    }


PLATFORM_TENANT = uuid.UUID(int=0)
"""The tenant id of what belongs to the platform rather than an enterprise (operator accounts,
the platform's own operation-log chain): such rows stay `TenantOwned`, so enterprise sessions
can never see them."""


class Keyed:
    """A UUIDv7 primary key."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)


@event.listens_for(Keyed, "init", propagate=True)
def _assign_id(target: Keyed, args: Any, kwargs: dict[str, Any]) -> None:
    """Ids exist from construction, so related rows can point at a row before it is flushed."""
    kwargs.setdefault("id", uuid7())


class TenantOwned(Keyed):
    """A row that belongs to one enterprise. Scoped sessions filter and stamp `tenant_id`."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)


@dataclass(frozen=True)
class TenantScope:
    tenant_id: uuid.UUID


@dataclass(frozen=True)
class PlatformScope:
    """Sees every enterprise. Asked for by name, only where the work is the platform's."""


PLATFORM = PlatformScope()
Scope = TenantScope | PlatformScope


class ScopeViolation(RuntimeError):
    """A programming error: a session touched a row outside its scope, or had no scope."""


@cache
def _tenant_tables() -> frozenset[Table]:
    return frozenset(
        mapper.local_table
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, TenantOwned) and isinstance(mapper.local_table, Table)
    )


def _refuse_core_on_tenant_tables(state: ORMExecuteState) -> None:
    """The criteria above apply to ORM statements only (`select(User)`, `update(User)`). A Core
    statement on a table (`select(User.__table__)`) or raw SQL would run unscoped in a tenant
    session, so it is refused there rather than trusted."""
    if state.is_orm_statement:
        return
    statement = state.statement
    if isinstance(statement, TextClause):
        raise ScopeViolation("raw SQL in a tenant session; use ORM statements")
    assert isinstance(statement, ClauseElement)
    touched = set(find_tables(statement, include_crud=True, include_joins=True))
    if touched & _tenant_tables():
        raise ScopeViolation("Core statement on a tenant table; use ORM entities so it is scoped")


def _scope_of(session: Session) -> Scope:
    scope = session.info.get("scope")
    if not isinstance(scope, TenantScope | PlatformScope):
        raise ScopeViolation("session has no scope; open it with Database.session(scope)")
    return scope


def _values_of(statement: Any) -> list[dict[str, Any]]:
    """The `.values(...)` of an INSERT/UPDATE (one dict per row), keyed by column name."""
    rows: list[dict[Any, Any]] = []
    if statement._values:
        rows.append(dict(statement._values))
    for multi in statement._multi_values or ():
        rows.extend(dict(row) for row in multi)
    return [{getattr(k, "key", k): v for k, v in row.items()} for row in rows]


def _guard_writes(state: ORMExecuteState, tenant_id: uuid.UUID) -> None:
    """What `with_loader_criteria` and the flush do not reach, for ORM INSERT and UPDATE of a
    tenant table in a tenant session:

    - ORM bulk INSERT (`execute(insert(M), [dicts])`, or `.values(...)`) bypasses the flush:
      rows without `tenant_id` are stamped, rows of another tenant refused.
    - ORM bulk UPDATE by primary key (`execute(update(M), [dicts with ids])`, an executemany)
      ignores the loader criteria: the tenant is added to its WHERE here, so another tenant's
      ids match no row (as in any scoped UPDATE). SQLAlchemy runs such an UPDATE only with
      `synchronize_session=None` (objects already loaded are not refreshed), so it is required.
    - No UPDATE may move a row to another tenant."""
    mapper = state.bind_mapper
    if mapper is None or not issubclass(mapper.class_, TenantOwned):
        return
    statement: Any = state.statement
    for row in _values_of(statement):
        if "tenant_id" in row:
            value = row["tenant_id"]
            if not (isinstance(value, BindParameter) and value.value == tenant_id):
                raise ScopeViolation(f"{mapper.class_.__name__}: tenant_id of another tenant")
    params = state.parameters
    rows: list[Mapping[str, Any]] = []
    if isinstance(params, Mapping):
        rows.append(params)
    elif params:
        rows.extend(params)
    for given in rows:
        if given.get("tenant_id", tenant_id) != tenant_id:
            raise ScopeViolation(f"{mapper.class_.__name__}: tenant_id of another tenant")
    if state.is_insert:
        if getattr(statement, "select", None) is not None:
            raise ScopeViolation("INSERT from SELECT on a tenant table in a tenant session")
        if rows:
            stamped = [{**given, "tenant_id": tenant_id} for given in rows]
            state.parameters = stamped[0] if isinstance(params, Mapping) else stamped
        elif not any("tenant_id" in row for row in _values_of(statement)):
            state.statement = statement.values(tenant_id=tenant_id)
    elif state.is_update and state.is_executemany:
        if state.execution_options.get("synchronize_session", "auto") not in (None, False):
            # SQLAlchemy refuses to synchronize the identity map for a bulk UPDATE by primary
            # key with WHERE criteria; say why here rather than let it name a WHERE nobody wrote.
            raise ScopeViolation(
                f"bulk UPDATE of {mapper.class_.__name__} by primary key in a tenant session: "
                "it is scoped by a WHERE on tenant_id, which SQLAlchemy runs only with "
                "execution_options(synchronize_session=None)"
            )
        state.statement = statement.where(mapper.class_.tenant_id == tenant_id)


@event.listens_for(Session, "do_orm_execute")
def _filter_by_tenant(state: ORMExecuteState) -> None:
    scope = _scope_of(state.session)
    if isinstance(scope, TenantScope):
        _refuse_core_on_tenant_tables(state)
        if state.is_orm_statement and (state.is_insert or state.is_update):
            _guard_writes(state, scope.tenant_id)
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the parent row was already loaded within scope
    if isinstance(scope, TenantScope):
        tenant_id = scope.tenant_id
        state.statement = state.statement.options(
            with_loader_criteria(
                TenantOwned,
                lambda cls: cls.tenant_id == tenant_id,
                include_aliases=True,
            )
        )


@event.listens_for(Session, "before_flush")
def _stamp_tenant(session: Session, flush_context: Any, instances: Any) -> None:
    scope = _scope_of(session)
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantOwned):
            continue
        if isinstance(scope, TenantScope):
            if getattr(obj, "tenant_id", None) is None:
                obj.tenant_id = scope.tenant_id
            elif obj.tenant_id != scope.tenant_id:
                raise ScopeViolation(f"{type(obj).__name__} of another tenant in a tenant session")
        elif getattr(obj, "tenant_id", None) is None:
            raise ScopeViolation(
                f"{type(obj).__name__} created in platform scope without tenant_id"
            )


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, see _sqlite_begin
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    """Writers take SQLite's write lock at BEGIN (IMMEDIATE) and so queue on `busy_timeout`;
    a deferred transaction that reads and then writes would fail with "database is locked"
    when another writer got there between its read and its write."""
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    """The engine and the one way to open a session: with a scope."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._readers = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writers = async_sessionmaker(self._write_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, scope: Scope, *, write: bool = False) -> AsyncSession:
        """A session bound to `scope`; `write=True` for a transaction that will change rows."""
        session = (self._writers if write else self._readers)()
        session.info["scope"] = scope
        return session

    def connection(self, scope: PlatformScope, *, write: bool = False) -> AsyncConnection:
        """A bare connection (`await` it, or `async with`) for Core statements, which no tenant
        criteria reach: so the platform scope only, asked for by name like a platform session.
        For work that writes many enterprises' rows at once, each row's tenant given by the
        code, never by a request (`platform/write_behind.py`); without a session it costs less
        per transaction. `write=True`: transactions begin IMMEDIATE on SQLite, as a writer
        session's do."""
        if not isinstance(scope, PlatformScope):
            raise ScopeViolation("a bare connection is platform scope only; use a session")
        return (self._write_engine if write else self.engine).connect()

    async def dispose(self) -> None:
        await self.engine.dispose()
