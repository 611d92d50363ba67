"""A carrier's SMSC, the one part of SMS delivery that cannot run here: a small SMPP 3.4 server
on a real socket, written from the specification (not from the client library under test), so
the node's PDUs are checked byte for byte by independent code.

It accepts bind_transceiver (recording the credentials), answers enquire_link and unbind,
records every submit_sm with its decoded fields, answers each as `answer` decides (accept with a
message id, or a command_status), and can push delivery receipts back as deliver_sm.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
UNBIND = 0x00000006
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
GENERIC_NACK = 0x80000000
RESP = 0x80000000
ESME_RINVCMDID = 0x03


@dataclass
class Submitted:
    """One submit_sm as the SMSC read it."""

    sequence: int
    source_addr: str
    source_addr_ton: int
    dest_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    esm_class: int
    validity_period: str
    registered_delivery: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes]
    message_id: str | None = None  # set when accepted

    @property
    def text(self) -> str:
        """The UCS-2 text, without the concatenation header if there is one."""
        body = self.short_message
        if self.esm_class & 0x40:
            body = body[1 + body[0] :]
        return body.decode("utf-16-be")

    @property
    def concatenation(self) -> tuple[int, int, int] | None:
        """(reference, total, sequence) from an 8-bit concatenation UDH."""
        if not self.esm_class & 0x40:
            return None
        udh = self.short_message[1 : 1 + self.short_message[0]]
        assert udh[:2] == b"\x00\x03", udh
        return udh[2], udh[3], udh[4]


def _cstring(body: bytes, at: int) -> tuple[str, int]:
    end = body.index(b"\x00", at)
    return body[at:end].decode("latin-1"), end + 1


def parse_submit_sm(sequence: int, body: bytes) -> Submitted:
    """SMPP 3.4 §4.4.1: mandatory fields in order, then optional TLVs."""
    _service_type, at = _cstring(body, 0)
    source_ton = body[at]
    at += 2  # source_addr_ton, source_addr_npi
    source, at = _cstring(body, at)
    dest_ton, dest_npi = body[at], body[at + 1]
    at += 2
    dest, at = _cstring(body, at)
    esm_class = body[at]
    at += 3  # esm_class, protocol_id, priority_flag
    _schedule, at = _cstring(body, at)
    validity, at = _cstring(body, at)
    registered_delivery = body[at]
    data_coding = body[at + 2]  # after replace_if_present_flag
    sm_length = body[at + 4]  # after sm_default_msg_id
    at += 5
    short_message = body[at : at + sm_length]
    at += sm_length
    tlvs: dict[int, bytes] = {}
    while at + 4 <= len(body):
        tag, length = struct.unpack(">HH", body[at : at + 4])
        tlvs[tag] = body[at + 4 : at + 4 + length]
        at += 4 + length
    return Submitted(
        sequence,
        source,
        source_ton,
        dest,
        dest_ton,
        dest_npi,
        esm_class,
        validity,
        registered_delivery,
        data_coding,
        short_message,
        tlvs,
    )


def pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body


def receipt_body(source: str, dest: str, message_id: str, stat: str, err: str = "000") -> bytes:
    """deliver_sm (§4.6.1) carrying an SMSC delivery receipt (esm_class 0x04, Appendix B)."""
    text = (
        f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
        f"submit date:2612070915 done date:2612070916 stat:{stat} err:{err} text:"
    ).encode()
    return (
        b"\x00"  # service_type
        + bytes([1, 1])
        + source.encode()
        + b"\x00"
        + bytes([0, 1])
        + dest.encode()
        + b"\x00"
        + bytes([0x04, 0, 0])  # esm_class: delivery receipt; protocol_id; priority
        + b"\x00\x00"  # schedule_delivery_time, validity_period
        + bytes([0, 0, 0, 0, len(text)])
        + text
    )


Answer = Callable[[Submitted], int]  # the command_status for this submit_sm (0: accept)


def accept_all(_: Submitted) -> int:
    return 0


@dataclass
class Smsc:
    host: str = "127.0.0.1"
    port: int = 0
    answer: Answer = accept_all
    binds: list[tuple[str, str, str]] = field(default_factory=list)  # system_id, password, type
    submitted: list[Submitted] = field(default_factory=list)
    enquire_links: int = 0
    # a receipt with this stat right behind each submit_sm_resp, as fast SMSCs do (it can
    # overtake the ESME's own bookkeeping of the message id)
    instant_receipt: str | None = None
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._session, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Go down as a crashed SMSC would: listening stops and every session is cut."""
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Until `predicate()` holds (checked whenever a PDU arrives); a generous bound."""
        async with asyncio.timeout(20), self._changed:
            await self._changed.wait_for(predicate)

    async def send_receipt(self, submitted: Submitted, stat: str, err: str = "000") -> None:
        """Tell the bound ESME what became of a message, as the SMSC does once it knows."""
        writer = self._writers[-1]
        writer.write(self._receipt(submitted, stat, err))
        await writer.drain()

    def _receipt(self, submitted: Submitted, stat: str, err: str = "000") -> bytes:
        assert submitted.message_id is not None
        body = receipt_body(
            submitted.dest_addr, submitted.source_addr, submitted.message_id, stat, err
        )
        return pdu(DELIVER_SM, 0, next(self._sequence), body)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        try:
            while True:
                header = await reader.readexactly(16)
                length, command_id, _status, sequence = struct.unpack(">IIII", header)
                body = await reader.readexactly(length - 16)
                reply = self._handle(command_id, sequence, body)
                if reply is not None:
                    writer.write(reply)
                    if command_id == SUBMIT_SM and self.instant_receipt:
                        accepted = self.submitted[-1]
                        if accepted.message_id:
                            writer.write(self._receipt(accepted, self.instant_receipt))
                    await writer.drain()
                async with self._changed:
                    self._changed.notify_all()
                if command_id == UNBIND:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if writer in self._writers:
                self._writers.remove(writer)
            writer.close()

    def _handle(self, command_id: int, sequence: int, body: bytes) -> bytes | None:
        if command_id == BIND_TRANSCEIVER:
            system_id, at = _cstring(body, 0)
            password, at = _cstring(body, at)
            system_type, _ = _cstring(body, at)
            self.binds.append((system_id, password, system_type))
            return pdu(command_id | RESP, 0, sequence, b"TEST-SMSC\x00")
        if command_id == ENQUIRE_LINK:
            self.enquire_links += 1
            return pdu(command_id | RESP, 0, sequence)
        if command_id == UNBIND:
            return pdu(command_id | RESP, 0, sequence)
        if command_id == SUBMIT_SM:
            submitted = parse_submit_sm(sequence, body)
            self.submitted.append(submitted)
            status = self.answer(submitted)
            if status:
                return pdu(command_id | RESP, status, sequence, b"\x00")
            submitted.message_id = f"M{next(self._ids)}"
            return pdu(command_id | RESP, 0, sequence, submitted.message_id.encode() + b"\x00")
        if command_id & RESP:  # the ESME's answers to our deliver_sm
            return None
        return pdu(GENERIC_NACK, ESME_RINVCMDID, sequence)
