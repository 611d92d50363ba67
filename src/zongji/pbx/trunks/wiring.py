"""Builds the trunk service and its runtime for `build_pbx`."""

from __future__ import annotations

from zongji.audit.service import AuditLog
from zongji.directory.enterprises import EnterpriseService
from zongji.pbx.trunks.runtime import TrunkRuntime
from zongji.pbx.trunks.service import TrunkService
from zongji.platform.clock import Clock
from zongji.platform.db import Database
from zongji.platform.events import EventBus


def build_trunks(
    db: Database, bus: EventBus, clock: Clock, audit: AuditLog, enterprises: EnterpriseService
) -> tuple[TrunkService, TrunkRuntime]:
    service = TrunkService(db, bus, clock, audit, enterprises)
    return service, TrunkRuntime(service, bus, clock)
