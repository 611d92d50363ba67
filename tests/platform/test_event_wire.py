"""The wire form of events: every registered class round-trips exactly through JSON, every event
class the code declares is registered, and what is not an event on the wire is refused clearly.

The round trip is parametrised over the registry itself, so a new event class is covered the moment
it is declared; the sample values are made from its field types."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import json
import pkgutil
import types
import typing
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

import zongji
from zongji.directory.events import DirectoryChanged, EnterpriseSuspended
from zongji.pbx.contracts import CallDirection
from zongji.pbx.events import CallEnded, TrunkChanged, TrunkChangeKind
from zongji.platform.event_wire import (
    UnknownEventType,
    WireError,
    from_json,
    from_wire,
    registered,
    registry,
    to_json,
    to_wire,
)
from zongji.platform.events import Event


def _import_everything() -> None:
    """Every module of the package, so that every event class it declares exists now."""
    for module in pkgutil.walk_packages(zongji.__path__, "zongji."):
        importlib.import_module(module.name)


_import_everything()
REGISTERED = sorted(registry().items())
CHINA = timezone(timedelta(hours=8))


def _sample(hint: Any, full: bool, n: int) -> Any:
    """A value of type `hint`: `full` fills optionals and tuples, otherwise they are empty."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        present = next(a for a in args if a is not type(None))
        return _sample(present, full, n) if full else None
    if origin is tuple:
        return tuple(_sample(args[0], full, n + i) for i in range(2)) if full else ()
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        members = list(hint)
        return members[-1] if full else members[0]
    if hint is uuid.UUID:
        return uuid.UUID(int=0x1234_5678_9ABC_DEF0 * (n + 1))
    if hint is datetime:  # an offset other than UTC, and microseconds: both must survive
        return datetime(2026, 12, 7, 20, 15, 30, 123456 + n, tzinfo=CHINA if full else UTC)
    if hint is date:
        return date(2026, 2, 17 + n % 10)
    if hint is bool:
        return full
    if hint is int:
        return 2**40 + n if full else 0
    if hint is float:
        return 3.14159 + n if full else 0.0
    if hint is str:
        return f'张三 "quoted" {n}' if full else ""
    raise AssertionError(f"no sample for {hint}: teach _sample the new field type")


def _instance(cls: type[Event], full: bool) -> Event:
    hints = typing.get_type_hints(cls)
    values = {
        f.name: _sample(hints[f.name], full, i) for i, f in enumerate(dataclasses.fields(cls))
    }
    return cls(**values)


def _all_event_classes() -> Iterator[type[Event]]:
    pending = list(Event.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("zongji."):  # not the throwaway classes of these tests
            yield cls


def test_the_registry_holds_every_context_s_events() -> None:
    assert len(REGISTERED) >= 20
    assert {name.split(".")[0] for name, _ in REGISTERED} >= {
        "enterprise",
        "directory",
        "device",
        "call",
        "voicemail",
        "trunk",
    }


def test_every_declared_event_class_is_registered_and_lives_in_an_events_module() -> None:
    declared = set(_all_event_classes())
    assert declared, "no event classes found"
    unregistered = declared - set(registry().values())
    assert not unregistered, f"declared but not @registered: {sorted(map(str, unregistered))}"
    for cls in declared:
        assert cls.__module__.endswith(".events"), f"{cls} is declared outside an events module"


@pytest.mark.parametrize("full", [True, False], ids=["filled", "empty"])
@pytest.mark.parametrize(("type_name", "cls"), REGISTERED, ids=[n for n, _ in REGISTERED])
def test_every_registered_event_round_trips_through_json(
    type_name: str, cls: type[Event], full: bool
) -> None:
    event = _instance(cls, full)
    wire = to_wire(event)
    assert wire["type"] == type_name == cls.type_name
    text = json.dumps(wire)  # plain JSON: nothing but str, numbers, bools, null, lists, objects
    back = from_wire(json.loads(text))
    assert back == event
    assert repr(back) == repr(event)  # same types too: UUID not str, enum not str, tuple not list
    for f in dataclasses.fields(cls):
        assert type(getattr(back, f.name)) is type(getattr(event, f.name)), f.name
    assert back.at.utcoffset() == event.at.utcoffset()
    assert to_wire(back) == wire
    assert from_json(to_json(event)) == event


def test_the_wire_form_is_named_fields_of_plain_values() -> None:
    trunk = uuid.uuid4()
    at = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    event = TrunkChanged(tenant_id=None, trunk_id=trunk, change=TrunkChangeKind.DELETED, at=at)
    assert to_wire(event) == {
        "type": "trunk.changed",
        "fields": {
            "tenant_id": None,
            "at": "2026-12-07T12:00:00+00:00",
            "trunk_id": str(trunk),
            "change": "deleted",
        },
    }
    tenant, user = uuid.uuid4(), uuid.uuid4()
    changed = DirectoryChanged(tenant_id=tenant, cursor=7, action="user.create", users=(user,))
    fields = to_wire(changed)["fields"]
    assert (fields["users"], fields["departments"], fields["cursor"]) == ([str(user)], [], 7)


def test_an_unknown_type_name_is_refused_by_name() -> None:
    with pytest.raises(UnknownEventType, match=r"'enterprise\.exploded'"):
        from_wire({"type": "enterprise.exploded", "fields": {}})
    with pytest.raises(UnknownEventType):
        from_json('{"type": "nope", "fields": {}}')


def _suspended_wire() -> dict[str, Any]:
    event = EnterpriseSuspended(tenant_id=uuid.uuid4(), reason="欠费")
    return to_wire(event)


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda w: w["fields"].pop("reason"), "missing field 'reason'"),
        (lambda w: w["fields"].update(extra=1), "unexpected fields"),
        (lambda w: w["fields"].update(tenant_id="not-a-uuid"), "tenant_id"),
        (lambda w: w["fields"].update(tenant_id=12), "tenant_id: expected a string"),
        (lambda w: w["fields"].update(reason=5), "reason: expected str"),
        (lambda w: w["fields"].update(at="yesterday"), r"\.at:"),
        (lambda w: w.update(fields=[]), "'fields' must be an object"),
        (lambda w: w.pop("type"), "string 'type'"),
    ],
)
def test_a_spoilt_event_is_refused_with_what_is_wrong(spoil: Any, message: str) -> None:
    wire = _suspended_wire()
    spoil(wire)
    with pytest.raises(WireError, match=message):
        from_wire(wire)


def test_the_wrong_value_types_are_refused() -> None:
    wire = to_wire(
        CallEnded(
            tenant_id=None,
            call_id="c",
            record_id=uuid.uuid4(),
            direction=CallDirection.INBOUND,
            status=None,
            caller_number="1",
            caller_user_id=None,
            caller_name=None,
            callee_number="2",
            callee_user_id=None,
            callee_name=None,
            answered_by_user_id=None,
            started_at=datetime.now(UTC),
            answered_at=None,
            ended_at=None,
            billable_seconds=0,
        )
    )
    for field, value, message in [
        ("billable_seconds", True, "expected int"),  # a bool is not a count
        ("billable_seconds", "3", "expected int"),
        ("direction", "sideways", "direction"),
        ("status", "lost", "status"),
    ]:
        spoilt = json.loads(json.dumps(wire))
        spoilt["fields"][field] = value
        with pytest.raises(WireError, match=message):
            from_wire(spoilt)
    with pytest.raises(WireError, match="not JSON"):
        from_json("{")


def test_an_unregistered_event_has_no_wire_form() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Stray(Event):
        pass

    with pytest.raises(UnknownEventType, match="Stray"):
        to_wire(Stray(tenant_id=None))


def test_only_frozen_event_dataclasses_with_wire_typed_fields_register() -> None:
    class NotADataclass(Event):  # inherits the base's fields, but declares none of its own
        pass

    with pytest.raises(TypeError, match="frozen dataclass"):
        registered("test.plain")(NotADataclass)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Loose(Event):
        data: dict[str, Any]

    with pytest.raises(TypeError, match=r"Loose\.data"):
        registered("test.loose")(Loose)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Listy(Event):
        ids: list[uuid.UUID]

    with pytest.raises(TypeError, match=r"use tuple\[X, \.\.\.\]"):
        registered("test.listy")(Listy)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Impostor(Event):
        reason: str | None

    with pytest.raises(TypeError, match="already"):
        registered("enterprise.suspended")(Impostor)
    assert not {"test.plain", "test.loose", "test.listy"} & set(registry())
    assert registry()["enterprise.suspended"] is EnterpriseSuspended
