"""Trunks at run time: registration, OPTIONS keep-alive, health, and the ways out for a call.

`TrunkRuntime` implements the `Trunks` contract the call engine uses. It holds every trunk's
settings and health in memory (a call asks it nothing that needs the database) and keeps them
current: the node's SIP component starts it with the node's `UserAgent`, and each operator change
(the `TrunkChanged` event, or a direct `reload()`) restarts only what changed.

For each enabled trunk, on this node:
- a registration trunk keeps a binding at the carrier (`ua.registration`), refreshed at half
  the granted expiry; a REGISTER that fails or goes unanswered takes the trunk down until one
  succeeds (retried every `register_retry` seconds);
- every `options_interval` seconds an OPTIONS goes to the carrier; `failures_to_down` in a row
  without an answer (or answered 5xx) take the trunk out, the first answer brings it back;
- the call engine reports a failed attempt with `failed()`: out for `hold_down` seconds.

`dials()` lists the trunks that serve the enterprise, usable ones first in priority order, then
those not yet checked, then those down (a last resort rather than no call at all). Numbers are
written in the trunk's format; caller ID goes in From and P-Asserted-Identity (RFC 3325).

`inbound_trunk()` says whether a request came from a trunk, by its source: the addresses, blocks
or address:port the operator listed, else (and always for registration trunks) the carrier's
host and port. Only such a request is an outside call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import socket
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from zongji.pbx.contracts import TenantLine, TrunkDial
from zongji.pbx.dialling import national_form
from zongji.pbx.events import TrunkChanged
from zongji.pbx.trunks.config import IpAddress, Source, TrunkConfig
from zongji.pbx.trunks.health import TrunkHealth, TrunkState
from zongji.pbx.trunks.models import NumberFormat
from zongji.pbx.trunks.schemas import TrunkHealthOut
from zongji.pbx.trunks.service import TrunkService
from zongji.platform.clock import Clock
from zongji.platform.events import EventBus
from zongji.sip import (
    Credentials,
    Destination,
    Flow,
    Registration,
    SipError,
    Transport,
    TransportKind,
    UserAgent,
    parse_uri,
)

log = logging.getLogger(__name__)


class _Worker:
    """One enabled trunk's registration and keep-alive tasks on one user agent."""

    def __init__(self, runtime: TrunkRuntime, config: TrunkConfig, health: TrunkHealth) -> None:
        self.runtime = runtime
        self.config = config
        self.health = health
        self.registration: Registration | None = None
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, ua: UserAgent) -> None:
        transport = self.runtime.transport_for(ua, self.config)
        if transport is None:
            self.health.no_transport = True
            log.warning("trunk %s: we do not listen on %s", self.config.name, self.config.transport)
            return
        if self.config.registers:
            self.registration = ua.registration(
                f"sip:{self.config.domain}",
                f"sip:{self.config.username}@{self.config.domain}",
                contact=ua.contact_for(transport),
                credentials=self.runtime.credentials(self.config),
                expires=self.config.register_expires,
                destination=None,
            )
            self.tasks.append(asyncio.create_task(self._keep_registered(ua)))
        if self.config.options_interval:
            self.tasks.append(asyncio.create_task(self._keep_alive(ua)))

    def _target(self) -> str:
        return f"sip:{self.config.uri_host}{self.config.uri_params}"

    async def _keep_registered(self, ua: UserAgent) -> None:
        registration = self.registration
        assert registration is not None
        runtime = self.runtime
        registration.destination = await self._destination(ua)
        while True:
            delay = runtime.register_retry
            try:
                if registration.destination is None:
                    registration.destination = await self._destination(ua)
                response = await asyncio.wait_for(registration.register(), runtime.sip_timeout)
            except (TimeoutError, SipError, OSError) as error:
                with self._noting():
                    self.health.registration_lost(runtime.now(), f"REGISTER: {_why(error)}")
            else:
                with self._noting():
                    if response.success and registration.granted:
                        self.health.registration_succeeded(runtime.now())
                        delay = max(1.0, registration.granted * runtime.refresh_margin)
                    else:
                        self.health.registration_lost(
                            runtime.now(), f"REGISTER: {response.status} {response.reason}"
                        )
            await asyncio.sleep(delay)

    @contextlib.contextmanager
    def _noting(self) -> Iterator[None]:
        """Log the trunk going down or coming back (what an operator looks for in the logs)."""
        now = self.runtime.clock_monotonic()
        before, _ = self.health.state(now)
        yield
        after, reason = self.health.state(now)
        if after is before:
            return
        if after is TrunkState.DOWN:
            log.warning(
                "trunk %s is down (%s): %s", self.config.name, reason, self.health.last_error
            )
        else:
            log.info("trunk %s is %s", self.config.name, after.value)

    async def _destination(self, ua: UserAgent) -> Destination | None:
        """The carrier's resolved address for REGISTER (its Request-URI is the domain)."""
        try:
            return await ua.resolver.resolve(parse_uri(self._target()))
        except SipError as error:
            log.warning("trunk %s: %s", self.config.name, error)
            return None

    async def _keep_alive(self, ua: UserAgent) -> None:
        runtime = self.runtime
        while True:
            try:
                response = await asyncio.wait_for(ua.options(self._target()), runtime.sip_timeout)
            except (TimeoutError, SipError, OSError) as error:
                why = f"OPTIONS: {_why(error)}"
            else:
                why = ""
                if 500 <= response.status < 600:
                    why = f"OPTIONS: {response.status} {response.reason}"
            with self._noting():
                if why:
                    self.health.keepalive_failed(runtime.now(), why, runtime.failures_to_down)
                else:
                    self.health.keepalive_answered(runtime.now())
            await asyncio.sleep(self.config.options_interval)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
        registration = self.registration
        if registration is not None and registration.registered:
            with contextlib.suppress(TimeoutError, SipError, OSError):
                await asyncio.wait_for(registration.register(0), self.runtime.unregister_timeout)


class TrunkRuntime:
    """The `Trunks` contract, plus `start`/`stop` with the node and `reload` on changes."""

    def __init__(
        self,
        service: TrunkService,
        bus: EventBus,
        clock: Clock,
        *,
        failures_to_down: int = 3,
        hold_down: float = 60.0,
        sip_timeout: float = 5.0,
        register_retry: float = 30.0,
        refresh_margin: float = 0.5,
        unregister_timeout: float = 2.0,
    ) -> None:
        self._service = service
        self._clock = clock
        self.failures_to_down = failures_to_down
        self.hold_down = hold_down
        self.sip_timeout = sip_timeout
        self.register_retry = register_retry
        self.refresh_margin = refresh_margin
        self.unregister_timeout = unregister_timeout
        self._ua: UserAgent | None = None
        self._configs: dict[uuid.UUID, TrunkConfig] = {}
        self._health: dict[uuid.UUID, TrunkHealth] = {}
        self._workers: dict[uuid.UUID, _Worker] = {}
        self._inbound: list[tuple[uuid.UUID, Source]] = []
        self._lock = asyncio.Lock()
        bus.subscribe(TrunkChanged, self._on_changed)

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._ua is not None

    async def start(self, ua: UserAgent) -> None:
        """Begin registering and checking trunks on `ua` (the node's user agent)."""
        self._ua = ua
        await self.reload()

    async def stop(self) -> None:
        """Stop every task and remove our registrations (best effort, bounded)."""
        async with self._lock:
            self._ua = None
            workers, self._workers = list(self._workers.values()), {}
            await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)

    async def _on_changed(self, event: TrunkChanged) -> None:
        if self.running:
            await self.reload()

    async def reload(self) -> None:
        """Read the trunks again; restart registration/keep-alive only where they changed."""
        async with self._lock:  # one at a time, each reading the latest settings
            configs = {c.id: c for c in await self._service.configs()}
            inbound = await _inbound_sources(configs.values())
            stale: list[_Worker] = []
            for trunk_id, old in list(self._configs.items()):
                new = configs.get(trunk_id)
                if new is None or not old.same_signalling(new):
                    worker = self._workers.pop(trunk_id, None)
                    if worker is not None:
                        stale.append(worker)
                    self._health.pop(trunk_id, None)
            await asyncio.gather(*(w.stop() for w in stale), return_exceptions=True)
            for trunk_id, config in configs.items():
                health = self._health.get(trunk_id)
                if health is None:
                    health = self._health[trunk_id] = TrunkHealth(config)
                else:
                    health.config = config
                worker = self._workers.get(trunk_id)
                if worker is not None:
                    worker.config = config
                elif self._ua is not None and config.enabled:
                    worker = self._workers[trunk_id] = _Worker(self, config, health)
                    worker.start(self._ua)
            self._configs = configs
            self._inbound = inbound

    # -- the Trunks contract -------------------------------------------------------------------

    def dials(self, tenant: TenantLine, number: str, caller_id: str) -> Sequence[TrunkDial]:
        now = self._clock.monotonic()
        usable = [c for c in self._configs.values() if c.enabled and c.serves(tenant.tenant_id)]
        usable.sort(key=lambda c: (self._health[c.id].rank(now), c.priority, c.name))
        return [self._dial(c, number, caller_id) for c in usable]

    def failed(self, trunk_id: uuid.UUID) -> None:
        health = self._health.get(trunk_id)
        if health is not None:
            health.call_failed(self._clock.monotonic(), self.hold_down)
            log.warning("trunk %s held down for %.0f s", health.config.name, self.hold_down)

    def inbound_trunk(self, flow: Flow) -> uuid.UUID | None:
        return self.trunk_at(flow.remote.host, flow.remote.port)

    def trunk_at(self, host: str, port: int) -> uuid.UUID | None:
        """The trunk whose requests come from `host`:`port`, if any (the guard's `trusted`:
        read at each request, so it follows every change of the trunks).

        Asked twice for every request from a device (the guard, then the engine): with no
        trunk taking calls in, nothing is parsed."""
        inbound = self._inbound
        if not inbound:
            return None
        address = _address_of(host)
        if address is None:
            return None
        for trunk_id, source in inbound:
            if source.matches(address, port):
                return trunk_id
        return None

    # -- for the API ---------------------------------------------------------------------------

    def health(self, trunk_id: uuid.UUID) -> TrunkHealthOut:
        health = self._health.get(trunk_id)
        if health is None or not self.running:
            return TrunkHealthOut(state=TrunkState.NOT_RUNNING.value)
        now = self._clock.monotonic()
        state, reason = health.state(now)
        held = health.held_until - now if health.held_until > now else None
        return TrunkHealthOut(
            state=state.value,
            reason=reason.value if reason else None,
            last_error=health.last_error,
            registered=health.registered,
            consecutive_failures=health.consecutive_failures,
            last_checked_at=health.last_checked_at,
            held_for_seconds=held,
        )

    # -- helpers -------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock.now()

    def clock_monotonic(self) -> float:
        return self._clock.monotonic()

    @staticmethod
    def transport_for(ua: UserAgent, config: TrunkConfig) -> Transport | None:
        return ua.transport.transport_for(TransportKind(config.transport.value.upper()))

    @staticmethod
    def credentials(config: TrunkConfig) -> Credentials | None:
        """Answer the carrier's challenges (whatever realm it names: the request only ever goes
        to this carrier)."""
        if not config.registers or not config.username or not config.password:
            return None
        return Credentials(config.username, config.password)

    def _dial(self, config: TrunkConfig, number: str, caller_id: str) -> TrunkDial:
        national = config.number_format is NumberFormat.NATIONAL
        domain = config.from_domain or config.realm or self._our_host(config)
        headers: list[tuple[str, str]] = []
        if caller_id:
            from_user = national_form(caller_id) if national else caller_id
            from_uri = f"sip:{from_user}@{domain}"
            headers.append(("P-Asserted-Identity", f"<sip:{caller_id}@{domain};user=phone>"))
        else:
            from_uri = "sip:anonymous@anonymous.invalid"
            headers.append(("Privacy", "id"))
        user = national_form(number) if national else number
        return TrunkDial(
            trunk_id=config.id,
            trunk_name=config.name,
            request_uri=f"sip:{user}@{config.uri_host}{config.uri_params}",
            from_uri=from_uri,
            headers=tuple(headers),
            credentials=self.credentials(config),
            destination=None,
        )

    def _our_host(self, config: TrunkConfig) -> str:
        ua = self._ua
        if ua is None or not ua.transport.transports:
            return config.host
        transport = self.transport_for(ua, config) or ua.transport.transports[0]
        uri = ua.contact_for(transport).uri
        host = getattr(uri, "host", None)
        return str(host) if host else config.host


def _why(error: BaseException) -> str:
    """A failure's text for the health view; a timeout's own text is empty."""
    if str(error):
        return str(error)
    return "no answer" if isinstance(error, TimeoutError) else type(error).__name__


async def _inbound_sources(configs: Iterable[TrunkConfig]) -> list[tuple[uuid.UUID, Source]]:
    """Every enabled trunk's inbound sources, most specific first: an address with its port,
    then single addresses, then wider blocks; among equals, by priority.

    A trunk's listed sources are what the operator said. Without a list (and always for a
    registration trunk, whose calls come from its registrar) the carrier's signalling host and
    port count: the port too, so that a phone on the same address (a carrier's NAT, or a test
    on loopback) is not taken for the carrier."""
    found: list[tuple[uuid.UUID, Source, TrunkConfig]] = []
    for config in configs:
        if not config.enabled:
            continue
        found.extend((config.id, source, config) for source in config.inbound_sources)
        if config.registers or not config.inbound_sources:
            for address in await _resolve(config):
                source = Source(ipaddress.ip_network(address), config.port)
                found.append((config.id, source, config))
    found.sort(
        key=lambda item: (
            item[1].port is None,
            -item[1].network.prefixlen,
            item[2].priority,
            item[2].name,
        )
    )
    return [(trunk_id, source) for trunk_id, source, _ in found]


async def _resolve(config: TrunkConfig) -> frozenset[IpAddress]:
    """The carrier host's addresses."""
    host = config.host.strip("[]")
    try:
        return frozenset({ipaddress.ip_address(host)})
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, config.port, type=socket.SOCK_DGRAM)
    except OSError as error:
        log.warning("trunk %s: cannot resolve %s: %s", config.name, host, error)
        return frozenset()
    found: set[IpAddress] = set()
    for info in infos:
        with contextlib.suppress(ValueError):
            found.add(ipaddress.ip_address(str(info[4][0]).split("%")[0]))
    return frozenset(found)


@functools.lru_cache(maxsize=4096)
def _address_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A request source's address, parsed once per source (a device sends many requests)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
