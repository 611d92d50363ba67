"""Fixtures shared by the whole suite.

Every storage test runs on the database CI asks for: SQLite by default, PostgreSQL when
`ZONGJI_TEST_DATABASE_URL` names one (a fresh database is created for the run and dropped after).
The schema is made by the real migrations, once per run; each test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from zongji.api.app import create_app
from zongji.models import metadata
from zongji.platform.clock import Clock, FakeClock
from zongji.platform.config import Settings
from zongji.platform.migrate import upgrade
from zongji.platform.sms import OutboxGateway, SmsMessage
from zongji.services import Services, build_services

REPO = Path(__file__).resolve().parent.parent


def _pg_admin_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _pg(dsn: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("ZONGJI_TEST_DATABASE_URL")
    if not given:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'zongji.db'}"
        asyncio.run(upgrade(url))
        yield url
        return
    name = f"zongji_test_{os.getpid()}_{secrets.token_hex(3)}"
    base, _, _ = given.rpartition("/")
    asyncio.run(_pg(_pg_admin_dsn(given), f'CREATE DATABASE "{name}"'))
    url = f"{base}/{name}"
    try:
        asyncio.run(upgrade(url))
        yield url
    finally:
        asyncio.run(_pg(_pg_admin_dsn(given), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def make_settings(database_url: str, data_dir: Path, **extra: Any) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        secret_key="test-secret-key-" + "x" * 32,
        node_name="test-node",
        **extra,
    )


async def clear_tables(services: Services) -> None:
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    async with services.db.engine.begin() as conn:
        if services.db.dialect == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for name in tables:
                await conn.execute(text(f"DELETE FROM {name}"))


class Phones:
    """The users' phones: every SMS as it arrives, in full. What the node keeps (the outbox the
    operator reads) has login codes masked, so tests read a code where a user would: here.
    Each message still goes on to the outbox, as the node would have sent it."""

    def __init__(self) -> None:
        self.received: list[SmsMessage] = []
        self.outbox: OutboxGateway | None = None

    async def send(self, message: SmsMessage) -> None:
        assert self.outbox is not None, "Phones.outbox is set by build_services_with_phones"
        await self.outbox.send(message)
        self.received.append(message)

    def last_to(self, e164: str) -> SmsMessage | None:
        return next((m for m in reversed(self.received) if m.to == e164), None)


def build_services_with_phones(settings: Settings, clock: Clock) -> Services:
    """`build_services`, with the SMS reaching `Phones` (and the outbox, as in production)."""
    phones = Phones()
    services = build_services(settings, clock=clock, sms=phones)
    phones.outbox = services.outbox
    return services


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def services(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Services]:
    services = build_services_with_phones(make_settings(database_url, tmp_path), clock)
    await clear_tables(services)
    yield services
    await services.close()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services)
    app.state.ready = True
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://zongji.test") as c:
        yield c


# -- helpers that act like the people using the system -------------------------------------------

PASSWORD = "Secret-pass-123"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Tenant:
    id: uuid.UUID
    code: str
    admin_login: str
    admin_token: str


class World:
    """Builds operators, enterprises and users through the public API, as a deployment would."""

    def __init__(self, services: Services, client: httpx.AsyncClient) -> None:
        self.services = services
        self.client = client
        self._operator_token: str | None = None

    async def operator_token(self) -> str:
        if self._operator_token is None:
            from zongji.platform.actor import SYSTEM

            await self.services.identity.create_operator(SYSTEM, "op", "运营商", PASSWORD)
            self._operator_token = await self.password_login("op", PASSWORD)
        return self._operator_token

    async def password_login(self, account: str, password: str = PASSWORD) -> str:
        r = await self.client.post(
            "/api/v1/auth/login", json={"account": account, "password": password}
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    async def enterprise(self, code: str, **fields: Any) -> Tenant:
        body: dict[str, Any] = {
            "code": code,
            "name": f"{code} 公司",
            "area_code": "025",
            "city": "南京",
            "admin": {"login": f"{code}-admin", "password": PASSWORD},
        }
        body.update(fields)
        r = await self.client.post(
            "/api/v1/platform/enterprises", json=body, headers=bearer(await self.operator_token())
        )
        assert r.status_code == 201, r.text
        token = await self.password_login(f"{code}-admin")
        return Tenant(uuid.UUID(r.json()["id"]), code, f"{code}-admin", token)

    async def user(self, tenant: Tenant, name: str, mobile: str, **kw: Any) -> uuid.UUID:
        """A user made through the directory service (as an admin would), any field settable."""
        from zongji.directory.user_schemas import UserCreate
        from zongji.platform.actor import SYSTEM

        data = UserCreate(name=name, mobile=mobile, **kw)
        return (await self.services.directory.users.create(SYSTEM, tenant.id, data)).id

    async def last_code(self, mobile: str) -> str:
        from zongji.platform.phone import to_e164

        phones = self.services.sms
        assert isinstance(phones, Phones), "build the services with build_services_with_phones"
        sms = phones.last_to(to_e164(mobile))
        assert sms is not None, f"no SMS to {mobile}"
        found = re.search(r"\b(\d{6})\b", sms.text)
        assert found, sms.text
        return found.group(1)

    async def code_login(self, mobile: str, **extra: Any) -> dict[str, Any]:
        r = await self.client.post("/api/v1/auth/code", json={"mobile": mobile})
        assert r.status_code == 202, r.text
        code = await self.last_code(mobile)
        r = await self.client.post(
            "/api/v1/auth/code-login", json={"mobile": mobile, "code": code, **extra}
        )
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result


@pytest.fixture
def world(services: Services, client: httpx.AsyncClient) -> World:
    return World(services, client)


# -- CI runs everything ------------------------------------------------------------------------

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI (`ZONGJI_CI=1`) a skipped test is a failure: nothing may silently not run."""
    if os.environ.get("ZONGJI_CI") and _skipped:
        print(f"\nCI: {len(_skipped)} test(s) skipped, which CI does not allow:")
        for nodeid in _skipped:
            print(f"  {nodeid}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
