"""RFC 4733 telephone-events: DTMF digits carried as RTP packets.

A sender repeats one event many times: a first packet with the marker bit, updates every packet
interval with a growing duration, and the final packet with the E bit, itself sent three times
(§2.5.1.4; SIPp's captures send the three copies back to back with one sequence number). All
packets of one event carry the event's start timestamp. So a receiver must report a digit exactly
once however many of those packets arrive, duplicated or reordered, and even if the first ones
were lost. Events longer than the 16-bit duration field are split into
segments with new timestamps but no marker (§2.5.1.3): a continuation, not a new press.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from .rtp import ts_delta

DIGITS = "0123456789*#ABCD"
_EVENT = struct.Struct("!BBH")


def digit_code(digit: str) -> int:
    try:
        return DIGITS.index(digit.upper())
    except ValueError:
        raise ValueError(f"{digit!r} is not a DTMF digit") from None


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int  # -dBm0, 0..63
    duration: int  # timestamp units

    @property
    def digit(self) -> str | None:
        return DIGITS[self.event] if self.event < len(DIGITS) else None

    def build(self) -> bytes:
        return _EVENT.pack(
            self.event, (0x80 if self.end else 0) | (self.volume & 0x3F), self.duration & 0xFFFF
        )


def parse_event(payload: bytes) -> TelephoneEvent | None:
    """The event in a telephone-event payload, or None if the payload is too short."""
    if len(payload) < 4:
        return None
    event, flags, duration = _EVENT.unpack_from(payload)
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


class TelephoneEventReceiver:
    """Turns a stream of telephone-event packets into digits, each reported once."""

    def __init__(self) -> None:
        self._timestamp: int | None = None
        self._event = -1
        self._ended = True
        self._duration = 0

    def receive(self, timestamp: int, marker: bool, payload: bytes) -> str | None:
        """Feed one packet; return the digit if this packet starts a new key press."""
        ev = parse_event(payload)
        if ev is None:
            return None
        if self._timestamp is not None:
            delta = ts_delta(timestamp, self._timestamp)
            if delta == 0:
                if ev.event == self._event:
                    self._ended = self._ended or ev.end
                    self._duration = max(self._duration, ev.duration)
                    return None
            elif delta < 0:
                return None  # a straggler from an earlier event
            elif (
                not marker
                and ev.event == self._event
                and not self._ended
                and delta <= self._duration + 2 * 160
            ):
                # continuation segment of a long event (§2.5.1.3)
                self._timestamp, self._duration, self._ended = timestamp, ev.duration, ev.end
                return None
        self._timestamp, self._event = timestamp, ev.event
        self._ended, self._duration = ev.end, ev.duration
        return ev.digit


@dataclass(frozen=True, slots=True)
class EventPacket:
    """One packet for the sender to put on the wire."""

    payload: bytes
    marker: bool
    #: True on the first packet of an event: the sender takes a fresh timestamp for it.
    starts_event: bool


class TelephoneEventSender:
    """Plays a string of digits as telephone-events, one step per 20 ms clock tick.

    Each digit lasts `duration_ms`, followed by `gap_ms` in which normal audio resumes.
    """

    def __init__(
        self,
        digits: str,
        *,
        duration_ms: int = 100,
        gap_ms: int = 60,
        volume: int = 10,
        samples_per_tick: int = 160,
    ) -> None:
        for d in digits:
            digit_code(d)
        self._steps = self._plan(digits, duration_ms, gap_ms, volume, samples_per_tick)

    @staticmethod
    def _plan(
        digits: str, duration_ms: int, gap_ms: int, volume: int, spt: int
    ) -> Iterator[list[EventPacket] | None]:
        ticks_on = max(2, duration_ms // 20)
        for digit in digits:
            code = digit_code(digit)
            for i in range(ticks_on):
                last = i == ticks_on - 1
                payload = TelephoneEvent(code, last, volume, (i + 1) * spt).build()
                packet = EventPacket(payload, marker=i == 0, starts_event=i == 0)
                yield [packet]
                if last:
                    # §2.5.1.4: the final packet three times in all, at the update interval, so
                    # that losing one does not lose the key's release
                    yield [packet]
                    yield [packet]
            for _ in range(max(1, gap_ms // 20)):
                yield None

    def step(self) -> list[EventPacket] | None:
        """Packets to send this tick (None: a gap, send normal audio). Raises StopIteration at
        the end. Each packet gets its own RTP sequence number from the endpoint, as every RTP
        packet must (RFC 3550 §5.1), retransmissions included."""
        return next(self._steps)
