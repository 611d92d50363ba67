#!/usr/bin/env python3
"""G.711 codec benchmark: why the engine uses numpy tables and bytes.translate.

Compares, per 20 ms frame (160 samples) and per tick of 500 frames at once:
- audioop (C, in the standard library up to Python 3.12, `audioop-lts` after),
- zongji.media.g711 (numpy table lookup; one lookup encodes a whole batch of frames),
- for PCMU→PCMA transcoding, audioop's decode+encode against one `bytes.translate`.

    python bench/bench_media_codec.py            # 20 000 repetitions
    python bench/bench_media_codec.py --smoke    # 500
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from zongji.media import g711
from zongji.media.g711 import Codec

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # Python 3.13+ without audioop-lts
        audioop = None  # type: ignore[assignment]


def per_call_us(fn: Callable[[], object], n: int) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    n = 500 if parser.parse_args().smoke else 20000
    rng = np.random.default_rng(0)
    frame = rng.integers(-8000, 8000, 160).astype(np.int16)
    batch = rng.integers(-8000, 8000, (500, 160)).astype(np.int16)
    raw = frame.tobytes()
    ulaw = g711.encode(Codec.PCMU, frame)
    table = g711.transcode_table(Codec.PCMU, Codec.PCMA)
    assert table is not None
    print(f"G.711 benchmark, Python {platform.python_version()}, {n} repetitions")
    rows: list[tuple[str, float | None, float]] = [
        (
            "encode one frame",
            per_call_us(lambda: audioop.lin2ulaw(raw, 2), n) if audioop else None,
            per_call_us(lambda: g711.encode(Codec.PCMU, frame), n),
        ),
        (
            "decode one frame",
            per_call_us(lambda: audioop.ulaw2lin(ulaw, 2), n) if audioop else None,
            per_call_us(lambda: g711.decode(Codec.PCMU, ulaw), n),
        ),
        (
            "encode 500 frames (one tick)",
            per_call_us(lambda: [audioop.lin2ulaw(f.tobytes(), 2) for f in batch], n // 50)
            if audioop
            else None,
            per_call_us(lambda: g711.encode_array(Codec.PCMU, batch).tobytes(), n // 50),
        ),
        (
            "PCMU->PCMA one frame",
            per_call_us(lambda: audioop.lin2alaw(audioop.ulaw2lin(ulaw, 2), 2), n)
            if audioop
            else None,
            per_call_us(lambda: ulaw.translate(table), n),
        ),
    ]
    print(f"{'':32} {'audioop us':>11} {'zongji us':>10}")
    for name, ref, ours in rows:
        ref_s = f"{ref:11.2f}" if ref is not None else f"{'n/a':>11}"
        print(f"{name:32} {ref_s} {ours:10.2f}")


if __name__ == "__main__":
    main()
