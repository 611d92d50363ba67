"""The composition root of a running node: one asyncio process serving HTTP, background jobs and
(from later work) SIP and media, started and stopped together.

SIGTERM or SIGINT stops the node gracefully: it reports itself as stopping, stops taking new
HTTP connections, lets requests in flight finish, stops its components and jobs, and closes the
database last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Any, Protocol

import uvicorn

from zongji.api.app import create_app
from zongji.api.ws.server import uvicorn_options
from zongji.platform import heap, migrate
from zongji.platform.config import Settings
from zongji.platform.nodes import NodeState
from zongji.platform.sms import SmppGateway
from zongji.services import Services, build_services

log = logging.getLogger(__name__)


class Component(Protocol):
    """Something the node starts and stops with itself: the SIP stack, the media engine …"""

    name: str

    async def start(self) -> dict[str, Any]:
        """Start serving; return the ports it listens on, for the node registry."""
        ...

    async def stop(self) -> None: ...


class _HttpServer(uvicorn.Server):
    """uvicorn without its own signal handling: the node owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Node:
    def __init__(self, settings: Settings, services: Services | None = None) -> None:
        self.settings = settings
        self.services = services or build_services(settings)
        self.app = create_app(self.services)
        self.components: list[Component] = []
        if settings.sip_enabled:
            from zongji.pbx.calls.component import PbxComponent, PbxComponentDeps

            pbx: Component = PbxComponent(
                PbxComponentDeps(self.services.settings, self.services.clock, self.services.pbx)
            )
            if settings.demo:
                from zongji.demo.carrier import DemoCarrierBeside

                pbx = DemoCarrierBeside(pbx, self.services)
            self.components.append(pbx)
        if isinstance(self.services.sms, SmppGateway):  # the carrier session and its queue
            self.components.append(self.services.sms)
        self.ports: dict[str, Any] = {}
        self._http: _HttpServer | None = None
        self._http_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        settings = self.settings
        if settings.migrate_on_start:
            await migrate.upgrade(settings.effective_database_url)
        await self.services.start()  # the bus hears other nodes before this node serves
        await self.services.nodes.announce({}, NodeState.STARTING)
        self.ports["http"] = await self._start_http()
        for component in self.components:
            self.ports[component.name] = await component.start()
        if settings.demo:
            from zongji.demo.enterprise import ensure_demo

            await ensure_demo(self.services, http_port=self.ports["http"], ports=self.ports)
        self.services.jobs.start()
        self.services.metrics.started.set_to_current_time()
        await self.services.nodes.announce(self.ports, NodeState.RUNNING)
        self.app.state.ready = True
        # Everything start-up made lives as long as the node: keep the collector off it.
        heap.settle_after_start()
        log.info("node started", extra={"node": settings.node_name, "ports": self.ports})

    async def _start_http(self) -> int:
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            **uvicorn_options(self.settings.ws),
        )
        self._http = _HttpServer(config)
        self._http_task = asyncio.create_task(self._http.serve(), name="http")
        while not self._http.started:
            if self._http_task.done():
                self._http_task.result()  # raises why it could not start (e.g. port in use)
                raise RuntimeError("HTTP server stopped during start-up")
            await asyncio.sleep(0.01)
        sockets = self._http.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.app.state.ready = False
        log.info("node stopping", extra={"node": self.settings.node_name})
        with contextlib.suppress(Exception):
            await self.services.nodes.set_state(NodeState.STOPPING)
        # WebSocket clients hear 1001 (going away) and reconnect elsewhere before HTTP stops.
        await self.services.gateway.close()
        if self._http is not None and self._http_task is not None:
            self._http.should_exit = True
            await self._http_task
        for component in reversed(self.components):
            try:
                await component.stop()
            except Exception:
                log.exception("component failed to stop", extra={"component": component.name})
        await self.services.jobs.stop()
        with contextlib.suppress(Exception):
            await self.services.nodes.set_state(NodeState.STOPPED)
        await self.services.close()
        self._stopped.set()

    async def run_until_signalled(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
