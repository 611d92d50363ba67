"""Every application the PBX runs: adding one is its folder plus one line here."""

from __future__ import annotations

from collections.abc import Iterable

from zongji.pbx.apps.application import Application
from zongji.pbx.apps.greeting import GreetingRecording
from zongji.pbx.apps.main_menu import MainNumberMenu
from zongji.pbx.apps.refusal import RefusalAnnouncement
from zongji.pbx.apps.voicemail_box import VoicemailBox
from zongji.pbx.destinations import DestinationKind

APPLICATIONS: tuple[Application, ...] = (
    MainNumberMenu(),
    VoicemailBox(),
    GreetingRecording(),
    RefusalAnnouncement(),
)


class Applications:
    """Look-ups over the registered applications (by name, kind served, feature code)."""

    def __init__(self, applications: Iterable[Application] = APPLICATIONS) -> None:
        self._all = tuple(applications)
        self._by_name = {app.name: app for app in self._all}
        if len(self._by_name) != len(self._all):
            raise ValueError("two applications share a name")
        self._by_code = {app.feature_code: app for app in self._all if app.feature_code}

    def named(self, name: str) -> Application | None:
        return self._by_name.get(name)

    def serving(self, kind: DestinationKind) -> Application | None:
        """The first registered application that runs destinations of `kind`."""
        return next((app for app in self._all if app.serves is kind), None)

    def for_feature_code(self, code: str) -> Application | None:
        return self._by_code.get(code)
