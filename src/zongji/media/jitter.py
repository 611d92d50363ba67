"""Jitter buffer: turns packets that arrive unevenly, out of order or not at all into exactly one
20 ms frame per clock tick, for everything that consumes audio on the clock (conference mixer,
recorder, in-band DTMF detector).

The relay does not use it: forwarding a packet the moment it arrives adds no delay, and the far
end's own jitter buffer then sees the network's jitter once, not twice.

- Reordering: packets are keyed by extended sequence number and played in order.
- Adaptive depth: playout starts (and restarts after an underrun) once `target_ms` of audio is
  buffered; the target follows the RFC 3550 interarrival-jitter estimate (four times the jitter,
  in whole frames, within [min_ms, max_ms]), and when more than a frame beyond the target has
  piled up the oldest packet is dropped, so a burst does not leave the stream permanently late.
- Loss concealment: a missing packet is replaced by the previous one at half the amplitude, then a
  quarter, an eighth; after `MAX_CONCEALED` packets in a row the stream is treated as paused and
  plays silence until the buffer refills.
- Packet sizes may vary (SIPp's capture uses 30 ms packets): output frames are cut from a
  carry-over of decoded samples, so any ptime works.
"""

from __future__ import annotations

import math

import numpy as np

from .g711 import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from .rtp import seq_delta

MAX_CONCEALED = 3
#: Packets held at most; beyond it (a sender far ahead of us, or a flood) the buffer resets.
MAX_PACKETS = 64


class JitterBuffer:
    def __init__(self, *, min_ms: int = 40, max_ms: int = 200) -> None:
        self.min_ms = min_ms
        self.max_ms = max_ms
        self.target_ms = min_ms
        self._packets: dict[int, Pcm] = {}
        self._buffered_samples = 0
        self._highest: int | None = None
        self._next: int | None = None
        self._playing = False
        self._carry: Pcm = np.zeros(0, dtype=np.int16)
        self._last: Pcm | None = None
        self._concealed_run = 0
        self._excess_reads = 0
        self._transit: float | None = None
        self.jitter_ms = 0.0
        self.late = 0
        self.duplicates = 0
        self.concealed = 0
        self.trimmed = 0

    def reset(self) -> None:
        """Forget the stream (its source changed); counters are kept."""
        self._packets.clear()
        self._buffered_samples = 0
        self._highest = self._next = None
        self._playing = False
        self._carry = np.zeros(0, dtype=np.int16)
        self._last = None
        self._concealed_run = 0
        self._transit = None

    def put(self, seq: int, timestamp: int, pcm: Pcm, arrival: float) -> bool:
        """Store one packet's decoded samples; False if it came too late or twice."""
        if self._highest is None:
            ext = seq
            self._highest = seq
        else:
            ext = self._highest + seq_delta(seq, self._highest & 0xFFFF)
            if ext > self._highest:
                self._highest = ext
        if self._next is not None and ext < self._next:
            self.late += 1
            return False
        if ext in self._packets:
            self.duplicates += 1
            return False
        if len(self._packets) >= MAX_PACKETS or (
            self._next is not None and ext - self._next > MAX_PACKETS
        ):
            self.reset()
            self._highest = ext
        self._packets[ext] = pcm
        self._buffered_samples += len(pcm)
        self._update_jitter(timestamp, arrival)
        return True

    def _update_jitter(self, timestamp: int, arrival: float) -> None:
        transit = arrival * 1000.0 - timestamp * 1000.0 / SAMPLE_RATE
        if self._transit is not None:
            d = abs(transit - self._transit)
            if d < 10_000:  # a timestamp jump is a new talk spurt, not jitter
                self.jitter_ms += (d - self.jitter_ms) / 16.0
        self._transit = transit
        frames = math.ceil(4.0 * self.jitter_ms / 20.0) + 1
        self.target_ms = max(self.min_ms, min(self.max_ms, frames * 20))

    @property
    def buffered_ms(self) -> int:
        return (self._buffered_samples + len(self._carry)) * 1000 // SAMPLE_RATE

    def read(self, samples: int = FRAME_SAMPLES) -> Pcm | None:
        """The next `samples` of audio, or None while nothing is playing (silence)."""
        carry = self._carry
        while len(carry) < samples:
            pcm = self._next_packet(samples - len(carry))
            if pcm is None:
                break
            carry = pcm if not len(carry) else np.concatenate((carry, pcm))
        if not len(carry):
            self._carry = carry
            return None
        if len(carry) < samples:
            carry = np.concatenate((carry, np.zeros(samples - len(carry), dtype=np.int16)))
        self._carry = carry[samples:]
        return carry[:samples]

    def _take(self, ext: int) -> Pcm:
        pcm = self._packets.pop(ext)
        self._buffered_samples -= len(pcm)
        return pcm

    def _next_packet(self, wanted: int) -> Pcm | None:
        if not self._playing:
            if not self._packets or self.buffered_ms < self.target_ms:
                return None
            self._playing = True
            self._next = min(self._packets)
        assert self._next is not None
        if self._buffered_samples * 1000 // SAMPLE_RATE > self.target_ms + 20:
            self._excess_reads += 1
            if self._excess_reads >= 10 and self._next in self._packets:
                self._take(self._next)  # time compression: drop one packet, once per 10 reads
                self._next += 1
                self.trimmed += 1
                self._excess_reads = 0
        else:
            self._excess_reads = 0
        if self._next in self._packets:
            pcm = self._take(self._next)
            self._next += 1
            self._last = pcm
            self._concealed_run = 0
            return pcm
        if self._concealed_run >= MAX_CONCEALED and not self._packets:
            self._playing = False  # the source paused or stopped: wait for the buffer to refill
            return None
        self._next += 1
        self._concealed_run += 1
        self.concealed += 1
        if self._last is None or self._concealed_run > MAX_CONCEALED:
            return np.zeros(len(self._last) if self._last is not None else wanted, dtype=np.int16)
        return (self._last >> self._concealed_run).astype(np.int16)
