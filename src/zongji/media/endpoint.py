"""One RTP session with one peer: receive, validate, latch, count; send generated or relayed audio.

`datagram_received` is the engine's hottest code: every packet of every call passes through it.
It validates with a handful of integer tests on the raw bytes and builds no packet object; the
slow paths (a new source address, a new SSRC, an unusual header) are separate methods. A packet
is either used or counted under a `DropReason` — garbage, floods and stray streams never reach
the jitter buffer or the peer, and never disturb the stream the endpoint has locked on to.

Outgoing packets come from one of two places, and the endpoint keeps the sequence numbers and
timestamps it sends continuous across the switch (RFC 3550 §5.1 wants one SSRC's numbering to
be unbroken, and phones resynchronise badly otherwise):
- generated audio (player, conference mix, DTMF events) once per clock tick, and
- relayed packets from a bridged partner, forwarded the moment they arrive, with the header
  rewritten into this endpoint's SSRC and numbering, and the payload translated when the two
  sides use different G.711 laws.
While something is generated for the endpoint (a prompt during a call), relayed audio to it is
held back; relayed telephone-events always pass.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Callable
from typing import Any, cast

from . import g711
from .api import Address, DtmfMethod, EndpointSpec
from .dtmf import TelephoneEventReceiver, TelephoneEventSender
from .dtmf_inband import InbandDtmfDetector
from .g711 import FRAME_SAMPLES, SAMPLE_RATE, Codec, Pcm
from .jitter import JitterBuffer
from .player import Player
from .recorder import Recorder
from .red import parse_red
from .rtcp import (
    ReceiverReport,
    ReportBlock,
    RtcpError,
    SenderReport,
    SourceDescription,
    build_compound,
    build_goodbye,
    ntp_middle,
    ntp_now,
    parse_rtcp,
    round_trip_seconds,
)
from .rtp import FIXED_HEADER, MAX_PACKET_SIZE, SEQ_TS_SSRC, RtpError, build_rtp, header_layout
from .stats import BAD, OK, EndpointStats, ReceptionStats

PT_COMFORT_NOISE = 13
#: A latched peer silent this long may be replaced by a new source address (it moved, or its
#: NAT binding changed).
RELATCH_AFTER = 1.0
#: A new SSRC takes over after this many consecutive, in-sequence packets with no packet from
#: the current one in between, spread over at least `_SSRC_MIN_SECONDS`.
SSRC_PROBATION = 3
_SSRC_MIN_SECONDS = 0.03

DigitSink = Callable[["RtpEndpoint", str, DtmfMethod], None]


class _RtcpPort(asyncio.DatagramProtocol):
    def __init__(self, endpoint: RtpEndpoint) -> None:
        self.endpoint = endpoint

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.endpoint.rtcp_received(data, addr)


class RtpEndpoint(asyncio.DatagramProtocol):
    def __init__(
        self,
        endpoint_id: str,
        spec: EndpointSpec,
        rtp_sock: socket.socket,
        rtcp_sock: socket.socket | None,
        *,
        cname: bytes,
        on_digit: DigitSink,
        local: Address | None = None,
        local_rtcp: Address | None = None,
    ) -> None:
        """`local`, `local_rtcp`: the sockets' addresses when already known (a parked port's),
        else asked of the sockets."""
        self.id = endpoint_id
        self.sock = rtp_sock
        self.rtcp_sock = rtcp_sock
        self.local: Address = local if local is not None else rtp_sock.getsockname()[:2]
        if rtcp_sock is None:
            self.local_rtcp: Address = self.local
        else:
            self.local_rtcp = local_rtcp if local_rtcp is not None else rtcp_sock.getsockname()[:2]
        self.cname = cname
        self._on_digit = on_digit
        self.stats = EndpointStats()
        self.transport: asyncio.DatagramTransport | None = None
        self.rtcp_transport: asyncio.DatagramTransport | None = None
        # incoming
        self._source: Address | None = None
        self._last_rx = time.monotonic()
        self._in_ssrc: int | None = None
        self._reception: ReceptionStats | None = None
        self._candidate: int | None = None
        self._candidate_run = 0
        self._candidate_seq = 0
        self._candidate_since = 0.0
        self._dtmf_rx = TelephoneEventReceiver()
        self._seen_telephone_events = False
        self._lsr = 0
        self._lsr_at = 0.0
        # outgoing
        self.ssrc = random.getrandbits(32)
        self._seq = random.getrandbits(16)
        self._ts = random.getrandbits(32)
        self._last_out = 0.0
        self._relaying = False  # True while the last packet sent was relayed
        self._relay_from: int | None = None
        self._seq_off = 0
        self._ts_off = 0
        self._ts_base = 0
        self._sent_since_report = False
        self._octets_sent = 0
        # attachments
        self.peer: RtpEndpoint | None = None
        self._translate: bytes | None = None
        self._peer_te_pt: int | None = None
        self.jitter: JitterBuffer | None = None
        self.inband: InbandDtmfDetector | None = None
        self.player: Player | None = None
        self.playback_id = ""
        self.recorder: Recorder | None = None
        self.recording_id = ""
        self.dtmf_tx: TelephoneEventSender | None = None
        #: Key tones played in the audio, for a peer without telephone-event.
        self.dtmf_tones: Player | None = None
        self.conference: str | None = None
        #: When a MediaTimeout was last reported (packets after it re-arm the check).
        self.timeout_reported_at: float | None = None
        self.next_rtcp_tick = 0
        #: Timestamp of the telephone-event being sent (all its packets carry its start time).
        self.event_ts = 0
        self.apply(spec)

    # --- configuration ------------------------------------------------------------------

    def apply(self, spec: EndpointSpec) -> None:
        """Take on a (new) SDP description of the peer."""
        self.spec = spec
        self.codec: Codec = spec.codec
        self._pt = spec.codec.payload_type
        self._te_pt = spec.telephone_event_pt if spec.telephone_event_pt is not None else -1
        self._red_pt = spec.red_pt if spec.red_pt is not None else -1
        self.remote: Address | None = spec.remote
        if spec.remote_rtcp is not None:
            self.remote_rtcp: Address | None = spec.remote_rtcp
        elif spec.remote is not None:
            host, port = spec.remote
            self.remote_rtcp = spec.remote if spec.rtcp_mux else (host, port + 1)
        else:
            self.remote_rtcp = None
        self._source = None  # learn the source again: the peer may have moved
        if spec.inband_dtmf and self.inband is None:
            self.inband = InbandDtmfDetector()
        elif not spec.inband_dtmf:
            self.inband = None
        if self.peer is not None:
            self.peer._relink()
            self._relink()
        self.update_listening()

    def _relink(self) -> None:
        """Recompute what relaying from `peer` to this endpoint needs (after either changed)."""
        peer = self.peer
        if peer is None:
            return
        self._translate = g711.transcode_table(peer.codec, self.codec)
        self._peer_te_pt = self._te_pt if self._te_pt >= 0 else None

    def update_listening(self) -> None:
        """Keep a jitter buffer only while something consumes audio on the clock."""
        wanted = self.conference is not None or self.recorder is not None or self.inband is not None
        if wanted and self.jitter is None:
            self.jitter = JitterBuffer()
        elif not wanted and self.jitter is not None:
            self._fold_jitter_counters(self.jitter)
            self.jitter = None

    def _fold_jitter_counters(self, jitter: JitterBuffer) -> None:
        """Keep a retired jitter buffer's counts: an endpoint's statistics never go backwards."""
        s = self.stats
        s.concealed_frames += jitter.concealed
        s.dropped_late += jitter.late
        s.dropped_duplicate += jitter.duplicates

    @property
    def generating(self) -> bool:
        """Whether audio for the peer comes from the clock (which holds back relayed audio)."""
        return (
            self.player is not None
            or self.dtmf_tx is not None
            or self.dtmf_tones is not None
            or self.conference is not None
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a peer that has gone. Nothing to do here: a peer that
        # stays gone shows as a MediaTimeout, and call control ends the call.
        pass

    async def open(self, loop: asyncio.AbstractEventLoop) -> None:
        await loop.create_datagram_endpoint(lambda: self, sock=self.sock)
        if self.rtcp_sock is not None:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _RtcpPort(self), sock=self.rtcp_sock
            )
            self.rtcp_transport = transport

    def adopt(
        self,
        transport: asyncio.DatagramTransport,
        rtcp_transport: asyncio.DatagramTransport | None,
    ) -> None:
        """Take over the open transports of an ended endpoint's parked port (`spare.py`), as
        `open` would have made them: no system call."""
        transport.set_protocol(self)
        self.connection_made(transport)
        if rtcp_transport is not None:
            rtcp_transport.set_protocol(_RtcpPort(self))
            self.rtcp_transport = rtcp_transport

    def detach(
        self,
    ) -> tuple[asyncio.DatagramTransport | None, asyncio.DatagramTransport | None]:
        """Let go of the open transports (to be parked for another endpoint): this ended
        endpoint can send nothing more, and closing it later closes nothing of its successor."""
        transports = (self.transport, self.rtcp_transport)
        self.transport = self.rtcp_transport = None
        return transports

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.rtcp_transport is not None:
            self.rtcp_transport.close()

    def snapshot(self) -> EndpointStats:
        s = self.stats
        if self._reception is not None:
            s.packets_lost = max(0, self._reception.cumulative_lost)
            s.jitter_ms = self._reception.jitter * 1000.0 / SAMPLE_RATE
        snap = s.copy()
        jitter = self.jitter
        if jitter is not None:
            snap.concealed_frames += jitter.concealed
            snap.dropped_late += jitter.late
            snap.dropped_duplicate += jitter.duplicates
            snap.jitter_buffer_ms = jitter.target_ms
        return snap

    # --- receiving ----------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: Any) -> None:
        stats = self.stats
        n = len(data)
        if n < 12:
            stats.dropped_truncated += 1
            return
        if n > MAX_PACKET_SIZE:
            stats.dropped_oversized += 1
            return
        b0 = data[0]
        if b0 & 0xC0 != 0x80:
            stats.dropped_bad_version += 1
            return
        b1 = data[1]
        if 192 <= b1 <= 223:
            if self.spec.rtcp_mux:
                self.rtcp_received(data, addr)
            else:
                stats.dropped_unknown_payload_type += 1
            return
        pt = b1 & 0x7F
        if pt != self._pt and pt != self._te_pt and pt != PT_COMFORT_NOISE and pt != self._red_pt:
            stats.dropped_unknown_payload_type += 1
            return
        now = time.monotonic()
        if addr != self._source and not self._accept_source(addr, now):
            stats.dropped_unknown_source += 1
            return
        seq, ts, ssrc = SEQ_TS_SSRC.unpack_from(data, 2)
        if ssrc != self._in_ssrc:
            if not self._accept_ssrc(ssrc, seq, now):
                stats.dropped_wrong_ssrc += 1
                return
        elif self._candidate is not None:
            self._candidate = None  # the current source is alive: the newcomer is an intruder
        start, end = 12, n
        if b0 & 0x3F:
            try:
                layout = header_layout(data)
            except RtpError:
                stats.dropped_truncated += 1
                return
            start, end = layout.payload_start, layout.payload_end
        self._last_rx = now
        stats.packets_received += 1
        stats.bytes_received += n
        assert self._reception is not None
        accepted = self._reception.update(seq, ts, int(now * SAMPLE_RATE))
        if accepted != OK:
            if accepted == BAD:
                # far out of sequence (RFC 3550 A.1): a stray, or a restart to confirm
                stats.dropped_out_of_sequence += 1
                return
            self._restarted()
        if pt == self._pt:
            peer = self.peer
            if peer is not None and not peer.generating:
                peer.relay(data, start, end, seq, ts, ssrc, now, False)
            jitter = self.jitter
            if jitter is not None:
                jitter.put(seq, ts, g711.decode(self.codec, data[start:end]), now)
        elif pt == self._te_pt:
            self._seen_telephone_events = True
            digit = self._dtmf_rx.receive(ts, bool(b1 & 0x80), data[start:end])
            if self.peer is not None:
                self.peer.relay(data, start, end, seq, ts, ssrc, now, True)
            if digit is not None:
                stats.dtmf_received += 1
                self._on_digit(self, digit, DtmfMethod.RFC4733)
        elif pt == self._red_pt:
            self._redundant_events(data, start, end, seq, ts, ssrc, now, bool(b1 & 0x80))
        # comfort noise (PT 13): the peer is silent; nothing to play or forward

    def _redundant_events(
        self,
        data: bytes,
        start: int,
        end: int,
        seq: int,
        ts: int,
        ssrc: int,
        now: float,
        marker: bool,
    ) -> None:
        """RFC 2198 blocks of telephone-events: each press reported once, even if only a
        redundant copy of its start arrived; the primary block is relayed as a plain event."""
        blocks = parse_red(data[start:end])
        if blocks is None:
            self.stats.dropped_truncated += 1
            return
        self._seen_telephone_events = True
        for i, block in enumerate(blocks):
            if block.payload_type != self._te_pt:
                continue
            primary = i == len(blocks) - 1
            block_ts = (ts - block.timestamp_offset) & 0xFFFFFFFF
            digit = self._dtmf_rx.receive(block_ts, marker and primary, block.data)
            if digit is not None:
                self.stats.dtmf_received += 1
                self._on_digit(self, digit, DtmfMethod.RFC4733)
            if primary and self.peer is not None:
                plain = data[:start] + block.data
                self.peer.relay(plain, start, len(plain), seq, ts, ssrc, now, True)

    def _accept_source(self, addr: Address, now: float) -> bool:
        """Symmetric RTP: lock on to the first source, or to a new one after silence."""
        if self.spec.symmetric:
            if self._source is not None and now - self._last_rx < RELATCH_AFTER:
                return False
        elif addr != self.remote:
            return False
        self._source = addr
        if self.spec.symmetric:
            self.remote = addr
            self.remote_rtcp = (
                addr if self.spec.rtcp_mux else self.spec.remote_rtcp or (addr[0], addr[1] + 1)
            )
            self.stats.latches += 1
        return True

    def _accept_ssrc(self, ssrc: int, seq: int, now: float) -> bool:
        """The first SSRC is taken at once; a later one must prove itself (SSRC_PROBATION)."""
        if self._in_ssrc is not None:
            if ssrc != self._candidate or seq != (self._candidate_seq + 1) & 0xFFFF:
                self._candidate, self._candidate_run, self._candidate_since = ssrc, 1, now
                self._candidate_seq = seq
                return False
            self._candidate_run += 1
            self._candidate_seq = seq
            if (
                self._candidate_run < SSRC_PROBATION
                or now - self._candidate_since < _SSRC_MIN_SECONDS
            ):
                return False
        self._in_ssrc = ssrc
        self._candidate = None
        self._reception = ReceptionStats(ssrc, seq)
        if self.jitter is not None:
            self.jitter.reset()
        return True

    def _restarted(self) -> None:
        """The source renumbered its stream (RFC 3550 A.1): its old timing means nothing now."""
        self._dtmf_rx = TelephoneEventReceiver()
        if self.jitter is not None:
            self.jitter.reset()

    def rtcp_received(self, data: bytes, addr: Address) -> None:
        stats = self.stats
        known = self._source or self.remote
        if known is None or addr[0] != known[0]:
            stats.dropped_unknown_source += 1
            return
        try:
            packets = parse_rtcp(data)
        except RtcpError:
            stats.dropped_bad_rtcp += 1
            return
        stats.rtcp_received += 1
        if self.spec.symmetric:
            self.remote_rtcp = addr  # behind NAT, RTCP's port is not RTP's plus one
        now_ntp = ntp_now()
        for p in packets:
            if isinstance(p, SenderReport):
                self._lsr, self._lsr_at = ntp_middle(p.ntp_timestamp), time.monotonic()
            if isinstance(p, SenderReport | ReceiverReport):
                for block in p.reports:
                    if block.ssrc == self.ssrc:
                        stats.remote_fraction_lost = block.fraction_lost / 256.0
                        stats.remote_jitter_ms = block.jitter * 1000.0 / SAMPLE_RATE
                        rtt = round_trip_seconds(block, now_ntp)
                        if rtt is not None:
                            stats.round_trip_ms = rtt * 1000.0

    # --- sending ------------------------------------------------------------------------

    def relay(
        self,
        data: bytes,
        start: int,
        end: int,
        seq: int,
        ts: int,
        ssrc: int,
        now: float,
        event: bool,
    ) -> None:
        """Forward a packet from the bridged partner to our peer, in our numbering."""
        remote = self.remote
        if remote is None or self.transport is None:
            return
        if event:
            if self._peer_te_pt is None:
                return  # the peer cannot take telephone-events; call control has the digit
            pt = self._peer_te_pt
        else:
            pt = self._pt
        marker = data[1] & 0x80
        if not self._relaying or ssrc != self._relay_from:
            self._resync_relay(ssrc, seq, ts, now)
            marker = 0x80
        out = bytearray(data)
        out[1] = marker | pt
        out_seq = (seq + self._seq_off) & 0xFFFF
        out_ts = (ts + self._ts_off) & 0xFFFFFFFF
        SEQ_TS_SSRC.pack_into(out, 2, out_seq, out_ts, self.ssrc)
        if self._translate is not None and not event:
            out[start:end] = data[start:end].translate(self._translate)
        self.transport.sendto(out, remote)
        # numbering continues from the newest relayed packet, whatever order they came in
        if (out_seq - self._seq) & 0xFFFF < 0x8000:
            self._seq, self._ts = out_seq, out_ts
        self._last_out = now
        stats = self.stats
        stats.packets_sent += 1
        stats.packets_relayed += 1
        stats.bytes_sent += len(out)
        self._octets_sent += end - start
        self._sent_since_report = True

    def _resync_relay(self, ssrc: int, seq: int, ts: int, now: float) -> None:
        gap = max(FRAME_SAMPLES, round((now - self._last_out) * SAMPLE_RATE))
        self._seq_off = (self._seq + 1 - seq) & 0xFFFF
        self._ts_off = (self._ts + gap - ts) & 0xFFFFFFFF
        self._relay_from = ssrc
        self._relaying = True

    def next_generated(self, tick: int, now: float) -> tuple[int, int, bool]:
        """Sequence number, timestamp and marker for the next generated packet of `tick`."""
        marker = False
        if self._relaying or self._last_out == 0.0:
            gap = max(FRAME_SAMPLES, round((now - self._last_out) * SAMPLE_RATE))
            self._ts_base = (self._ts + gap - tick * FRAME_SAMPLES) & 0xFFFFFFFF
            self._relaying = False
            marker = True
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts_base + tick * FRAME_SAMPLES) & 0xFFFFFFFF
        return self._seq, self._ts, marker

    def send_payload(
        self,
        payload: bytes,
        tick: int,
        now: float,
        *,
        csrcs: tuple[int, ...] = (),
        pt: int | None = None,
        marker: bool = False,
        timestamp: int | None = None,
    ) -> int:
        """Send one generated packet; returns the timestamp used."""
        seq, ts, first = self.next_generated(tick, now)
        if timestamp is not None:
            ts = timestamp
        b1 = (self._pt if pt is None else pt) | (0x80 if marker or first else 0)
        if csrcs:
            packet = build_rtp(
                b1 & 0x7F, seq, ts, self.ssrc, payload, marker=b1 > 0x7F, csrcs=csrcs
            )
        else:  # the common case, without build_rtp's generality: one pack, one concatenation
            packet = FIXED_HEADER.pack(0x80, b1, seq, ts, self.ssrc) + payload
        remote = self.remote
        if remote is not None and self.transport is not None:
            self.transport.sendto(packet, remote)
            stats = self.stats
            stats.packets_sent += 1
            stats.bytes_sent += len(packet)
            self._octets_sent += len(payload)
            self._sent_since_report = True
        self._last_out = now
        return ts

    @property
    def last_rx(self) -> float:
        """Monotonic time of the last packet accepted (or of creation)."""
        return self._last_rx

    @property
    def in_ssrc(self) -> int | None:
        return self._in_ssrc

    @property
    def telephone_event_pt(self) -> int | None:
        return self._te_pt if self._te_pt >= 0 else None

    @property
    def telephone_events_seen(self) -> bool:
        return self._seen_telephone_events

    def digit_detected_inband(self, digit: str) -> None:
        self.stats.dtmf_received += 1
        self._on_digit(self, digit, DtmfMethod.INBAND)

    def decode_input(self) -> Pcm | None:
        """This tick's frame of the peer's audio, from the jitter buffer."""
        return self.jitter.read() if self.jitter is not None else None

    def send_rtcp(self) -> None:
        """Send a compound report: SR if we sent media since the last one, else RR; then SDES."""
        target = self.remote_rtcp
        transport = self.transport if self.spec.rtcp_mux else self.rtcp_transport
        if target is None or transport is None:
            return
        blocks = []
        rec = self._reception
        if rec is not None:
            dlsr = 0
            if self._lsr:
                dlsr = int((time.monotonic() - self._lsr_at) * 65536) & 0xFFFFFFFF
            blocks.append(
                ReportBlock(
                    rec.ssrc,
                    rec.interval_fraction_lost(),
                    rec.cumulative_lost,
                    rec.extended_max_seq,
                    int(rec.jitter),
                    self._lsr,
                    dlsr,
                )
            )
        report: SenderReport | ReceiverReport
        if self._sent_since_report:
            report = SenderReport(
                self.ssrc,
                ntp_now(),
                self._ts,
                self.stats.packets_sent,
                self._octets_sent,
                blocks,
            )
        else:
            report = ReceiverReport(self.ssrc, blocks)
        self._sent_since_report = False
        sdes = SourceDescription([(self.ssrc, {1: self.cname})])
        transport.sendto(build_compound([report, sdes]), target)
        self.stats.rtcp_sent += 1

    def send_bye(self) -> None:
        target = self.remote_rtcp
        transport = self.transport if self.spec.rtcp_mux else self.rtcp_transport
        if target is None or transport is None:
            return
        transport.sendto(build_goodbye(self.ssrc), target)
