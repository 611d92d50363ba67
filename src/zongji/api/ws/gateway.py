"""The real-time channel's core: events after commit → numbered, kept for a while, and fanned
out to the connections whose audience they match (docs/api/ws.md).

One `Gateway` per node. It hears every client-visible event on the bus (with the Redis bus, the
other nodes' too) and gives each the node's next **cursor**; the message it sends is encoded once
and shared by every connection and the replay buffer. The buffer keeps the last
`ws.replay_events` messages, none older than `ws.replay_seconds`, so a client that reconnects with
its last cursor gets exactly what it missed; past that, or on another node or after a restart
(another `epoch`), it is told to `reset` and fetch its lists again.

Each connection has a bounded queue. Handing it a message never waits: a connection whose queue
is full is cut off (close 4429) and leaves the fan-out at once, so one slow client can never make
the node hold more than `ws.send_queue` messages for it, nor delay anyone else.

All of this runs on the event loop without awaiting, so "assign a cursor, keep it, fan it out"
and "replay from a cursor, then join the fan-out" are atomic with respect to each other: a
resuming client sees every event after its cursor exactly once.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import secrets
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from zongji.api.ws.audience import CLIENT_EVENTS, Keys, audience_of, keys_of
from zongji.directory.events import DirectoryChanged, EnterpriseCancelled, EnterpriseSuspended
from zongji.identity.events import DeviceDeregistered, SessionsEnded
from zongji.identity.models import SubjectKind
from zongji.identity.principal import Principal
from zongji.platform.clock import Clock
from zongji.platform.config import WebSocketSettings
from zongji.platform.errors import Problem
from zongji.platform.event_wire import to_wire
from zongji.platform.events import Event, EventBus

log = logging.getLogger(__name__)

# Close codes (docs/api/ws.md): 4000 + the HTTP status the same failure has in the API.
BAD_MESSAGE = 4400
UNAUTHENTICATED = 4401
FORBIDDEN = 4403
HEARTBEAT_TIMEOUT = 4408
SLOW_CONSUMER = 4429
GOING_AWAY = 1001

RECHECKS_AT_ONCE = 8  # sessions re-read together after an enterprise is suspended, say


class Sessions(Protocol):
    """What the gateway needs of identity (`IdentityService`)."""

    async def authenticate(self, token: str) -> Principal: ...

    async def reauthenticate(self, principal: Principal) -> Principal: ...


@dataclass(frozen=True)
class Close:
    """Why a connection ends: its close code and reason (a stable code, as in the API)."""

    code: int
    reason: str

    @classmethod
    def of(cls, problem: Problem) -> Close:
        """An authentication problem as a close: 4401 for 401, 4403 for 403 (and the rest)."""
        return cls(UNAUTHENTICATED if problem.status == 401 else FORBIDDEN, problem.code)


@dataclass(frozen=True)
class _Entry:
    cursor: int
    keys: Keys
    text: str
    at: float  # clock.monotonic() when it was numbered


def _message(**fields: Any) -> str:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


class Connection:
    """One WebSocket's place in the gateway: who it is, what it hears, what waits to be sent,
    and (once decided) why it must close."""

    def __init__(self, gateway: Gateway, principal: Principal, capacity: int) -> None:
        self.gateway = gateway
        self.principal = principal
        self.keys = keys_of(principal)
        self.outbox: asyncio.Queue[str] = asyncio.Queue(capacity)
        self.closing: asyncio.Future[Close] = asyncio.get_running_loop().create_future()

    def offer(self, text: str) -> None:
        """Queue `text`, never waiting; a full queue cuts the connection off (4429)."""
        if self.closing.done():
            return
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            self.gateway.slow_cut_offs += 1
            log.warning(
                "websocket client too slow; cut off",
                extra={"subject": str(self.principal.subject_id), "queued": self.outbox.qsize()},
            )
            self.close(Close(SLOW_CONSUMER, "slow_consumer"))

    def close(self, why: Close) -> None:
        """Decide that this connection ends (the first reason wins); it hears nothing more."""
        self.gateway.leave(self)
        if not self.closing.done():
            self.closing.set_result(why)
            self.gateway.closes[why.reason] += 1
        # What is queued will not be sent: let it go now, not when the socket is gone.
        while not self.outbox.empty():
            self.outbox.get_nowait()

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.principal.tenant_id


class Gateway:
    def __init__(self, settings: WebSocketSettings, clock: Clock, sessions: Sessions) -> None:
        self.settings = settings
        self.clock = clock
        self.sessions = sessions
        self.epoch = secrets.token_hex(8)  # this node process's cursor numbering
        self.head = 0  # the cursor of the last event numbered
        self._buffer: collections.deque[_Entry] = collections.deque()
        self._dropped = 0  # every cursor up to this one has left the buffer
        self._by_key: dict[str, set[Connection]] = {}
        self._connections: set[Connection] = set()
        self._rechecks: set[asyncio.Task[None]] = set()
        self.serving: set[asyncio.Task[Any]] = set()  # the endpoint's handlers (endpoint.py)
        self._recheck_slots = asyncio.Semaphore(RECHECKS_AT_ONCE)
        # figures for /metrics (collector.py)
        self.accepted = 0
        self.sent = 0
        self.slow_cut_offs = 0
        self.resumes: collections.Counter[str] = collections.Counter()
        self.closes: collections.Counter[str] = collections.Counter()

    def subscribe_to(self, bus: EventBus) -> None:
        bus.subscribe(CLIENT_EVENTS, self.on_event)
        bus.subscribe((SessionsEnded, DeviceDeregistered), self.on_session_ended)
        bus.subscribe((EnterpriseSuspended, EnterpriseCancelled), self.on_enterprise_stopped)
        bus.subscribe(DirectoryChanged, self.on_directory_changed)

    # -- events in ----------------------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        self.publish(event)

    def publish(self, event: Event) -> None:
        """Number `event`, keep it for replay and hand it to every connection that sees it."""
        keys = audience_of(event)
        if not keys:
            return
        self.head += 1
        text = _message(cursor=self.head, **to_wire(event))
        self._buffer.append(_Entry(self.head, keys, text, self.clock.monotonic()))
        self._trim()
        for connection in self._audience(keys):
            connection.offer(text)

    def _audience(self, keys: Keys) -> set[Connection]:
        found: set[Connection] = set()
        for key in keys:
            found.update(self._by_key.get(key, ()))
        return found

    def _trim(self) -> None:
        limit = self.settings.replay_events
        oldest = self.clock.monotonic() - self.settings.replay_seconds
        buffer = self._buffer
        while buffer and (len(buffer) > limit or buffer[0].at < oldest):
            self._dropped = buffer.popleft().cursor

    # -- connections --------------------------------------------------------------------------

    def join(self, principal: Principal, *, epoch: str | None, cursor: int | None) -> Connection:
        """A new connection, with its first messages queued: `hello`, then either what it missed
        since `cursor` (same epoch, still in the buffer) or a `reset`. From the moment this
        returns it receives every new event it sees, after those, with no gap."""
        connection = Connection(self, principal, self.settings.send_queue)
        self._trim()
        missed: list[str] | None = None
        reason = None
        if cursor is not None:
            if epoch != self.epoch:
                reason = "other_epoch"
            elif cursor < self._dropped:
                reason = "cursor_too_old"
            elif cursor > self.head:
                reason = "cursor_unknown"
            else:
                missed = [e.text for e in self._since(cursor) if e.keys & connection.keys]
                if len(missed) > self.settings.send_queue - 2:
                    missed, reason = None, "too_many_missed"
        start = cursor if missed is not None else self.head
        connection.offer(
            _message(
                type="hello",
                epoch=self.epoch,
                cursor=start,
                heartbeat=self.settings.heartbeat_interval,
                timeout=self.settings.heartbeat_timeout,
            )
        )
        if missed is not None:
            self.resumes["resumed"] += 1
            for text in missed:
                connection.offer(text)
        elif reason is not None:
            self.resumes[reason] += 1
            connection.offer(_message(type="reset", cursor=self.head, reason=reason))
        self.accepted += 1
        self._connections.add(connection)
        for key in connection.keys:
            self._by_key.setdefault(key, set()).add(connection)
        return connection

    def _since(self, cursor: int) -> Iterator[_Entry]:
        """The buffered entries after `cursor` (the buffer holds consecutive cursors)."""
        if not self._buffer:
            return iter(())
        start = max(0, cursor + 1 - self._buffer[0].cursor)
        return itertools.islice(self._buffer, start, None)

    def leave(self, connection: Connection) -> None:
        if connection not in self._connections:
            return
        self._connections.discard(connection)
        for key in connection.keys:
            members = self._by_key.get(key)
            if members is not None:
                members.discard(connection)
                if not members:
                    del self._by_key[key]

    def ping(self, connection: Connection) -> None:
        """The heartbeat: `ping` with the head cursor (everything this connection sees up to it
        was queued before it), which a client keeps as its cursor, so an idle client's cursor
        does not fall out of the buffer."""
        connection.offer(_message(type="ping", cursor=self.head))

    @property
    def connections(self) -> int:
        return len(self._connections)

    @property
    def queued(self) -> int:
        return sum(c.outbox.qsize() for c in self._connections)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    async def close(self) -> None:
        """Node stopping: every connection is closed with 1001 (going away), and this returns
        when their handlers have ended (or a little after the close grace)."""
        for connection in list(self._connections):
            connection.close(Close(GOING_AWAY, "node_stopping"))
        rechecks = list(self._rechecks)
        for task in rechecks:
            task.cancel()
        await asyncio.gather(*rechecks, return_exceptions=True)
        if self.serving:
            await asyncio.wait(list(self.serving), timeout=self.settings.close_grace + 1.0)

    # -- sessions: cut off what may no longer listen ------------------------------------------

    async def recheck(self, connection: Connection) -> None:
        """Re-read the connection's session and subject (logout, suspension, removed account,
        enterprise stopped); close it with the problem's code if it no longer stands."""
        async with self._recheck_slots:
            if connection.closing.done():
                return
            try:
                await self.sessions.reauthenticate(connection.principal)
            except Problem as problem:
                connection.close(Close.of(problem))
            except Exception:  # the database away for a moment: the next check tries again
                log.warning("websocket session check failed", exc_info=True)

    def _recheck_soon(self, connections: Iterable[Connection]) -> None:
        for connection in connections:
            task = asyncio.create_task(self.recheck(connection))
            self._rechecks.add(task)
            task.add_done_callback(self._rechecks.discard)

    async def on_session_ended(self, event: SessionsEnded | DeviceDeregistered) -> None:
        why = Close(UNAUTHENTICATED, "session_ended")
        if isinstance(event, SessionsEnded):
            ended = set(event.session_ids)
            hit = [c for c in self._connections if c.principal.session_id in ended]
            if event.reason == "user_suspended":  # as the API answers them from now on
                why = Close(FORBIDDEN, "user_suspended")
        else:
            hit = [c for c in self._connections if c.principal.device_id == event.device_id]
        for connection in hit:
            connection.close(why)

    async def on_enterprise_stopped(self, event: EnterpriseSuspended | EnterpriseCancelled) -> None:
        self._recheck_soon(c for c in list(self._connections) if c.tenant_id == event.tenant_id)

    async def on_directory_changed(self, event: DirectoryChanged) -> None:
        """A user suspended, removed or changed: their connections re-read their session."""
        users = set(event.users)
        self._recheck_soon(
            c
            for c in list(self._connections)
            if c.tenant_id == event.tenant_id
            and c.principal.kind is SubjectKind.USER
            and (event.truncated or c.principal.subject_id in users)
        )
