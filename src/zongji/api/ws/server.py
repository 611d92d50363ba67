"""How uvicorn serves the node's WebSockets (`node.py` passes `uvicorn_options` to its Config).

uvicorn's sans-I/O WebSocket protocol (on the `websockets` library), with one addition: an
ASGI scope extension, `zongji.abort`, through which the gateway drops a connection outright. A
client that stopped reading fills its TCP window, after which uvicorn can write nothing more to
it — not even the close frame, which would wait for ever; the gateway waits `ws.close_grace`
for the close to go out, then aborts (endpoint.py). Without this the stalled connection would
stay open, holding its buffers, until the client's machine gave up.

Also: no protocol-level pings (the gateway's own `ping`/`pong` is the heartbeat: a browser can
neither see nor send protocol pings, so it could not tell a dead server from a quiet one), no
per-message compression (each message would be compressed once per connection, on a node that
also carries calls), and a bound on what a client may send.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from zongji.api.ws.endpoint import ABORT_EXTENSION
from zongji.platform.config import WebSocketSettings


class GatewayWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # only set when the handshake is going ahead
        if scope is not None:
            extensions = scope.get("extensions")
            if extensions is not None:
                extensions[ABORT_EXTENSION] = {"abort": self._abort}

    def _abort(self) -> None:
        if not self.transport.is_closing():
            self.transport.abort()


def uvicorn_options(settings: WebSocketSettings) -> dict[str, Any]:
    return {
        "ws": GatewayWebSocketProtocol,
        "ws_ping_interval": None,
        "ws_per_message_deflate": False,
        "ws_max_size": settings.max_message_bytes,
    }
