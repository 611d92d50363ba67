"""RTP media engine: codecs, clock, jitter buffer, DTMF, player, recorder, mixer, relay.

Knows nothing of SIP or storage; call control reaches it only through its `MediaServer` interface
(`api.py`), implemented in-process by `LocalMediaServer` (`server.py`). See docs/media.md.
"""

from .api import (
    ActiveSpeakerChanged,
    Address,
    Digits,
    DtmfMethod,
    DtmfReceived,
    EndpointInfo,
    EndpointSpec,
    EndpointStats,
    File,
    MediaError,
    MediaEvent,
    MediaServer,
    MediaTimeout,
    PlaybackEnd,
    PlaybackFinished,
    PlayItem,
    Prompt,
    RecordingEnd,
    RecordingFinished,
    ServerStats,
    Silence,
    SpeakingChanged,
    Tone,
    ToneKind,
)
from .clock import ClockStats, ManualClock, MediaClock
from .g711 import Codec
from .server import LocalMediaServer

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
    "LocalMediaServer",
    "ManualClock",
    "MediaClock",
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
