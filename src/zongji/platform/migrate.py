"""Schema migrations (Alembic), run by `zongji db upgrade` and by `serve` on start.

One migration history for the whole application. On PostgreSQL an advisory lock makes nodes that
start together migrate one after another instead of racing.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from zongji.platform.db import create_engine

MIGRATIONS = Path(__file__).with_name("migrations")
LOCK_ID = 0x5A4F4E474A49  # "ZONGJI"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_upgrade, url, revision)
            await conn.commit()
    finally:
        await engine.dispose()


def _upgrade(conn: Connection, url: str, revision: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})
    config = alembic_config(url)
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


async def current(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    finally:
        await engine.dispose()


def _current(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
