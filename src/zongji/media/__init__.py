"""RTP media engine: codecs, clock, jitter buffer, DTMF, player, recorder, mixer, relay.

Knows nothing of SIP or storage; call control reaches it only through its `MediaServer` interface
(`api.py`), implemented in-process by `LocalMediaServer` (`server.py`). See docs/media.md.
Other packages import it only from here (an import-linter contract, pyproject.toml).
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
from .g711 import SAMPLE_RATE, Codec, Pcm
from .mixer import ConferenceMixer
from .prompts.catalog import PROMPTS
from .server import LocalMediaServer
from .wav import WavError, load_wav, parse_wav

__all__ = [
    "PROMPTS",
    "SAMPLE_RATE",
    "ActiveSpeakerChanged",
    "Address",
    "ClockStats",
    "Codec",
    "ConferenceMixer",
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
    "Pcm",
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
    "WavError",
    "load_wav",
    "parse_wav",
]
