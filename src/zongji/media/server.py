"""`LocalMediaServer`: the media engine in this process, on this event loop.

It owns the clock, the port allocator, the endpoints and the conferences, and implements the
`MediaServer` protocol of `api.py`. Requests are plain data; so are events, which go into one
queue that call control drains with `events()`.

Each clock tick does the engine's periodic work in one pass, batched where numpy can batch:
1. read one frame from each listening endpoint's jitter buffer;
2. in-band DTMF detection and recorders consume those frames;
3. each conference mixes its members' frames;
4. every endpoint that generates audio this tick (DTMF events, a player, a conference mix) gets
   its frame; frames are G.711-encoded per codec in one table lookup, then sent;
5. RTCP reports and media-timeout checks, spread out over ticks.
Relayed calls are not on the tick at all: their packets are forwarded as they arrive.

Only endpoints with clock work are visited per tick: those listening (a jitter buffer) or
generating. The server puts an endpoint on that list whenever it gives it such work (a player,
DTMF, a conference, a recorder, in-band detection), and the tick drops the ones whose work has
ended; RTCP reports are due from a heap by tick. So a node full of relayed calls, or calls with no
RTP at all, costs the clock nothing per endpoint on most ticks.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import socket
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import g711
from .api import (
    ActiveSpeakerChanged,
    Digits,
    DtmfMethod,
    DtmfReceived,
    EndpointInfo,
    EndpointSpec,
    File,
    MediaError,
    MediaEvent,
    MediaServer,
    MediaTimeout,
    PlaybackEnd,
    PlaybackFinished,
    PlayItem,
    Prompt,
    RecordingFinished,
    ServerStats,
    Silence,
    SpeakingChanged,
    Tone,
)
from .clock import Clock, MediaClock
from .dtmf import DIGITS, TelephoneEventSender, digit_code
from .endpoint import RtpEndpoint
from .g711 import FRAME_SAMPLES, SAMPLE_RATE, Codec, Pcm
from .mixer import ConferenceFull, ConferenceMixer
from .player import Player
from .ports import NoPortAvailable, PortAllocator
from .prompts.store import PromptError, PromptStore
from .recorder import Recorder, RecordingEnd
from .spare import QUARANTINE_SECONDS, SparePorts
from .stats import EndpointStats
from .tones import dtmf_tone, render_tone

#: RTCP every 5 s on average (RFC 3550 §6.2's minimum), randomised ±50% so that endpoints
#: created together do not report together.
RTCP_TICKS = 250
#: Silence between key tones sent in-band (ITU-T Q.24 wants at least 40 ms).
DTMF_GAP_MS = 60


def _check_spec(spec: EndpointSpec) -> None:
    """Refuse what SDP may carry but RTP cannot work with."""
    dynamic = [spec.telephone_event_pt, spec.red_pt]
    for pt in dynamic:
        if pt is None:
            continue
        if not 0 <= pt <= 127 or pt == spec.codec.payload_type or dynamic.count(pt) > 1:
            raise MediaError(f"payload type {pt} is not usable for telephone-events")
        if spec.rtcp_mux and 64 <= pt <= 95:
            raise MediaError(f"payload type {pt} collides with RTCP under rtcp-mux (RFC 5761)")
    if spec.red_pt is not None and spec.telephone_event_pt is None:
        raise MediaError("red for telephone-events needs a telephone-event payload type")
    for addr in (spec.remote, spec.remote_rtcp):
        if addr is not None and not 0 < addr[1] < 65536:
            raise MediaError(f"bad remote address {addr}")
    if spec.media_timeout is not None and spec.media_timeout <= 0:
        raise MediaError("media_timeout must be positive")


def _digit_set(digits: str) -> frozenset[str]:
    try:
        return frozenset(DIGITS[digit_code(d)] for d in digits)
    except ValueError as e:
        raise MediaError(str(e)) from None


@dataclass
class _Conference:
    id: str
    mixer: ConferenceMixer
    members: dict[str, RtpEndpoint] = field(default_factory=dict)
    player: Player | None = None
    playback_id: str = ""


class LocalMediaServer:
    """The engine in-process. Use `async with LocalMediaServer(...) as media:`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port_min: int = 20000,
        port_max: int = 20999,
        clock: Clock | None = None,
        prompts: PromptStore | None = None,
        cname: str | None = None,
        spare_quarantine: float = QUARANTINE_SECONDS,
    ) -> None:
        self.host = host
        self.ports = PortAllocator(host, port_min, port_max)
        #: Ended endpoints' open ports, for the next endpoints (`spare.py`).
        self.spares = SparePorts(spare_quarantine)
        self.clock: Clock = clock if clock is not None else MediaClock()
        self.prompts = prompts if prompts is not None else PromptStore()
        self._cname = (cname or f"zongji@{socket.gethostname()}").encode()
        self._endpoints: dict[str, RtpEndpoint] = {}
        #: endpoints that may have work on the tick (listening or generating): see `_wake`
        self._on_clock: dict[str, RtpEndpoint] = {}
        #: (tick, endpoint id) of each endpoint's next RTCP report; ended endpoints' entries
        #: are dropped when they come due
        self._rtcp_due: list[tuple[int, str]] = []
        self._conferences: dict[str, _Conference] = {}
        self._events: asyncio.Queue[MediaEvent] = asyncio.Queue()
        self._ids = itertools.count(1)
        self._pending: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._loop = asyncio.get_running_loop()
        self.clock.add_listener(self._on_tick)
        if isinstance(self.clock, MediaClock):
            self.clock.start()
        self._started = True

    async def close(self) -> None:
        for endpoint_id in list(self._endpoints):
            await self.destroy_endpoint(endpoint_id)
        for port in self.spares.close_all():
            self.ports.release(port)
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._started:
            self.clock.remove_listener(self._on_tick)
            if isinstance(self.clock, MediaClock):
                self.clock.stop()
            self._started = False

    async def __aenter__(self) -> LocalMediaServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _new_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids)}-{random.getrandbits(32):08x}"

    def _endpoint(self, endpoint_id: str) -> RtpEndpoint:
        try:
            return self._endpoints[endpoint_id]
        except KeyError:
            raise MediaError(f"no endpoint {endpoint_id!r}") from None

    def _conference(self, conference_id: str) -> _Conference:
        try:
            return self._conferences[conference_id]
        except KeyError:
            raise MediaError(f"no conference {conference_id!r}") from None

    def _emit(self, event: MediaEvent) -> None:
        self._events.put_nowait(event)

    async def events(self) -> AsyncIterator[MediaEvent]:
        while True:
            yield await self._events.get()

    async def next_event(self) -> MediaEvent:
        return await self._events.get()

    # --- endpoints --------------------------------------------------------------------------

    async def create_endpoint(self, spec: EndpointSpec) -> EndpointInfo:
        if not self._started or self._loop is None:
            raise MediaError("the media server is not started")
        _check_spec(spec)
        spare = self.spares.take(rtcp=not spec.rtcp_mux)
        local = local_rtcp = None
        if spare is not None:
            rtp_sock, rtcp_sock = spare.sock, spare.rtcp_sock
            local, local_rtcp = spare.local, spare.local_rtcp
        else:
            rtp_sock, rtcp_sock = await self._allocate(rtcp=not spec.rtcp_mux)
        endpoint = RtpEndpoint(
            self._new_id("ep"),
            spec,
            rtp_sock,
            rtcp_sock,
            cname=self._cname,
            on_digit=self._on_digit,
            local=local,
            local_rtcp=local_rtcp,
        )
        if spare is not None:
            endpoint.adopt(spare.transport, spare.rtcp_transport)
        else:
            try:
                await endpoint.open(self._loop)
            except OSError as e:
                endpoint.close()
                self.ports.release(endpoint.local[1])
                raise MediaError(f"cannot open RTP socket: {e}") from e
        endpoint.next_rtcp_tick = self.clock.tick + random.randint(RTCP_TICKS // 2, RTCP_TICKS)
        heapq.heappush(self._rtcp_due, (endpoint.next_rtcp_tick, endpoint.id))
        self._endpoints[endpoint.id] = endpoint
        self._wake(endpoint)
        return self._info(endpoint)

    def _wake(self, ep: RtpEndpoint) -> None:
        """Put `ep` on the clock if it listens or generates; called wherever the server gives
        an endpoint clock work. The tick takes it off again once it has none."""
        if ep.jitter is not None or ep.generating:
            self._on_clock[ep.id] = ep

    async def _allocate(self, *, rtcp: bool) -> tuple[socket.socket, socket.socket | None]:
        """New sockets; when the range is used up, the parked ports are given back first."""
        try:
            return self.ports.allocate(rtcp=rtcp)
        except NoPortAvailable as e:
            released = self.spares.close_all()
            for port in released:
                self.ports.release(port)
            if not released:
                raise MediaError(str(e)) from e
            await asyncio.sleep(0)  # the loop closes the transports' sockets on its next turn
        try:
            return self.ports.allocate(rtcp=rtcp)
        except NoPortAvailable as e:
            raise MediaError(str(e)) from e

    def _info(self, ep: RtpEndpoint) -> EndpointInfo:
        return EndpointInfo(ep.id, ep.local, ep.local_rtcp, ep.ssrc, ep.spec)

    async def update_endpoint(self, endpoint_id: str, spec: EndpointSpec) -> EndpointInfo:
        ep = self._endpoint(endpoint_id)
        _check_spec(spec)
        if spec.rtcp_mux != ep.spec.rtcp_mux:
            raise MediaError("rtcp-mux cannot change on an existing endpoint")
        ep.apply(spec)
        self._wake(ep)
        return self._info(ep)

    async def destroy_endpoint(self, endpoint_id: str) -> EndpointStats:
        ep = self._endpoint(endpoint_id)
        if ep.peer is not None:
            await self.disconnect(endpoint_id)
        if ep.conference is not None:
            await self.remove_member(ep.conference, endpoint_id)
        self._finish_playback(ep, PlaybackEnd.TARGET_GONE)
        self._finish_recording(ep, RecordingEnd.ENDPOINT_GONE)
        ep.send_bye()
        del self._endpoints[endpoint_id]
        self._on_clock.pop(endpoint_id, None)
        port = ep.local[1]
        transport, rtcp_transport = ep.detach()
        if not self.spares.park(
            port,
            ep.sock,
            ep.rtcp_sock,
            transport,
            rtcp_transport,
            local=ep.local,
            local_rtcp=ep.local_rtcp,
        ):
            for open_transport in (transport, rtcp_transport):
                if open_transport is not None:
                    open_transport.close()
            self.ports.release(port)
        return ep.snapshot()

    async def endpoint_stats(self, endpoint_id: str) -> EndpointStats:
        return self._endpoint(endpoint_id).snapshot()

    async def server_stats(self) -> ServerStats:
        clock_stats = (
            self.clock.stats()
            if isinstance(self.clock, MediaClock)
            else MediaClock().stats()  # a manual clock has no lateness to report
        )
        return ServerStats(
            len(self._endpoints),
            len(self._conferences),
            self.ports.in_use - len(self.spares),  # parked ports are free for the next endpoint
            clock_stats,
        )

    # --- relay ------------------------------------------------------------------------------

    async def connect(self, a: str, b: str) -> None:
        ea, eb = self._endpoint(a), self._endpoint(b)
        if ea is eb:
            raise MediaError("cannot connect an endpoint to itself")
        for ep in (ea, eb):
            if ep.conference is not None:
                raise MediaError(f"endpoint {ep.id} is in a conference")
            if ep.peer is not None:
                await self.disconnect(ep.id)
        ea.peer, eb.peer = eb, ea
        ea._relink()
        eb._relink()

    async def disconnect(self, endpoint_id: str) -> None:
        ep = self._endpoint(endpoint_id)
        peer = ep.peer
        ep.peer = None
        if peer is not None:
            peer.peer = None

    # --- playback ---------------------------------------------------------------------------

    def _render(self, items: Sequence[PlayItem]) -> list[Pcm]:
        segments: list[Pcm] = []
        try:
            for item in items:
                if isinstance(item, Prompt):
                    segments.append(self.prompts.prompt(item.name, item.language))
                elif isinstance(item, File):
                    segments.append(self.prompts.file(item.path))
                elif isinstance(item, Silence):
                    segments.append(np.zeros(item.ms * SAMPLE_RATE // 1000, dtype=np.int16))
                elif isinstance(item, Tone):
                    seconds = None if item.ms is None else item.ms / 1000
                    segments.append(render_tone(item.kind, seconds))
                elif isinstance(item, Digits):
                    gap = np.zeros(item.gap_ms * SAMPLE_RATE // 1000, dtype=np.int16)
                    for d in item.digits:
                        if not d.isdigit():
                            raise MediaError(f"cannot read out {d!r}")
                        segments.append(self.prompts.prompt(f"digit_{d}", item.language))
                        segments.append(gap)
                else:  # pragma: no cover - exhaustive over PlayItem
                    raise MediaError(f"cannot play {item!r}")
        except PromptError as e:
            raise MediaError(str(e)) from e
        return segments

    async def play(
        self,
        target: str,
        items: Sequence[PlayItem],
        *,
        loop: bool = False,
        barge_in: str = "",
    ) -> str:
        keys = _digit_set(barge_in)
        segments = self._render(items)
        player = Player(segments, loop=loop, barge_in=keys)
        playback_id = self._new_id("play")
        if target in self._conferences:
            conf = self._conferences[target]
            self._finish_conference_playback(conf, PlaybackEnd.REPLACED)
            conf.player, conf.playback_id = player, playback_id
        else:
            ep = self._endpoint(target)
            self._finish_playback(ep, PlaybackEnd.REPLACED)
            ep.player, ep.playback_id = player, playback_id
            self._wake(ep)
        return playback_id

    async def stop_playback(self, target: str) -> None:
        if target in self._conferences:
            self._finish_conference_playback(self._conferences[target], PlaybackEnd.STOPPED)
        else:
            self._finish_playback(self._endpoint(target), PlaybackEnd.STOPPED)

    def _finish_playback(
        self, ep: RtpEndpoint, reason: PlaybackEnd, digit: str | None = None
    ) -> None:
        if ep.player is None:
            return
        ep.player = None
        self._emit(PlaybackFinished(ep.id, ep.playback_id, reason, digit))

    def _finish_conference_playback(self, conf: _Conference, reason: PlaybackEnd) -> None:
        if conf.player is None:
            return
        conf.player = None
        self._emit(PlaybackFinished(conf.id, conf.playback_id, reason))

    # --- recording --------------------------------------------------------------------------

    async def record(
        self,
        endpoint_id: str,
        path: str,
        *,
        max_seconds: float = 120.0,
        silence_seconds: float | None = 5.0,
        stop_digits: str = "",
    ) -> str:
        ep = self._endpoint(endpoint_id)
        keys = _digit_set(stop_digits)
        if max_seconds <= 0:
            raise MediaError("max_seconds must be positive")
        self._finish_recording(ep, RecordingEnd.STOPPED)
        ep.recorder = Recorder(
            path,
            max_seconds=max_seconds,
            silence_seconds=silence_seconds,
            stop_digits=keys,
        )
        ep.recording_id = self._new_id("rec")
        ep.update_listening()
        self._wake(ep)
        return ep.recording_id

    async def stop_recording(self, endpoint_id: str) -> None:
        self._finish_recording(self._endpoint(endpoint_id), RecordingEnd.STOPPED)

    def _finish_recording(
        self, ep: RtpEndpoint, reason: RecordingEnd, digit: str | None = None
    ) -> None:
        recorder = ep.recorder
        if recorder is None:
            return
        ep.recorder = None
        ep.update_listening()
        task = asyncio.get_running_loop().create_task(
            self._write_recording(ep.id, ep.recording_id, recorder, reason, digit)
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _write_recording(
        self,
        endpoint_id: str,
        recording_id: str,
        recorder: Recorder,
        reason: RecordingEnd,
        digit: str | None,
    ) -> None:
        seconds = await asyncio.to_thread(recorder.write, reason)
        self._emit(
            RecordingFinished(endpoint_id, recording_id, str(recorder.path), seconds, reason, digit)
        )

    # --- DTMF -------------------------------------------------------------------------------

    async def send_dtmf(self, endpoint_id: str, digits: str, *, duration_ms: int = 100) -> None:
        ep = self._endpoint(endpoint_id)
        if not 40 <= duration_ms <= 5000:
            raise MediaError("a key press lasts 40 ms to 5 s")
        try:
            if ep.telephone_event_pt is not None:
                ep.dtmf_tx = TelephoneEventSender(digits, duration_ms=duration_ms)
            else:  # the peer cannot take telephone-events: key tones in the audio instead
                gap = np.zeros(DTMF_GAP_MS * SAMPLE_RATE // 1000, dtype=np.int16)
                tones = [s for d in digits for s in (dtmf_tone(d, duration_ms / 1000), gap)]
                ep.dtmf_tones = Player(tones)
        except ValueError as e:
            raise MediaError(str(e)) from e
        self._wake(ep)

    def _on_digit(self, ep: RtpEndpoint, digit: str, method: DtmfMethod) -> None:
        self._emit(DtmfReceived(ep.id, digit, method))
        if ep.player is not None and digit in ep.player.barge_in:
            self._finish_playback(ep, PlaybackEnd.BARGE_IN, digit)
        if ep.recorder is not None and digit in ep.recorder.stop_digits:
            self._finish_recording(ep, RecordingEnd.DIGIT, digit)

    # --- conferences ------------------------------------------------------------------------

    async def create_conference(self, *, max_members: int = 100) -> str:
        if not 2 <= max_members <= 1000:
            raise MediaError("max_members must be between 2 and 1000")
        conf = _Conference(self._new_id("conf"), ConferenceMixer(max_members=max_members))
        self._conferences[conf.id] = conf
        return conf.id

    async def destroy_conference(self, conference_id: str) -> None:
        conf = self._conference(conference_id)
        for endpoint_id in list(conf.members):
            await self.remove_member(conference_id, endpoint_id)
        self._finish_conference_playback(conf, PlaybackEnd.TARGET_GONE)
        del self._conferences[conference_id]

    async def add_member(
        self, conference_id: str, endpoint_id: str, *, muted: bool = False, deaf: bool = False
    ) -> None:
        conf = self._conference(conference_id)
        ep = self._endpoint(endpoint_id)
        if ep.conference is not None and ep.conference != conference_id:
            raise MediaError(f"endpoint {endpoint_id} is in another conference")
        if ep.peer is not None:
            raise MediaError(f"endpoint {endpoint_id} is connected to another endpoint")
        try:
            conf.mixer.add(endpoint_id, muted=muted, deaf=deaf)
        except ConferenceFull as e:
            raise MediaError(str(e)) from e
        conf.members[endpoint_id] = ep
        ep.conference = conference_id
        ep.update_listening()
        self._wake(ep)

    async def remove_member(self, conference_id: str, endpoint_id: str) -> None:
        conf = self._conference(conference_id)
        ep = conf.members.pop(endpoint_id, None)
        if ep is None:
            raise MediaError(f"endpoint {endpoint_id} is not in conference {conference_id}")
        was_active = conf.mixer.active == endpoint_id
        conf.mixer.remove(endpoint_id)
        ep.conference = None
        ep.update_listening()
        if was_active:
            self._emit(ActiveSpeakerChanged(conference_id, None))

    async def set_member(
        self,
        conference_id: str,
        endpoint_id: str,
        *,
        muted: bool | None = None,
        deaf: bool | None = None,
    ) -> None:
        conf = self._conference(conference_id)
        if endpoint_id not in conf.members:
            raise MediaError(f"endpoint {endpoint_id} is not in conference {conference_id}")
        conf.mixer.set_flags(endpoint_id, muted=muted, deaf=deaf)

    # --- the tick ---------------------------------------------------------------------------

    def _on_tick(self, tick: int) -> None:
        now = time.monotonic()
        endpoints = self._on_clock
        frames: dict[str, Pcm | None] = {}
        for ep in endpoints.values():
            if ep.jitter is None:
                continue
            frame = ep.decode_input()
            frames[ep.id] = frame
            if ep.inband is not None and not ep.telephone_events_seen:
                for digit in ep.inband.feed(frame):
                    ep.digit_detected_inband(digit)
            recorder = ep.recorder
            if recorder is not None:
                end = recorder.feed(frame)
                if end is not None:
                    self._finish_recording(ep, end)

        # per codec: endpoints with a frame to encode, their frames, and their CSRC lists
        batch: dict[Codec, tuple[list[RtpEndpoint], list[Pcm], list[tuple[int, ...]]]] = {}

        def queue(ep: RtpEndpoint, frame: Pcm, csrcs: tuple[int, ...] = ()) -> None:
            eps, pcm, cs = batch.setdefault(ep.codec, ([], [], []))
            eps.append(ep)
            pcm.append(frame)
            cs.append(csrcs)

        mixed: dict[str, tuple[Pcm, tuple[int, ...]]] = {}
        for conf in self._conferences.values():
            self._mix(conf, frames, mixed)

        for ep in endpoints.values():
            if not ep.generating:
                continue
            if ep.dtmf_tx is not None and self._send_dtmf_step(ep, tick, now):
                continue
            if ep.dtmf_tones is not None:
                frame = ep.dtmf_tones.next_frame()
                if frame is not None:
                    queue(ep, frame)
                    continue
                ep.dtmf_tones = None
            player = ep.player
            if player is not None:
                frame = player.next_frame()
                if frame is not None:
                    queue(ep, frame)
                    continue
                self._finish_playback(ep, PlaybackEnd.COMPLETED)
            got = mixed.get(ep.id)
            if got is not None:
                queue(ep, got[0], got[1])

        for codec, (eps, pcm, csrcs) in batch.items():
            encoded = g711.encode_array(codec, np.stack(pcm)).tobytes()
            for i, ep in enumerate(eps):
                payload = encoded[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
                ep.send_payload(payload, tick, now, csrcs=csrcs[i])

        idle = [k for k, ep in endpoints.items() if ep.jitter is None and not ep.generating]
        for endpoint_id in idle:
            del endpoints[endpoint_id]
        self._housekeeping(tick, now)

    def _mix(
        self,
        conf: _Conference,
        frames: dict[str, Pcm | None],
        mixed: dict[str, tuple[Pcm, tuple[int, ...]]],
    ) -> None:
        announcement = None
        if conf.player is not None:
            announcement = conf.player.next_frame()
            if announcement is None:
                self._finish_conference_playback(conf, PlaybackEnd.COMPLETED)
        if not conf.members and announcement is None:
            return
        members = conf.mixer.members
        result = conf.mixer.mix([frames.get(m) for m in members], announcement)
        for change in result.changes:
            self._emit(SpeakingChanged(conf.id, change.member, change.speaking))
        if result.active_changed:
            self._emit(ActiveSpeakerChanged(conf.id, result.active))
        speaking_ssrcs = [
            (m, conf.members[m].in_ssrc) for m, s in zip(members, result.speaking, strict=True) if s
        ]
        for i, m in enumerate(members):
            csrcs = tuple(ssrc for who, ssrc in speaking_ssrcs if who != m and ssrc is not None)
            mixed[m] = (result.out[i], csrcs)

    def _send_dtmf_step(self, ep: RtpEndpoint, tick: int, now: float) -> bool:
        """Send this tick's telephone-event packets; False in a gap between digits."""
        assert ep.dtmf_tx is not None
        try:
            packets = ep.dtmf_tx.step()
        except StopIteration:
            ep.dtmf_tx = None
            return False
        if packets is None:
            return False
        pt = ep.telephone_event_pt
        assert pt is not None
        for p in packets:
            if p.starts_event:
                ep.event_ts = ep.send_payload(p.payload, tick, now, pt=pt, marker=p.marker)
            else:
                ep.send_payload(p.payload, tick, now, pt=pt, timestamp=ep.event_ts)
        return True

    def _housekeeping(self, tick: int, now: float) -> None:
        due = self._rtcp_due
        sent: list[RtpEndpoint] = []
        while due and due[0][0] <= tick:
            endpoint_id = heapq.heappop(due)[1]
            ep = self._endpoints.get(endpoint_id)
            if ep is not None:
                sent.append(ep)
        for ep in sent:
            ep.next_rtcp_tick = tick + random.randint(RTCP_TICKS // 2, RTCP_TICKS * 3 // 2)
            heapq.heappush(due, (ep.next_rtcp_tick, ep.id))
            ep.send_rtcp()
        if tick % 50 == 0:
            for ep in self._endpoints.values():
                timeout = ep.spec.media_timeout
                if timeout is None:
                    continue
                reported = ep.timeout_reported_at
                if reported is not None and ep.last_rx > reported:
                    reported = ep.timeout_reported_at = None  # media came back
                silent = now - ep.last_rx
                if silent >= timeout and reported is None:
                    ep.timeout_reported_at = now
                    self._emit(MediaTimeout(ep.id, silent))


if TYPE_CHECKING:
    # mypy proves that the in-process engine offers the whole interface call control uses
    def _implements_protocol(server: LocalMediaServer) -> MediaServer:
        return server
