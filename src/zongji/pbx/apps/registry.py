"""Every application the PBX runs: adding one — and with it a new destination kind, the one its
`serves` names — is its folder plus one line in `APPLICATIONS`."""

from __future__ import annotations

from collections.abc import Iterable

from zongji.pbx.apps.application import Application
from zongji.pbx.apps.greeting import GreetingRecording
from zongji.pbx.apps.main_menu import MainNumberMenu
from zongji.pbx.apps.refusal import RefusalAnnouncement
from zongji.pbx.apps.voicemail_box import VoicemailBox
from zongji.pbx.destinations import CALL_CONTROL_KINDS, DestinationKind
from zongji.platform.errors import FieldError, field_error

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
        return next((app for app in self._all if app.serves == kind), None)

    def kinds(self) -> frozenset[DestinationKind]:
        """Every kind a call can be taken to: call control's own and those an application
        serves. Any other kind would be refused (480) when a call reaches it."""
        served = {app.serves for app in self._all if app.serves is not None}
        return CALL_CONTROL_KINDS | served

    def destination_kind(self, text: str, *, field: str = "kind") -> DestinationKind:
        """The kind `text` names, when something serves it: what an API that stores a
        destination (a menu key, a called number) checks before storing it, so configuration
        never points calls at a kind that would only be refused. Otherwise a 422 problem whose
        error for `field` has the stable code `unknown_destination_kind`."""
        try:
            kind = DestinationKind(text)
        except ValueError:
            kind = None
        if kind is None or kind not in self.kinds():
            raise unknown_kind(field, text, sorted(self.kinds()))
        return kind

    def for_feature_code(self, code: str) -> Application | None:
        return self._by_code.get(code)


def unknown_kind(field: str, text: str, known: list[DestinationKind]) -> FieldError:
    names = ", ".join(known)
    return field_error(
        field,
        "unknown_destination_kind",
        f"No destination kind {text!r} is served on this platform (known: {names}).",
        f"不支持的目的地类型“{text}”（可用：{names}）。",
    )
