"""The node registry (ADM-25, ADM-28): each node records itself and beats a heartbeat, so any
node can tell the console which nodes exist, what they listen on, and whether they are up."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Base, Database

HEARTBEAT_SECONDS = 10
STALE_AFTER = timedelta(seconds=3 * HEARTBEAT_SECONDS)


class NodeState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    UNREACHABLE = "unreachable"  # no heartbeat lately: crashed, or cut off


class NodeRecord(Base):
    __tablename__ = "nodes"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    version: Mapped[str] = mapped_column(String(32))
    ports: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]


class NodeStatus(BaseModel):
    name: str
    host: str
    pid: int
    version: str
    ports: dict[str, Any]
    state: NodeState
    started_at: datetime
    heartbeat_at: datetime


class NodeRegistry:
    def __init__(self, db: Database, clock: Clock, name: str, version: str) -> None:
        self._db = db
        self._clock = clock
        self.name = name
        self._version = version
        self._ports: dict[str, Any] = {}
        self._started: datetime | None = None
        self._announced = False
        self._previous_heartbeat: datetime | None = None

    async def announce(self, ports: dict[str, Any], state: NodeState) -> None:
        now = self._clock.now()
        self._ports = ports
        self._started = self._started or now
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            row = await session.get(NodeRecord, self.name)
            if row is None:
                row = NodeRecord(name=self.name)
                session.add(row)
            elif not self._announced:
                self._previous_heartbeat = row.heartbeat_at
            self._announced = True
            row.host, row.pid, row.version = socket.gethostname(), os.getpid(), self._version
            row.ports, row.state = ports, state.value
            row.started_at, row.heartbeat_at = self._started, now

    async def previous_heartbeat(self) -> datetime | None:
        """The last heartbeat of this node's previous run, if it ran before: a node that died and
        starts again uses it as the end time of what it left unfinished (its live calls). Read
        at the first announce, before that overwrites it."""
        if self._announced:
            return self._previous_heartbeat
        async with self._db.session(PLATFORM) as session:
            row = await session.get(NodeRecord, self.name)
            return row.heartbeat_at if row is not None else None

    async def heartbeat(self) -> None:
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            row = await session.get(NodeRecord, self.name)
            if row is not None:
                row.heartbeat_at = self._clock.now()

    async def set_state(self, state: NodeState) -> None:
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            row = await session.get(NodeRecord, self.name)
            if row is not None:
                row.state, row.heartbeat_at = state.value, self._clock.now()

    async def all(self) -> list[NodeStatus]:
        now = self._clock.now()
        async with self._db.session(PLATFORM) as session:
            rows = (await session.scalars(select(NodeRecord).order_by(NodeRecord.name))).all()
        statuses = []
        for row in rows:
            state = NodeState(row.state)
            if (
                state in (NodeState.RUNNING, NodeState.STARTING)
                and now - row.heartbeat_at > STALE_AFTER
            ):
                state = NodeState.UNREACHABLE
            statuses.append(
                NodeStatus(
                    name=row.name,
                    host=row.host,
                    pid=row.pid,
                    version=row.version,
                    ports=row.ports,
                    state=state,
                    started_at=row.started_at,
                    heartbeat_at=row.heartbeat_at,
                )
            )
        return statuses
