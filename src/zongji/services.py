"""The composition of one node's services: built once, shared by the HTTP API, the CLI and jobs.

This is the only place that knows every context; each context sees only the interfaces it is given.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from zongji import __version__
from zongji.api.ws.collector import GatewayCollector
from zongji.api.ws.gateway import Gateway
from zongji.audit.service import AuditLog
from zongji.directory.services import DirectoryDependencies, DirectoryServices, build_directory
from zongji.identity.service import IdentityService
from zongji.identity.tokens import TokenSigner
from zongji.pbx.calls.admission import AdmissionCollector
from zongji.pbx.policy.places import table as place_table
from zongji.pbx.services import PbxDependencies, PbxServices, build_pbx
from zongji.platform.clock import Clock, SystemClock
from zongji.platform.config import Settings
from zongji.platform.db import Database
from zongji.platform.events import EventBus, InProcessBus
from zongji.platform.files import FileStorage, LocalFileStorage
from zongji.platform.jobs import JobRunner
from zongji.platform.metrics import Metrics
from zongji.platform.nodes import NodeRegistry
from zongji.platform.ratelimit import RateLimiter
from zongji.platform.sms import (
    BodySeal,
    HttpSmsGateway,
    OutboxGateway,
    SmppGateway,
    SmppLink,
    SmsGateway,
)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    bus: EventBus
    metrics: Metrics
    limiter: RateLimiter
    audit: AuditLog
    outbox: OutboxGateway
    sms: SmsGateway
    files: FileStorage
    directory: DirectoryServices
    identity: IdentityService
    nodes: NodeRegistry
    jobs: JobRunner
    pbx: PbxServices
    gateway: Gateway  # the WebSocket channel's fan-out and replay buffer (api/ws)

    async def start(self) -> None:
        """What must be running before the node serves: the bus's subscription to the other
        nodes' events (a Redis bus; the in-process bus has nothing to start), and the policy's
        table of China's number places (built on a fresh machine: seconds, kept off the loop)."""
        await asyncio.to_thread(place_table)
        await self.bus.start()

    async def close(self) -> None:
        await self.gateway.close()
        await self.jobs.stop()
        await self.pbx.registrar.close()
        await self.pbx.records.drain()
        await self.pbx.policy.billing.drain()
        await self.bus.drain()
        await self.directory.search.drain()
        if isinstance(self.sms, HttpSmsGateway):
            await self.sms.close()
        if isinstance(self.sms, SmppGateway):
            await self.sms.stop()
        await self.bus.close()  # last: whatever closed above may still publish
        await self.db.dispose()


def build_bus(settings: Settings) -> EventBus:
    """The Redis bus when `redis_url` is set (several nodes), else the in-process bus. Nothing
    connects here: `Services.start` subscribes, `Services.close` disconnects."""
    if settings.redis_url:
        from zongji.platform.redis_bus import RedisBus  # the redis client only where it is used

        return RedisBus(settings.redis_url, channel=settings.redis_channel)
    return InProcessBus()


def build_services(
    settings: Settings, *, clock: Clock | None = None, sms: SmsGateway | None = None
) -> Services:
    clock = clock or SystemClock()
    db = Database(settings.effective_database_url)
    bus = build_bus(settings)
    metrics = Metrics()
    limiter = RateLimiter(clock)
    audit = AuditLog(db, clock)
    secret = settings.effective_secret_key()
    # The outbox shows login codes only in the demo, where it stands in for the users' phones.
    outbox = OutboxGateway(db, clock, echo=settings.demo, reveal_secrets=settings.demo)
    if sms is None:
        sms = _sms_gateway(settings, db, clock, secret, outbox)
    files = LocalFileStorage(settings.data_dir / "files")
    directory = build_directory(
        DirectoryDependencies(
            db,
            bus,
            clock,
            audit,
            files,
            sms,
            limiter,
            settings.sip_domain_suffix,
            settings.client_url,
            settings.sms.signature,
        )
    )
    identity = IdentityService(
        db,
        bus,
        clock,
        audit,
        directory.enterprises,
        directory.users,
        sms,
        limiter,
        TokenSigner(secret, settings.access_token_ttl),
        secret,
        settings.refresh_token_ttl,
        settings.sms.signature,
    )
    directory.enterprises.admins = identity
    nodes = NodeRegistry(db, clock, settings.node_name, __version__)
    jobs = JobRunner(metrics)
    jobs.every("node-heartbeat", 10, nodes.heartbeat)
    jobs.every("identity-purge", 3600, identity.purge_expired)
    pbx = build_pbx(
        PbxDependencies(
            settings,
            clock,
            db,
            bus,
            audit,
            files,
            directory.enterprises,
            directory.users,
            directory.numbers,
            nodes=nodes,
        )
    )
    jobs.every("pbx-registrar", 15, pbx.registrar.housekeeping)
    metrics.registry.register(AdmissionCollector(pbx.admission))  # overload control's figures
    gateway = Gateway(settings.ws, clock, identity)
    gateway.subscribe_to(bus)
    metrics.registry.register(GatewayCollector(gateway))
    return Services(
        settings=settings,
        clock=clock,
        db=db,
        bus=bus,
        metrics=metrics,
        limiter=limiter,
        audit=audit,
        outbox=outbox,
        sms=sms,
        files=files,
        directory=directory,
        identity=identity,
        nodes=nodes,
        jobs=jobs,
        pbx=pbx,
        gateway=gateway,
    )


def _sms_gateway(
    settings: Settings, db: Database, clock: Clock, secret: bytes, outbox: OutboxGateway
) -> SmsGateway:
    conf = settings.sms
    if conf.gateway == "http":
        return HttpSmsGateway(
            conf.http_url,
            conf.http_token.get_secret_value(),
            conf.signature,
            timeout=conf.http_timeout,
        )
    if conf.gateway == "smpp":
        link = SmppLink(
            host=conf.smpp_host,
            port=conf.smpp_port,
            system_id=conf.smpp_system_id,
            password=conf.smpp_password.get_secret_value(),
            system_type=conf.smpp_system_type,
            source_addr=conf.smpp_source_addr,
            tls=conf.smpp_tls,
            submit_timeout=conf.smpp_submit_timeout,
            retry_initial=conf.smpp_retry_initial,
            retry_max=conf.smpp_retry_max,
            max_attempts=conf.smpp_max_attempts,
        )
        return SmppGateway(db, clock, BodySeal(secret), link)
    return outbox
