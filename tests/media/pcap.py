"""A reader for libpcap capture files (the format SIPp ships its RTP samples in).

Just enough of the format for UDP over IPv4 on Ethernet or Linux cooked capture: a 24-byte
global header, then per packet a 16-byte record header and the frame.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113


@dataclass(frozen=True)
class UdpDatagram:
    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    payload: bytes


def read_udp(path: str | Path) -> list[UdpDatagram]:
    data = Path(path).read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        endian = ">"
    else:
        raise ValueError(f"{path}: not a pcap file")
    nanos = magic in (0xA1B23C4D, 0x4D3CB2A1)
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    link_len = {LINKTYPE_ETHERNET: 14, LINKTYPE_LINUX_SLL: 16}[linktype]
    out = []
    at = 24
    while at + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack_from(endian + "IIII", data, at)
        frame = data[at + 16 : at + 16 + incl]
        at += 16 + incl
        ip = frame[link_len:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue  # not IPv4/UDP
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        udp = ip[ihl:total]
        sport, dport, ulen = struct.unpack_from("!HHH", udp)
        src = ".".join(map(str, ip[12:16]))
        dst = ".".join(map(str, ip[16:20]))
        t = sec + frac / (1e9 if nanos else 1e6)
        out.append(UdpDatagram(t, (src, sport), (dst, dport), udp[8:ulen]))
    return out
