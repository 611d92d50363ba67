"""The directory's services for one node, built once beside the other contexts' (`zongji.services`).

They are one group so the composition root names them once: `Services.directory` holds it, the
PBX and identity take the members they use from it, and the directory's routes receive it whole
(`web.py: DirectoryApiDeps.directory`) — a service added here reaches the routes without being
listed again in the root.
"""

from __future__ import annotations

from dataclasses import dataclass

from zongji.audit.service import AuditLog
from zongji.directory.changes import ChangeFeed
from zongji.directory.contacts import PersonalContacts
from zongji.directory.departments import DepartmentService
from zongji.directory.enterprises import EnterpriseService
from zongji.directory.extensions import ExtensionService
from zongji.directory.favourites import Favourites
from zongji.directory.invitations import Invitations
from zongji.directory.journal import Journal
from zongji.directory.numbers import NumberPool
from zongji.directory.search.service import DirectorySearch
from zongji.directory.spreadsheet.exporter import DirectoryExport
from zongji.directory.spreadsheet.importer import DirectoryImport
from zongji.directory.users import DirectoryUsers
from zongji.platform.clock import Clock
from zongji.platform.db import Database
from zongji.platform.events import EventBus
from zongji.platform.files import FileStorage
from zongji.platform.ratelimit import RateLimiter
from zongji.platform.sms import SmsGateway


@dataclass(frozen=True)
class DirectoryServices:
    enterprises: EnterpriseService
    departments: DepartmentService
    users: DirectoryUsers
    extensions: ExtensionService
    numbers: NumberPool
    changes: ChangeFeed
    search: DirectorySearch
    importer: DirectoryImport
    exporter: DirectoryExport
    contacts: PersonalContacts
    favourites: Favourites
    invitations: Invitations


@dataclass(frozen=True)
class DirectoryDependencies:
    """What the directory is given from the rest of the node."""

    db: Database
    bus: EventBus
    clock: Clock
    audit: AuditLog
    files: FileStorage
    sms: SmsGateway  # invitations are sent by SMS
    limiter: RateLimiter  # … at a limited rate
    sip_domain_suffix: str  # an enterprise's SIP domain is its code under this suffix
    client_url: str  # where an invitation links to
    sms_signature: str  # the 【签名】 an invitation's text carries


def build_directory(deps: DirectoryDependencies) -> DirectoryServices:
    """The enterprises' console admins are identity's, which is built from this group: the root
    wires them in afterwards (`enterprises.admins`)."""
    db, bus, clock = deps.db, deps.bus, deps.clock
    journal = Journal(deps.audit)  # one journal: every change's log entry and change-feed rows
    changes = ChangeFeed(db)
    return DirectoryServices(
        enterprises=EnterpriseService(db, bus, clock, deps.audit, deps.sip_domain_suffix),
        departments=DepartmentService(db, bus, clock, journal),
        users=DirectoryUsers(db, bus, clock, journal, deps.files),
        extensions=ExtensionService(db, bus, clock, journal),
        numbers=NumberPool(db, bus, clock, journal),
        changes=changes,
        search=DirectorySearch(db, bus, changes),
        importer=DirectoryImport(db, bus, clock, journal),
        exporter=DirectoryExport(db),
        contacts=PersonalContacts(db, bus, clock, journal),
        favourites=Favourites(db, bus, clock, journal),
        invitations=Invitations(
            db,
            bus,
            clock,
            journal,
            deps.sms,
            deps.limiter,
            deps.client_url,
            deps.sms_signature,
        ),
    )
