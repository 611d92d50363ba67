"""Session descriptions (SDP, RFC 8866 which replaced RFC 4566): parse and build.

This module is only the format; `offer_answer` decides what to put in it.
The parser is liberal about line ends (LF alone is accepted, as RFC 8866 §5 recommends) and
skips lines of unknown types, but a description must start with `v=0` and carry `o=`, and every
`o=`, `c=` and `m=` line must be well formed.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import Final

from zongji.sip.errors import SipParseError


class SdpParseError(SipParseError):
    """A malformed session description (answered with 400 or 488 by the application)."""


class Direction(enum.StrEnum):
    """Media direction attribute (RFC 3264 §5.1, §8.4 for hold)."""

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    def reversed(self) -> Direction:
        """The direction as seen from the other side."""
        return _REVERSED[self]

    def intersect(self, other: Direction) -> Direction:
        """What both allow: send only if both send, receive only if both receive."""
        return direction_of(self.sends and other.sends, self.receives and other.receives)


_REVERSED: Final = {
    Direction.SENDRECV: Direction.SENDRECV,
    Direction.SENDONLY: Direction.RECVONLY,
    Direction.RECVONLY: Direction.SENDONLY,
    Direction.INACTIVE: Direction.INACTIVE,
}


def direction_of(sends: bool, receives: bool) -> Direction:
    if sends and receives:
        return Direction.SENDRECV
    if sends:
        return Direction.SENDONLY
    if receives:
        return Direction.RECVONLY
    return Direction.INACTIVE


@dataclass(slots=True)
class Origin:
    """`o=<username> <sess-id> <sess-version> IN IP4 <address>`."""

    username: str
    session_id: str
    session_version: int
    address: str
    network_type: str = "IN"
    address_type: str = "IP4"

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.network_type} {self.address_type} {self.address}"
        )


_NULL_ADDRESSES: Final = frozenset({"0.0.0.0", "::"})  # noqa: S104 (compared, never bound)


@dataclass(slots=True)
class Connection:
    """`c=IN IP4 <address>` (the address may carry `/ttl` for multicast, kept as is)."""

    address: str
    network_type: str = "IN"
    address_type: str = "IP4"

    @property
    def is_null(self) -> bool:
        """`c=IN IP4 0.0.0.0` is the RFC 2543 way of putting a call on hold."""
        return self.address in _NULL_ADDRESSES

    def __str__(self) -> str:
        return f"{self.network_type} {self.address_type} {self.address}"


@dataclass(slots=True)
class Attribute:
    """`a=<name>[:<value>]`."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class RtpMap:
    """`a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int = 1

    def __str__(self) -> str:
        suffix = f"/{self.channels}" if self.channels != 1 else ""
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{suffix}"


class _HasAttributes:
    """Attribute lookups shared by the session and media levels."""

    attributes: list[Attribute]

    def attribute(self, name: str) -> str | None:
        """Value of the first attribute `name` ('' for a flag), or None if absent."""
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute.value if attribute.value is not None else ""
        return None

    def attribute_values(self, name: str) -> list[str]:
        return [a.value or "" for a in self.attributes if a.name == name]

    @property
    def direction(self) -> Direction | None:
        """The direction attribute at this level, if one is written."""
        for attribute in self.attributes:
            if attribute.value is None and attribute.name in _DIRECTION_NAMES:
                return Direction(attribute.name)
        return None

    def set_direction(self, direction: Direction | None) -> None:
        self.attributes = [a for a in self.attributes if a.name not in _DIRECTION_NAMES]
        if direction is not None:
            self.attributes.append(Attribute(direction.value))


_DIRECTION_NAMES: Final = frozenset(d.value for d in Direction)


@dataclass(slots=True)
class MediaDescription(_HasAttributes):
    """One `m=` section."""

    media: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    information: str | None = None
    connection: Connection | None = None
    bandwidths: list[str] = field(default_factory=list)
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        """Port 0: the stream is declined or removed (RFC 3264 §6, §8.2)."""
        return self.port == 0

    def rtpmaps(self) -> dict[int, RtpMap]:
        """Payload type -> rtpmap, with the static types of RFC 3551 filled in when unmapped."""
        result: dict[int, RtpMap] = {}
        for value in self.attribute_values("rtpmap"):
            rtpmap = _parse_rtpmap(value)
            if rtpmap is not None:
                result[rtpmap.payload_type] = rtpmap
        for fmt in self.formats:
            if fmt.isdigit() and int(fmt) not in result and int(fmt) in STATIC_PAYLOAD_TYPES:
                result[int(fmt)] = STATIC_PAYLOAD_TYPES[int(fmt)]
        return result

    def fmtp(self, payload_type: int) -> str | None:
        prefix = f"{payload_type} "
        for value in self.attribute_values("fmtp"):
            if value.startswith(prefix):
                return value[len(prefix) :].strip()
        return None

    def write(self, out: list[str]) -> None:
        count = f"/{self.port_count}" if self.port_count is not None else ""
        out.append(f"m={self.media} {self.port}{count} {self.proto} {' '.join(self.formats)}")
        if self.information is not None:
            out.append(f"i={self.information}")
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out.extend(f"b={b}" for b in self.bandwidths)
        if self.key is not None:
            out.append(f"k={self.key}")
        out.extend(f"a={a}" for a in self.attributes)


# Static payload types of RFC 3551 that a voice switchboard meets.
STATIC_PAYLOAD_TYPES: Final[dict[int, RtpMap]] = {
    0: RtpMap(0, "PCMU", 8000),
    3: RtpMap(3, "GSM", 8000),
    4: RtpMap(4, "G723", 8000),
    8: RtpMap(8, "PCMA", 8000),
    9: RtpMap(9, "G722", 8000),
    18: RtpMap(18, "G729", 8000),
}


@functools.lru_cache(maxsize=512)
def _parse_rtpmap(value: str) -> RtpMap | None:
    """Cached: RtpMap is immutable and the same few `a=rtpmap` values come with every offer."""
    pt, _, spec = value.partition(" ")
    parts = spec.strip().split("/")
    if not pt.isdigit() or len(parts) < 2 or not parts[1].isdigit():
        return None
    channels = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 1
    return RtpMap(int(pt), parts[0], int(parts[1]), channels)


@dataclass(slots=True)
class SessionDescription(_HasAttributes):
    """A whole SDP body."""

    origin: Origin
    session_name: str = "-"
    connection: Connection | None = None
    media: list[MediaDescription] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    bandwidths: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=lambda: ["0 0"])
    repeats: list[str] = field(default_factory=list)
    time_zones: str | None = None
    key: str | None = None
    version: int = 0

    def encode(self) -> bytes:
        out = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}"]
        if self.information is not None:
            out.append(f"i={self.information}")
        if self.uri is not None:
            out.append(f"u={self.uri}")
        out.extend(f"e={e}" for e in self.emails)
        out.extend(f"p={p}" for p in self.phones)
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out.extend(f"b={b}" for b in self.bandwidths)
        out.extend(f"t={t}" for t in self.times)
        out.extend(f"r={r}" for r in self.repeats)
        if self.time_zones is not None:
            out.append(f"z={self.time_zones}")
        if self.key is not None:
            out.append(f"k={self.key}")
        out.extend(f"a={a}" for a in self.attributes)
        for media in self.media:
            media.write(out)
        out.append("")
        return "\r\n".join(out).encode()

    def connection_for(self, media: MediaDescription) -> Connection | None:
        """The connection a media section uses: its own `c=`, else the session's."""
        return media.connection or self.connection

    def direction_for(self, media: MediaDescription) -> Direction:
        """Effective direction: media level, else session level, else sendrecv (RFC 3264 §5.1)."""
        return media.direction or self.direction or Direction.SENDRECV


def _parse_connection(value: str) -> Connection:
    parts = value.split()
    if len(parts) != 3:
        raise SdpParseError(f"malformed c= line {value[:60]!r}")
    return Connection(parts[2], parts[0], parts[1])


def _parse_media(value: str) -> MediaDescription:
    parts = value.split()
    if len(parts) < 4:
        raise SdpParseError(f"malformed m= line {value[:60]!r}")
    port_text, _, count_text = parts[1].partition("/")
    if (
        not port_text.isdigit()
        or int(port_text) > 65535
        or (count_text and not count_text.isdigit())
    ):
        raise SdpParseError(f"malformed port in m= line {value[:60]!r}")
    return MediaDescription(
        media=parts[0],
        port=int(port_text),
        port_count=int(count_text) if count_text else None,
        proto=parts[2],
        formats=parts[3:],
    )


def _parse_origin(value: str) -> Origin:
    parts = value.split()
    if len(parts) != 6 or not parts[2].isdigit():
        raise SdpParseError(f"malformed o= line {value[:60]!r}")
    return Origin(parts[0], parts[1], int(parts[2]), parts[5], parts[3], parts[4])


def _parse_attribute(value: str) -> Attribute:
    name, colon, rest = value.partition(":")
    if not name:
        raise SdpParseError("empty attribute name")
    return Attribute(name, rest if colon else None)


def parse_sdp(body: bytes) -> SessionDescription:
    """Parse an SDP body; raises `SdpParseError`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SdpParseError("SDP is not UTF-8") from error
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines or lines[0].strip() != "v=0":
        raise SdpParseError("SDP must start with v=0")
    origin: Origin | None = None
    session = SessionDescription(Origin("-", "0", 0, "-"), times=[])
    current: MediaDescription | None = None
    for line in lines[1:]:
        if len(line) < 2 or line[1] != "=":
            raise SdpParseError(f"malformed SDP line {line[:60]!r}")
        kind, value = line[0], line[2:]
        if kind == "m":
            current = _parse_media(value)
            session.media.append(current)
        elif kind == "a":
            (current or session).attributes.append(_parse_attribute(value))
        elif kind == "c":
            if current is not None:
                current.connection = _parse_connection(value)
            else:
                session.connection = _parse_connection(value)
        elif kind == "b":
            (current or session).bandwidths.append(value)
        elif current is not None:
            if kind == "i":
                current.information = value
            elif kind == "k":
                current.key = value
        elif kind == "o":
            origin = _parse_origin(value)
        elif kind == "s":
            session.session_name = value
        elif kind == "t":
            session.times.append(value)
        elif kind == "r":
            session.repeats.append(value)
        elif kind == "i":
            session.information = value
        elif kind == "u":
            session.uri = value
        elif kind == "e":
            session.emails.append(value)
        elif kind == "p":
            session.phones.append(value)
        elif kind == "z":
            session.time_zones = value
        elif kind == "k":
            session.key = value
        # other type letters are skipped
    if origin is None:
        raise SdpParseError("SDP without o= line")
    session.origin = origin
    if not session.times:
        session.times = ["0 0"]
    return session
