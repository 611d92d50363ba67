"""Atheris fuzz target for what the media engine reads from the network and from uploads.

Every input must either parse or be rejected with the engine's own error type, and the receive
path of an endpoint must count it and carry on — never raise. Run by `make fuzz`:

    .venv/bin/python tests/fuzz/fuzz_media_rtp.py -max_total_time=60
"""

from __future__ import annotations

import contextlib
import socket
import sys

import atheris

with atheris.instrument_imports():
    from zongji.media import EndpointSpec
    from zongji.media.dtmf import TelephoneEventReceiver
    from zongji.media.endpoint import RtpEndpoint
    from zongji.media.red import parse_red
    from zongji.media.rtcp import RtcpError, parse_rtcp
    from zongji.media.rtp import RtpError, parse_rtp
    from zongji.media.wav import WavError, parse_wav


class _NullTransport:
    def sendto(self, data: bytes, addr: object) -> None:
        pass


def _endpoint(port: int) -> RtpEndpoint:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    ep = RtpEndpoint(
        f"fuzz-{port}",
        EndpointSpec(remote=("127.0.0.1", port), rtcp_mux=True, inband_dtmf=True, red_pt=100),
        sock,
        None,
        cname=b"fuzz",
        on_digit=lambda *_: None,
    )
    ep.transport = _NullTransport()  # type: ignore[assignment]
    return ep


A, B = _endpoint(4000), _endpoint(4002)
A.peer, B.peer = B, A
A._relink()
B._relink()
DTMF = TelephoneEventReceiver()


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(RtpError):
        parse_rtp(data)
    with contextlib.suppress(RtcpError):
        parse_rtcp(data)
    with contextlib.suppress(WavError):
        parse_wav(data)
    parse_red(data)
    DTMF.receive(int.from_bytes(data[:4].ljust(4, b"\0"), "big"), bool(data[:1] > b"\x7f"), data)
    A.datagram_received(data, ("127.0.0.1", 4000))
    A.decode_input()


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
