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
from zongji.pbx.calls.admission import AdmissionLimits, CallAdmission
from zongji.pbx.dashboard.service import DashboardFigures
from zongji.pbx.devices.auth import DeviceAuthenticator
from zongji.pbx.devices.binding_store import BindingStore
from zongji.pbx.devices.credentials import DeviceCredentials
from zongji.pbx.devices.guard import AuthGuard
from zongji.pbx.devices.location import LocationService
from zongji.pbx.devices.registrar import Registrar
from zongji.pbx.devices.wiring import build_devices
from zongji.pbx.policy.service import PolicyService
from zongji.pbx.records.service import CallRecordService
from zongji.pbx.trunks.runtime import TrunkRuntime
from zongji.pbx.trunks.service import TrunkService
from zongji.pbx.trunks.wiring import build_trunks
from zongji.pbx.view import TelephonyDirectory
from zongji.pbx.voicemail.service import VoicemailService, build_voicemail
from zongji.platform.clock import Clock
from zongji.platform.config import Settings
from zongji.platform.db import Database
from zongji.platform.events import EventBus
from zongji.platform.files import FileStorage
from zongji.platform.nodes import NodeRegistry


@dataclass
class PbxServices:
    # fields are added by each part: view, credentials, location, guard (devices); trunks;
    # records; policy; voicemail; admission
    view: TelephonyDirectory
    credentials: DeviceCredentials
    location: LocationService
    guard: AuthGuard
    registrar: Registrar
    bindings: BindingStore  # the registrations' journal: restored when the node starts
    device_auth: DeviceAuthenticator
    records: CallRecordService
    voicemail: VoicemailService
    policy: PolicyService
    trunks: TrunkService
    trunk_runtime: TrunkRuntime
    numbers: NumberPool  # the directory's number pool: inbound calls route by called number
    admission: CallAdmission  # overload control: whether a new call is taken (calls/admission.py)
    dashboard: DashboardFigures  # the admin's first page, from records, devices and policy

    @property
    def flows(self) -> LocationService:
        """This node's registrations with their live flows (`flow_for`): the SIP side that sends
        to a binding asks it, where call control reads `location`."""
        return self.location


@dataclass(frozen=True)
class PbxDependencies:
    """What the PBX is given from the rest of the node."""

    settings: Settings
    clock: Clock
    db: Database
    bus: EventBus
    audit: AuditLog
    files: FileStorage
    enterprises: EnterpriseService
    users: DirectoryUsers
    numbers: NumberPool
    nodes: NodeRegistry | None = None  # the node's registry: its last heartbeat (records)


def build_pbx(deps: PbxDependencies) -> PbxServices:
    trunks, trunk_runtime = build_trunks(
        deps.db, deps.bus, deps.clock, deps.audit, deps.enterprises
    )
    devices = build_devices(
        deps.settings,
        deps.clock,
        deps.db,
        deps.bus,
        deps.audit,
        deps.enterprises,
        deps.users,
        is_trunk=lambda host, port: trunk_runtime.trunk_at(host, port) is not None,
    )
    records = CallRecordService(deps.db, deps.bus, deps.clock, deps.settings.node_name, deps.nodes)
    policy = PolicyService(deps.db, deps.bus, deps.clock, deps.audit, deps.enterprises, deps.users)
    return PbxServices(
        trunks=trunks,
        trunk_runtime=trunk_runtime,
        numbers=deps.numbers,
        admission=CallAdmission(AdmissionLimits.from_settings(deps.settings), deps.clock),
        view=devices.view,
        credentials=devices.credentials,
        location=devices.location,
        guard=devices.guard,
        registrar=devices.registrar,
        bindings=devices.bindings,
        device_auth=devices.device_auth,
        records=records,
        voicemail=build_voicemail(
            deps.db, deps.bus, deps.files, deps.clock, deps.settings.data_dir
        ),
        policy=policy,
        dashboard=DashboardFigures(records, devices.credentials, devices.bindings, policy),
    )
