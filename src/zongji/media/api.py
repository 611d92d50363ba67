"""The engine's interface: what call control (the PBX's B2BUA) asks of it, and what it reports.

Everything that crosses this interface is plain, immutable data — strings, numbers, tuples,
enums, frozen dataclasses — and identifiers are strings. No socket, array or engine object goes
in or comes out, so the same `MediaServer` protocol can later be served by a proxy that talks to
an engine in another process or on another machine, without call control noticing.

Call control's part (see docs/media.md): for each call leg it creates an endpoint from the SDP it
negotiated, updates it when an answer or re-INVITE changes the remote side, and then either
connects two endpoints (a bridged call), plays to an endpoint and collects digits (IVR, voice
codes), records it (voicemail), or adds it to a conference. It reads `events()` for digits,
playback and recording results, who is speaking, and dead media.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from .clock import ClockStats
from .g711 import Codec
from .recorder import RecordingEnd
from .stats import EndpointStats
from .tones import ToneKind

__all__ = [
    "ActiveSpeakerChanged",
    "Address",
    "ClockStats",
    "Codec",
    "Digits",
    "DtmfMethod",
    "DtmfReceived",
    "EndpointInfo",
    "EndpointSpec",
    "EndpointStats",
    "File",
    "MediaError",
    "MediaEvent",
    "MediaServer",
    "MediaTimeout",
    "PlayItem",
    "PlaybackEnd",
    "PlaybackFinished",
    "Prompt",
    "RecordingEnd",
    "RecordingFinished",
    "ServerStats",
    "Silence",
    "SpeakingChanged",
    "Tone",
    "ToneKind",
]

#: (host, port), as written in SDP's c= and m= lines.
Address = tuple[str, int]


class MediaError(Exception):
    """A request the engine cannot carry out: unknown id, no free port, unusable prompt."""


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """One RTP session, as negotiated in SDP."""

    codec: Codec = Codec.PCMU
    #: The peer's RTP address from SDP; None until the answer arrives (symmetric RTP may still
    #: learn it from the first packet).
    remote: Address | None = None
    #: The peer's RTCP address (a=rtcp); by default RTP port + 1, or the RTP address with mux.
    remote_rtcp: Address | None = None
    #: Payload type of telephone-event/8000 (RFC 4733), or None if the peer did not offer it.
    telephone_event_pt: int | None = 101
    #: Payload type of red/8000 carrying telephone-events (RFC 2198 redundancy, RFC 4733
    #: §2.5.1.5), if the peer offered it.
    red_pt: int | None = None
    #: RFC 5761: RTP and RTCP share one port.
    rtcp_mux: bool = False
    #: Send to where the peer's packets really come from (it may be behind NAT), not to SDP.
    symmetric: bool = True
    #: Listen for DTMF tones in the audio too (for peers that cannot send telephone-events).
    inband_dtmf: bool = False
    #: Report `MediaTimeout` after this many seconds without a packet (None: never).
    media_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    id: str
    #: Where the peer must send RTP: put it in our SDP.
    local: Address
    local_rtcp: Address
    ssrc: int
    spec: EndpointSpec


# --- what can be played -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prompt:
    """A prompt from the shipped catalogue (`zongji.media.prompts.catalog`)."""

    name: str
    language: str = "zh-CN"


@dataclass(frozen=True, slots=True)
class File:
    """Any WAV file the engine can read (an enterprise's own greeting, a voicemail)."""

    path: str


@dataclass(frozen=True, slots=True)
class Silence:
    ms: int


@dataclass(frozen=True, slots=True)
class Tone:
    """A call-progress tone; `ms` None plays one cadence cycle (for the beep: the beep)."""

    kind: ToneKind
    ms: int | None = None


@dataclass(frozen=True, slots=True)
class Digits:
    """Read out digits one by one with the digit prompts ("your code is 4 8 1 5 …")."""

    digits: str
    language: str = "zh-CN"
    gap_ms: int = 150


PlayItem = Prompt | File | Silence | Tone | Digits


# --- events -------------------------------------------------------------------------------


class DtmfMethod(enum.StrEnum):
    RFC4733 = "rfc4733"
    INBAND = "inband"


class PlaybackEnd(enum.StrEnum):
    COMPLETED = "completed"
    BARGE_IN = "barge_in"
    STOPPED = "stopped"
    #: Another `play` on the same target took over.
    REPLACED = "replaced"
    TARGET_GONE = "target_gone"


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    endpoint_id: str
    digit: str
    method: DtmfMethod


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    #: An endpoint id, or a conference id for an announcement to a whole conference.
    target: str
    playback_id: str
    reason: PlaybackEnd
    #: The key that interrupted playback, for BARGE_IN.
    digit: str | None = None


@dataclass(frozen=True, slots=True)
class RecordingFinished:
    endpoint_id: str
    recording_id: str
    path: str
    seconds: float
    reason: RecordingEnd
    digit: str | None = None


@dataclass(frozen=True, slots=True)
class SpeakingChanged:
    conference_id: str
    endpoint_id: str
    speaking: bool


@dataclass(frozen=True, slots=True)
class ActiveSpeakerChanged:
    conference_id: str
    #: None when nobody is speaking.
    endpoint_id: str | None


@dataclass(frozen=True, slots=True)
class MediaTimeout:
    """No packet from the peer for `seconds`: the far end is probably gone."""

    endpoint_id: str
    seconds: float


MediaEvent = (
    DtmfReceived
    | PlaybackFinished
    | RecordingFinished
    | SpeakingChanged
    | ActiveSpeakerChanged
    | MediaTimeout
)


@dataclass(frozen=True, slots=True)
class ServerStats:
    endpoints: int
    conferences: int
    ports_in_use: int
    clock: ClockStats


class MediaServer(Protocol):
    """The media engine as call control sees it. Every method may raise `MediaError`."""

    async def create_endpoint(self, spec: EndpointSpec) -> EndpointInfo:
        """Bind an RTP port (and RTCP unless muxed) for one call leg."""
        ...

    async def update_endpoint(self, endpoint_id: str, spec: EndpointSpec) -> EndpointInfo:
        """Apply a new SDP (answer, re-INVITE): remote address, codec, telephone-event PT."""
        ...

    async def destroy_endpoint(self, endpoint_id: str) -> EndpointStats:
        """Stop everything on the endpoint (a recording is saved), free its port, and return
        its final statistics for the call record."""
        ...

    async def connect(self, a: str, b: str) -> None:
        """Bridge two endpoints both ways (a normal call), transcoding where codecs differ and
        passing telephone-events through."""
        ...

    async def disconnect(self, endpoint_id: str) -> None:
        """Undo `connect` for the endpoint and its partner."""
        ...

    async def play(
        self,
        target: str,
        items: Sequence[PlayItem],
        *,
        loop: bool = False,
        barge_in: str = "",
    ) -> str:
        """Play to an endpoint or to a whole conference; returns a playback id. Any key in
        `barge_in` ("0123456789*#") stops it. Replaces what was playing there."""
        ...

    async def stop_playback(self, target: str) -> None: ...

    async def record(
        self,
        endpoint_id: str,
        path: str,
        *,
        max_seconds: float = 120.0,
        silence_seconds: float | None = 5.0,
        stop_digits: str = "",
    ) -> str:
        """Record what the endpoint's peer says into a WAV file; returns a recording id."""
        ...

    async def stop_recording(self, endpoint_id: str) -> None: ...

    async def send_dtmf(self, endpoint_id: str, digits: str, *, duration_ms: int = 100) -> None:
        """Send digits to the peer: RFC 4733 events, or key tones in the audio for a peer that
        did not offer telephone-event."""
        ...

    async def create_conference(self, *, max_members: int = 100) -> str: ...

    async def destroy_conference(self, conference_id: str) -> None: ...

    async def add_member(
        self, conference_id: str, endpoint_id: str, *, muted: bool = False, deaf: bool = False
    ) -> None: ...

    async def remove_member(self, conference_id: str, endpoint_id: str) -> None: ...

    async def set_member(
        self,
        conference_id: str,
        endpoint_id: str,
        *,
        muted: bool | None = None,
        deaf: bool | None = None,
    ) -> None: ...

    async def endpoint_stats(self, endpoint_id: str) -> EndpointStats: ...

    async def server_stats(self) -> ServerStats: ...

    def events(self) -> AsyncIterator[MediaEvent]:
        """Every event, in order, for as long as the server runs."""
        ...
