"""The jitter buffer: order restored, depth adapted, losses concealed."""

from __future__ import annotations

import numpy as np

from zongji.media.jitter import MAX_CONCEALED, JitterBuffer


def frame(value: int, n: int = 160) -> np.ndarray:
    return np.full(n, value, dtype=np.int16)


def feed(jb: JitterBuffer, order: list[int], *, jitter: dict[int, float] | None = None) -> None:
    for seq in order:
        arrival = seq * 0.02 + (jitter or {}).get(seq, 0.0)
        jb.put(seq, seq * 160, frame(seq + 1), arrival)


def play(jb: JitterBuffer, ticks: int) -> list[int | None]:
    out = []
    for _ in range(ticks):
        f = jb.read()
        out.append(None if f is None else int(f[0]))
    return out


def test_reorders() -> None:
    jb = JitterBuffer()
    feed(jb, [0, 2, 1, 4, 3, 5, 7, 6])
    assert play(jb, 8) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert jb.concealed == 0


def test_waits_for_target_depth_before_playing() -> None:
    jb = JitterBuffer(min_ms=60)
    feed(jb, [0, 1])
    assert jb.read() is None
    feed(jb, [2])
    assert play(jb, 3) == [1, 2, 3]


def test_duplicates_and_late_packets_are_dropped_and_counted() -> None:
    jb = JitterBuffer()
    feed(jb, [0, 1, 1, 2])
    assert jb.duplicates == 1
    assert play(jb, 2) == [1, 2]
    assert not jb.put(0, 0, frame(9), 0.1)  # already played
    assert jb.late == 1


def test_loss_is_concealed_by_fading_repetition() -> None:
    jb = JitterBuffer()
    feed(jb, [0, 1, 3])  # 2 is lost
    jb_frames = [jb.read() for _ in range(3)]
    assert [int(f[0]) for f in jb_frames if f is not None] == [1, 2, 1]  # 2 >> 1 == 1
    assert jb.concealed == 1
    assert int(jb.read()[0]) == 4  # type: ignore[index]


def test_stream_pause_goes_silent_after_concealment_and_restarts() -> None:
    jb = JitterBuffer()
    feed(jb, [0, 1, 2])
    got = play(jb, 3 + MAX_CONCEALED + 3)
    assert got[:3] == [1, 2, 3]
    assert got[3 + MAX_CONCEALED :] == [None, None, None]
    feed(jb, [40, 41])
    assert play(jb, 2) == [41, 42]


def test_depth_adapts_to_jitter() -> None:
    calm, rough = JitterBuffer(), JitterBuffer()
    rng = np.random.default_rng(1)
    for seq in range(200):
        calm.put(seq, seq * 160, frame(1), seq * 0.02)
        rough.put(seq, seq * 160, frame(1), seq * 0.02 + float(rng.uniform(0, 0.06)))
        calm.read()
        rough.read()
    assert calm.target_ms == calm.min_ms
    assert rough.target_ms >= 100
    assert rough.target_ms <= rough.max_ms


def test_excess_depth_is_trimmed() -> None:
    """A burst that arrives all at once must not leave the stream permanently late."""
    jb = JitterBuffer()
    feed(jb, list(range(20)))
    play(jb, 60)
    assert jb.trimmed > 0


def test_packets_of_30ms_become_20ms_frames() -> None:
    """SIPp's g711a capture uses 30 ms packets; the clock wants 20 ms frames."""
    jb = JitterBuffer()
    for seq in range(4):
        jb.put(seq, seq * 240, np.arange(seq * 240, (seq + 1) * 240, dtype=np.int16), seq * 0.03)
    out = np.concatenate([jb.read() for _ in range(6)])  # type: ignore[misc]
    assert np.array_equal(out, np.arange(960, dtype=np.int16))


def test_sequence_wrap() -> None:
    jb = JitterBuffer()
    feed(jb, [])
    for i, seq in enumerate([65534, 65535, 0, 1]):
        jb.put(seq, i * 160, frame(i + 1), i * 0.02)
    assert play(jb, 4) == [1, 2, 3, 4]
