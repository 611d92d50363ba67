"""Alembic environment: runs on a connection handed over by `zongji.platform.migrate`, or on its
own engine when a developer runs `alembic` (e.g. to autogenerate a revision)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from zongji.models import metadata
from zongji.platform.db import create_engine

config = context.config


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_own_engine() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as conn:
        await conn.run_sync(run_on)
        await conn.commit()
    await engine.dispose()


given = config.attributes.get("connection")
if given is not None:
    run_on(given)
else:
    asyncio.run(run_own_engine())
