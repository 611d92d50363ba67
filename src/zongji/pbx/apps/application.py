"""The interface every application implements, and what it is given to run.

The call engine answers the caller first when the application says so (`answers`; an
announcement to a caller who is refused plays as early media instead), adds the application to
the call's conversation as a participant while it runs, and then does what it returns: end the
call with a status, or go on to another destination (the menu's choice).
"""

from __future__ import annotations

import abc
import asyncio
from dataclasses import dataclass
from typing import ClassVar, Protocol

from zongji.pbx.contracts import (
    AnsweredLeg,
    CallStatus,
    Party,
    Subscriber,
    TelephonyView,
    TenantLine,
    Voicemail,
)
from zongji.pbx.destinations import Destination, DestinationKind, Target
from zongji.platform.clock import Clock


class AppServices(Protocol):
    """The parts of the PBX an application may use (read-only members)."""

    @property
    def view(self) -> TelephonyView: ...
    @property
    def voicemail(self) -> Voicemail: ...


class MenuRouter(Protocol):
    """How an application turns what a caller chose into a destination: a user or the front
    desk, or a destination its configuration stores (a menu key's `Target`)."""

    async def menu_choice(self, tenant: TenantLine, user: Subscriber | None) -> Destination: ...

    async def configured(self, tenant: TenantLine, target: Target) -> Destination: ...


@dataclass(frozen=True)
class AppContext:
    leg: AnsweredLeg  # the caller
    call_id: str
    tenant: TenantLine
    caller: Party
    caller_user: Subscriber | None  # a device's user; None for an outside caller
    destination: Destination | None  # what the call was resolved to (None: not a destination)
    services: AppServices
    router: MenuRouter
    clock: Clock
    gone: asyncio.Event  # the caller gave up (also set when the node stops)
    prompt: str | None = None  # an announcement's prompt (the refusal's reason)


@dataclass(frozen=True)
class AppOutcome:
    """How the application ended: the call's status, or (`next`) where to go on to."""

    status: CallStatus
    reason: str | None = None
    next: Destination | None = None

    @classmethod
    def then(cls, destination: Destination) -> AppOutcome:
        return cls(CallStatus.ANSWERED, next=destination)


class Application(abc.ABC):
    #: unique, for the registry and logs
    name: ClassVar[str]
    #: the destination kind it runs (None: used by the engine directly, e.g. an announcement);
    #: a kind of its own (`DestinationKind("wake_up_call")`) exists once the app is registered
    serves: ClassVar[DestinationKind | None] = None
    #: dialled from a device, this code reaches the application (`*97`)
    feature_code: ClassVar[str | None] = None
    #: the callee the record names for a feature code
    title: ClassVar[str] = ""
    #: the engine answers the caller before it runs (False: it plays as early media)
    answers: ClassVar[bool] = True
    #: the call counts as answered once it runs (a user recording their greeting talks to us)
    is_the_answer: ClassVar[bool] = False

    @abc.abstractmethod
    async def run(self, context: AppContext) -> AppOutcome: ...
