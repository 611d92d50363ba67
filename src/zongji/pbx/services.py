"""The PBX's services for one node, built once beside the other contexts' (`zongji.services`).

Each part of call control adds its service here; the SIP/media component (`calls/component.py`)
and the HTTP routes (`pbx/api.py`) reach them through this object.
"""

from __future__ import annotations

from dataclasses import dataclass

from zongji.audit.service import AuditLog
from zongji.directory.enterprises import EnterpriseService
from zongji.directory.numbers import NumberPool
from zongji.directory.users import DirectoryUsers
from zongji.pbx.records.service import CallRecordService
from zongji.pbx.voicemail.service import VoicemailService, build_voicemail
from zongji.platform.clock import Clock
from zongji.platform.config import Settings
from zongji.platform.db import Database
from zongji.platform.events import InProcessBus
from zongji.platform.files import FileStorage
from zongji.platform.nodes import NodeRegistry


@dataclass
class PbxServices:
    # fields are added by each part: view, credentials, location, guard (devices); trunks;
    # records; policy; voicemail
    records: CallRecordService
    voicemail: VoicemailService


@dataclass(frozen=True)
class PbxDependencies:
    """What the PBX is given from the rest of the node."""

    settings: Settings
    clock: Clock
    db: Database
    bus: InProcessBus
    audit: AuditLog
    files: FileStorage
    enterprises: EnterpriseService
    users: DirectoryUsers
    numbers: NumberPool
    nodes: NodeRegistry | None = None  # the node's registry: its last heartbeat (records)


def build_pbx(deps: PbxDependencies) -> PbxServices:
    return PbxServices(
        records=CallRecordService(
            deps.db, deps.bus, deps.clock, deps.settings.node_name, deps.nodes
        ),
        voicemail=build_voicemail(
            deps.db, deps.bus, deps.files, deps.clock, deps.settings.data_dir
        ),
    )
