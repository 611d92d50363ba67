"""The wire form of events: every event class registered under a stable type name, and turned
into JSON-ready data and back exactly (UUIDs, datetimes, dates, enums, tuples, optionals).

What crosses a Redis bus or a WebSocket is `{"type": "<type name>", "fields": {...}}`. The type
name, not the Python class path, is the contract: a class can move or be renamed without breaking
a node of the previous version or a client. Each class's codec is built from its field types when
it is registered, so a field of a type that has no wire form fails at import, not at publish.

    @registered("enterprise.suspended")
    @dataclass(frozen=True, kw_only=True)
    class EnterpriseSuspended(Event):
        reason: str | None
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from zongji.platform.events import Event

E = TypeVar("E", bound=Event)
Encode = Callable[[Any], Any]
Decode = Callable[[Any], Any]

_PLAIN: dict[type, tuple[type, ...]] = {
    str: (str,),
    bool: (bool,),
    int: (int,),
    float: (float, int),
}


class WireError(ValueError):
    """Data that is not the wire form of a registered event."""


class UnknownEventType(WireError):
    """A type name no event class is registered under (a newer node's event, or a typo)."""


@dataclasses.dataclass(frozen=True)
class _Entry:
    cls: type[Event]
    fields: tuple[tuple[str, Encode, Decode], ...]


_by_name: dict[str, _Entry] = {}
_by_class: dict[type[Event], str] = {}


def registered(type_name: str) -> Callable[[type[E]], type[E]]:
    """Register an event class under `type_name` (put it above `@dataclass`)."""

    def register(cls: type[E]) -> type[E]:
        if not (isinstance(cls, type) and issubclass(cls, Event)) or cls is Event:
            raise TypeError(f"{cls!r} is not an event class")
        params = getattr(cls, "__dataclass_params__", None)
        if "__dataclass_fields__" not in cls.__dict__ or params is None or not params.frozen:
            raise TypeError(f"{cls.__qualname__} must be a frozen dataclass")
        if type_name in _by_name and _by_name[type_name].cls is not cls:
            raise TypeError(f"event type {type_name!r} is already {_by_name[type_name].cls}")
        if cls in _by_class and _by_class[cls] != type_name:
            raise TypeError(f"{cls.__qualname__} is already registered as {_by_class[cls]!r}")
        hints = typing.get_type_hints(cls)
        codecs = []
        for f in dataclasses.fields(cls):
            try:
                encode, decode = _codec(hints[f.name])
            except TypeError as exc:
                raise TypeError(f"{cls.__qualname__}.{f.name}: {exc}") from None
            codecs.append((f.name, encode, decode))
        _by_name[type_name] = _Entry(cls, tuple(codecs))
        _by_class[cls] = type_name
        cls.type_name = type_name
        return cls

    return register


def registry() -> Mapping[str, type[Event]]:
    """Every registered event class by type name (tests, documentation)."""
    return {name: entry.cls for name, entry in _by_name.items()}


def to_wire(event: Event) -> dict[str, Any]:
    """`event` as JSON-ready data."""
    name = _by_class.get(type(event))
    if name is None:
        raise UnknownEventType(f"{type(event).__qualname__} is not a registered event class")
    entry = _by_name[name]
    return {
        "type": name,
        "fields": {key: encode(getattr(event, key)) for key, encode, _ in entry.fields},
    }


def from_wire(data: object) -> Event:
    """The event `to_wire` made `data` from; `WireError` if `data` (anything that came off the
    wire, decoded from JSON) is not one."""
    if not isinstance(data, Mapping) or not isinstance(data.get("type"), str):
        raise WireError("an event on the wire is an object with a string 'type'")
    name = data["type"]
    entry = _by_name.get(name)
    if entry is None:
        raise UnknownEventType(f"unknown event type {name!r}")
    fields = data.get("fields")
    if not isinstance(fields, Mapping):
        raise WireError(f"{name}: 'fields' must be an object")
    unexpected = set(fields) - {key for key, _, _ in entry.fields}
    if unexpected:
        raise WireError(f"{name}: unexpected fields {sorted(unexpected)}")
    values: dict[str, Any] = {}
    for key, _, decode in entry.fields:
        if key not in fields:
            raise WireError(f"{name}: missing field {key!r}")
        try:
            values[key] = decode(fields[key])
        except (TypeError, ValueError) as exc:
            raise WireError(f"{name}.{key}: {exc}") from None
    return entry.cls(**values)


def to_json(event: Event) -> str:
    return json.dumps(to_wire(event), ensure_ascii=False, separators=(",", ":"))


def from_json(text: str | bytes) -> Event:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise WireError(f"not JSON: {exc}") from None
    return from_wire(data)


# -- codecs, one per field type -------------------------------------------------------------------


def _codec(hint: Any) -> tuple[Encode, Decode]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        if len(present) != 1 or len(args) != 2:
            raise TypeError(f"only `X | None` unions have a wire form, not {hint}")
        enc, dec = _codec(present[0])
        return (lambda v: None if v is None else enc(v)), (lambda v: None if v is None else dec(v))
    if origin is tuple:
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"tuples on the wire are `tuple[X, ...]`, not {hint}")
        enc, dec = _codec(args[0])
        return (lambda v: [enc(x) for x in v]), (lambda v: tuple(dec(x) for x in _list(v)))
    if origin in (list, dict, set, frozenset) or hint in (list, dict, set, frozenset):
        raise TypeError(f"no wire form for {hint} (use tuple[X, ...] and typed fields)")
    if not isinstance(hint, type):
        raise TypeError(f"no wire form for {hint}")
    if issubclass(hint, enum.Enum):
        return _enum_codec(hint)
    if hint is uuid.UUID:
        return str, lambda v: uuid.UUID(_str(v))
    if hint is datetime:
        return datetime.isoformat, lambda v: datetime.fromisoformat(_str(v))
    if hint is date:
        return date.isoformat, lambda v: date.fromisoformat(_str(v))
    if hint in _PLAIN:
        return _plain_codec(hint, _PLAIN[hint])
    raise TypeError(f"no wire form for {hint.__qualname__}")


def _enum_codec(cls: type[enum.Enum]) -> tuple[Encode, Decode]:
    return (lambda v: v.value), cls


def _plain_codec(cls: type, accepted: tuple[type, ...]) -> tuple[Encode, Decode]:
    def decode(value: Any) -> Any:
        if not isinstance(value, accepted) or (cls is not bool and isinstance(value, bool)):
            raise TypeError(f"expected {cls.__name__}, got {type(value).__name__}")
        return cls(value)

    return (lambda v: v), decode


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value
