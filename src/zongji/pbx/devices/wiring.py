"""Builds the devices part (view, credentials, guard, authenticator, location, registrar) and
connects it: revocations and enterprise suspensions end registrations, a user's presence goes to
the directory."""

from __future__ import annotations

from dataclasses import dataclass

from zongji.audit.service import AuditLog
from zongji.directory.enterprises import EnterpriseService
from zongji.directory.events import DirectoryChanged, EnterpriseCancelled, EnterpriseSuspended
from zongji.directory.users import DirectoryUsers
from zongji.pbx.devices.auth import DeviceAuthenticator
from zongji.pbx.devices.binding_store import BindingStore
from zongji.pbx.devices.credentials import DeviceCredentials
from zongji.pbx.devices.guard import AuthGuard, TrustedSource
from zongji.pbx.devices.location import LocationService
from zongji.pbx.devices.presence import PresencePublisher
from zongji.pbx.devices.registrar import Registrar
from zongji.pbx.view import TelephonyDirectory
from zongji.platform.clock import Clock
from zongji.platform.config import Settings
from zongji.platform.db import Database
from zongji.platform.events import EventBus


@dataclass(frozen=True)
class DeviceParts:
    view: TelephonyDirectory
    credentials: DeviceCredentials
    guard: AuthGuard
    device_auth: DeviceAuthenticator
    location: LocationService
    registrar: Registrar
    presence: PresencePublisher
    bindings: BindingStore


def build_devices(
    settings: Settings,
    clock: Clock,
    db: Database,
    bus: EventBus,
    audit: AuditLog,
    enterprises: EnterpriseService,
    users: DirectoryUsers,
    *,
    is_trunk: TrustedSource,
) -> DeviceParts:
    """`is_trunk` is the trunk registry's test of a source: the guard never blocks a trunk."""
    view = TelephonyDirectory(enterprises, users, bus, monotonic=clock.monotonic)
    credentials = DeviceCredentials(db, bus, clock, audit, view, users)
    guard = AuthGuard(
        clock,
        max_failures=settings.sip_auth_max_failures,
        failure_window=settings.sip_auth_failure_window,
        block_seconds=settings.sip_auth_block_seconds,
        rate=settings.sip_source_rate,
        burst=settings.sip_source_burst,
        trusted=is_trunk,
        proxies=settings.sip_trusted_proxies,
    )
    device_auth = DeviceAuthenticator(
        credentials, guard, md5_only_agents=settings.sip_md5_only_user_agents
    )
    presence = PresencePublisher(db, bus, users)
    bindings = BindingStore(db, clock, settings.node_name)
    location = LocationService(
        node=settings.node_name, wall=clock.now, on_presence=presence, journal=bindings
    )
    credentials.on_revoke.append(location.drop_credentials)

    async def enterprise_stopped(event: EnterpriseSuspended | EnterpriseCancelled) -> None:
        if event.tenant_id is not None:
            location.drop_tenant(event.tenant_id)

    bus.subscribe((EnterpriseSuspended, EnterpriseCancelled), enterprise_stopped)

    async def user_suspended(event: DirectoryChanged) -> None:
        """A suspended user's phones stop being registered now, not at their next refresh
        (which the registrar refuses): nobody sees them online, nothing rings them."""
        if event.action != "user.suspend" or event.tenant_id is None:
            return
        for user in event.users:
            bound = location.registrations(event.tenant_id, user)
            location.drop_credentials(event.tenant_id, [b.device.credential_id for b in bound])

    bus.subscribe(DirectoryChanged, user_suspended)
    registrar = Registrar(
        view,
        device_auth,
        credentials,
        location,
        min_expires=settings.sip_min_expires,
        max_expires=settings.sip_max_expires,
        nat_expires=settings.sip_nat_expires,
        max_contacts=settings.sip_max_contacts,
        presence=presence,
        clock=clock,
        bindings=bindings,
    )
    return DeviceParts(
        view, credentials, guard, device_auth, location, registrar, presence, bindings
    )
