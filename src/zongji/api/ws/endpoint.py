"""`/api/v1/ws`: one WebSocket per device for the events it may see (docs/api/ws.md).

The access token travels in `Sec-WebSocket-Protocol` — a browser offers
`["zongji.v1", "bearer.<access token>"]` and the server answers `zongji.v1` — or, for clients
that can set headers, in `Authorization: Bearer`. Not in the URL: addresses end up in access
logs, proxies and browser history, and a browser's WebSocket cannot send an Authorization
header. The handshake is always accepted, so that a refusal reaches the client as a close code
and reason it can act on (4401 `token_expired`: refresh and reconnect; 4403
`enterprise_suspended`: tell the person), where a refused handshake is only a 1006 in a browser.

Per connection three tasks: the sender (queue → socket), the receiver (the client's `pong`s;
anything else closes 4400) and the keeper (`ping` every `ws.heartbeat_interval`, close 4408 after
`ws.heartbeat_timeout` without a word from the client, and the session re-read every
`ws.recheck_interval`). The connection ends when the client goes, or when the gateway decides it
must (slow consumer, session ended, node stopping): then the close frame is sent if it can be
within `ws.close_grace`, else the TCP connection is dropped (a client that stopped reading has
a full pipe, and its close would wait for ever).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from zongji.api.ws.gateway import (
    BAD_MESSAGE,
    HEARTBEAT_TIMEOUT,
    Close,
    Connection,
    Gateway,
)
from zongji.identity.principal import Principal
from zongji.platform.errors import Problem, unauthenticated

log = logging.getLogger(__name__)

router = APIRouter()

PROTOCOL = "zongji.v1"
BEARER = "bearer."
ABORT_EXTENSION = "zongji.abort"  # api/ws/server.py: the server's way to drop a connection
_EVENT = '{"cursor":'  # how every event message starts (control messages start with "type")
_EPOCH = re.compile(r"[0-9a-f]{1,64}")
_CURSOR = re.compile(r"[0-9]{1,18}")


@router.websocket("/api/v1/ws")
async def events_socket(websocket: WebSocket) -> None:
    gateway: Gateway = websocket.app.state.services.gateway
    protocols = list(websocket.scope.get("subprotocols") or [])
    principal: Principal | None
    why: Close | None
    try:
        principal, why = await gateway.sessions.authenticate(_token(websocket, protocols)), None
    except Problem as problem:
        principal, why = None, Close.of(problem)
    await websocket.accept(subprotocol=PROTOCOL if PROTOCOL in protocols else None)
    resume = _resume(websocket)
    if principal is None or resume is None:
        why = why or Close(BAD_MESSAGE, "invalid_cursor")
        gateway.closes[why.reason] += 1
        await _close(websocket, why, gateway.settings.close_grace)
        return
    epoch, cursor = resume
    connection = gateway.join(principal, epoch=epoch, cursor=cursor)
    handler = asyncio.current_task()
    assert handler is not None
    gateway.serving.add(handler)
    try:
        await _serve(websocket, connection)
    finally:
        gateway.leave(connection)
        gateway.serving.discard(handler)


def _token(websocket: WebSocket, protocols: list[str]) -> str:
    for offered in protocols:
        if offered.startswith(BEARER) and len(offered) > len(BEARER):
            return offered[len(BEARER) :]
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    raise unauthenticated()


def _resume(websocket: WebSocket) -> tuple[str | None, int | None] | None:
    """`?epoch=E&cursor=N` of a reconnecting client: (None, None) for a fresh one, None if
    malformed."""
    epoch = websocket.query_params.get("epoch")
    cursor = websocket.query_params.get("cursor")
    if cursor is None:
        return (None, None) if epoch is None or _EPOCH.fullmatch(epoch) else None
    if not _CURSOR.fullmatch(cursor) or (epoch is not None and not _EPOCH.fullmatch(epoch)):
        return None
    return epoch, int(cursor)


async def _serve(websocket: WebSocket, connection: Connection) -> None:
    gateway = connection.gateway
    loop = asyncio.get_running_loop()
    heard = [loop.time()]  # when the client last said anything
    tasks = [
        asyncio.create_task(_send(websocket, connection)),
        asyncio.create_task(_receive(websocket, connection, heard)),
        asyncio.create_task(_keep(connection, heard)),
    ]
    waiting: list[asyncio.Future[Any]] = [*tasks, connection.closing]
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if connection.closing.done():
        await _close(websocket, connection.closing.result(), gateway.settings.close_grace)
    else:  # the client went (or its socket broke)
        connection.close(Close(1000, "client_closed"))


async def _send(websocket: WebSocket, connection: Connection) -> None:
    gateway = connection.gateway
    try:
        while True:
            text = await connection.outbox.get()
            await websocket.send_text(text)
            if text.startswith(_EVENT):
                gateway.sent += 1
    except (WebSocketDisconnect, OSError, RuntimeError):
        return  # gone: the receiver hears the disconnect


async def _receive(websocket: WebSocket, connection: Connection, heard: list[float]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        heard[0] = loop.time()
        if _client_message(message) != "pong":
            connection.close(Close(BAD_MESSAGE, "bad_message"))
            return


def _client_message(message: Mapping[str, Any]) -> str | None:
    """The type of a client's message; None if it is not one (the protocol's only client
    message today is `{"type": "pong"}`)."""
    text = message.get("text")
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


async def _keep(connection: Connection, heard: list[float]) -> None:
    gateway, settings = connection.gateway, connection.gateway.settings
    loop = asyncio.get_running_loop()
    now = loop.time()
    next_ping, next_recheck = now + settings.heartbeat_interval, now + settings.recheck_interval
    while True:
        wake = min(next_ping, next_recheck, heard[0] + settings.heartbeat_timeout)
        await asyncio.sleep(max(0.0, wake - loop.time()))
        now = loop.time()
        if now >= heard[0] + settings.heartbeat_timeout:
            connection.close(Close(HEARTBEAT_TIMEOUT, "heartbeat_timeout"))
            return
        if now >= next_ping:
            gateway.ping(connection)
            next_ping = now + settings.heartbeat_interval
        if now >= next_recheck:
            await gateway.recheck(connection)
            next_recheck = loop.time() + settings.recheck_interval


async def _close(websocket: WebSocket, why: Close, grace: float) -> None:
    """Send the close frame; a client that cannot take it within `grace` (its pipe is full) is
    dropped."""
    try:
        await asyncio.wait_for(websocket.close(why.code, why.reason), grace)
    except TimeoutError:
        abort = (websocket.scope.get("extensions") or {}).get(ABORT_EXTENSION)
        if abort is not None:
            abort["abort"]()
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass  # already gone
