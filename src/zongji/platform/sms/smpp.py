"""`SmppGateway`: real delivery to a carrier's SMSC over SMPP 3.4, with a durable queue.

`send()` only writes the message to `sms_deliveries` (its body sealed) and wakes the worker, so
an API request never waits on the carrier. The worker — a node component — keeps one
transceiver session bound (the `smpp34` client answers enquire_link and sends its own), submits
due messages segment by segment in UCS-2 with a delivery receipt requested, and reads receipts
on the same session to move each message to delivered, failed or expired.

Errors are sorted as a carrier means them: throttling (0x58), a full queue (0x14), a system
error (0x08) and a lost or silent connection are transient, and the message is tried again with
exponential backoff; any other status is permanent and fails the message at once. A message is
claimed by pushing its next attempt past a lease, so a node that dies mid-send leaves the row
queued and it is sent again (by this node after a restart, or another) when the lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import smpp34
from cryptography.exceptions import InvalidTag
from sqlalchemy import func, select, update

from zongji.platform.clock import Clock
from zongji.platform.db import PLATFORM, Database
from zongji.platform.sms import receipts, ucs2
from zongji.platform.sms.deliveries import DeliveryState, SmsDelivery, SmsSegment
from zongji.platform.sms.message import SmsMessage
from zongji.platform.sms.sealing import BodySeal

log = logging.getLogger(__name__)

# SMPP 3.4 command_status values a carrier means as "not now" rather than "never".
ESME_RSYSERR = 0x08
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
TRANSIENT_STATUSES = frozenset({ESME_RSYSERR, ESME_RMSGQFUL, ESME_RTHROTTLED})
TON_INTERNATIONAL, TON_ALPHANUMERIC, NPI_ISDN = 1, 5, 1
CLAIM_LEASE = timedelta(seconds=120)  # longer than a whole message can take to submit
BATCH = 50
IDLE_WAKE = 30.0  # seconds between looks at the queue when nothing is due
EARLY_RECEIPT_KEEP = 600.0  # seconds a receipt for a not yet recorded message id is kept


@dataclass(frozen=True)
class SmppLink:
    """How to reach the carrier's SMSC, and how patiently to retry."""

    host: str
    port: int = 2775
    system_id: str = ""
    password: str = field(default="", repr=False)
    system_type: str = ""
    source_addr: str = ""  # the sender the carrier assigned (digits, or an alphanumeric name)
    tls: bool = False
    connect_timeout: float = 10.0
    submit_timeout: float = 10.0  # no submit_sm_resp by then: the session is dead
    retry_initial: float = 2.0  # seconds before the first retry; doubles each time
    retry_max: float = 300.0
    max_attempts: int = 12


class _Transient(Exception):
    """This attempt failed for a reason that may pass (throttled, connection lost)."""


class _SessionLost(_Transient):
    pass


class SmppGateway:
    name = "sms"

    def __init__(self, db: Database, clock: Clock, seal: BodySeal, link: SmppLink) -> None:
        self._db = db
        self._clock = clock
        self._seal = seal
        self._link = link
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._client: smpp34.Client | None = None
        self._smsc: smpp34.Smsc | None = None
        self._reconnect_after = 0.0  # monotonic
        self._connect_failures = 0
        # receipts that overtook the recording of their segment (here or on another node)
        self._early_receipts: dict[str, tuple[receipts.Receipt, float]] = {}

    # -- the gateway interface ----------------------------------------------------------------

    async def send(self, message: SmsMessage) -> None:
        """Queue the message; the worker delivers it (or gives up once `valid_for` is over)."""
        now = self._clock.now()
        row = SmsDelivery(
            to=message.to,
            text=message.redacted_text,
            tenant_id=message.tenant_id,
            state=DeliveryState.QUEUED.value,
            attempts=0,
            next_attempt_at=now,
            expires_at=None if message.valid_for is None else now + message.valid_for,
            created_at=now,
            updated_at=now,
        )
        row.sealed_body = self._seal.seal(row.id, message.text)
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            session.add(row)
        self._wake.set()

    # -- the node component -------------------------------------------------------------------

    async def start(self) -> dict[str, Any]:
        self._worker = asyncio.create_task(self._run(), name="sms-smpp")
        return {}

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        await self._drop_session(unbind=True)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                delay = await self.pump()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SMS delivery pass failed")
                delay = 5.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    # -- one pass over the queue --------------------------------------------------------------

    async def pump(self) -> float:
        """Expire, then submit what is due; the seconds until something is due next."""
        now = self._clock.now()
        await self._expire(now)
        await self._retry_early_receipts()
        due = await self._due(now)
        awaiting = await self._awaiting_receipts()
        if due or awaiting:
            await self._ensure_session()
        for row_id, seen_next in due:
            if self._smsc is None:
                await self._retry_later(row_id, seen_next, "smsc_unreachable", claimed=False)
                continue
            await self._deliver(row_id, seen_next)
        return await self._next_delay()

    async def _expire(self, now: datetime) -> None:
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            result = await session.execute(
                update(SmsDelivery)
                .where(
                    SmsDelivery.state == DeliveryState.QUEUED.value,
                    SmsDelivery.expires_at <= now,
                )
                .values(
                    state=DeliveryState.EXPIRED.value,
                    sealed_body=None,
                    error="validity_elapsed",
                    updated_at=now,
                )
            )
        if expired := getattr(result, "rowcount", 0):
            log.warning("SMS expired before it could be sent", extra={"count": expired})

    async def _due(self, now: datetime) -> list[tuple[Any, datetime]]:
        async with self._db.session(PLATFORM) as session:
            rows = await session.execute(
                select(SmsDelivery.id, SmsDelivery.next_attempt_at)
                .where(
                    SmsDelivery.state == DeliveryState.QUEUED.value,
                    SmsDelivery.next_attempt_at <= now,
                )
                .order_by(SmsDelivery.next_attempt_at)
                .limit(BATCH)
            )
            return [(r[0], r[1]) for r in rows]

    async def _awaiting_receipts(self) -> bool:
        async with self._db.session(PLATFORM) as session:
            found = await session.scalar(
                select(SmsDelivery.id)
                .where(SmsDelivery.state == DeliveryState.SUBMITTED.value)
                .limit(1)
            )
        return found is not None

    async def _next_delay(self) -> float:
        async with self._db.session(PLATFORM) as session:
            soonest = await session.scalar(
                select(func.min(SmsDelivery.next_attempt_at)).where(
                    SmsDelivery.state == DeliveryState.QUEUED.value
                )
            )
        if soonest is None:
            return IDLE_WAKE
        seconds = (soonest - self._clock.now()).total_seconds()
        return min(max(seconds, 0.01), IDLE_WAKE)

    # -- one message --------------------------------------------------------------------------

    async def _claim(self, row_id: Any, seen_next: datetime) -> SmsDelivery | None:
        """Take the row for this attempt, unless another worker took it since we looked."""
        now = self._clock.now()
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            result = await session.execute(
                update(SmsDelivery)
                .where(
                    SmsDelivery.id == row_id,
                    SmsDelivery.state == DeliveryState.QUEUED.value,
                    SmsDelivery.next_attempt_at == seen_next,
                )
                .values(next_attempt_at=now + CLAIM_LEASE)
            )
            if not getattr(result, "rowcount", 0):
                return None
            row = await session.get(SmsDelivery, row_id)
            if row is not None:
                session.expunge(row)
            return row

    async def _deliver(self, row_id: Any, seen_next: datetime) -> None:
        row = await self._claim(row_id, seen_next)
        if row is None:
            return
        if row.sealed_body is None:
            await self._finish(row.id, DeliveryState.FAILED, "body_missing")
            return
        try:
            text = self._seal.open(row.id, row.sealed_body)
        except InvalidTag:  # sealed under another secret key: it can never be sent
            log.error("SMS body cannot be opened (secret key changed?)", extra={"sms": str(row.id)})
            await self._finish(row.id, DeliveryState.FAILED, "body_unreadable")
            return
        try:
            parts = ucs2.segments(text, reference=row.id.int & 0xFF)
        except ucs2.MessageTooLong:
            await self._finish(row.id, DeliveryState.FAILED, "too_long")
            return
        done = await self._submitted_segments(row.id)
        try:
            for seq, part in enumerate(parts, start=1):
                if seq in done:
                    continue
                status, message_id = await self._submit(row, part)
                if status == 0 and message_id:
                    await self._record_segment(row.id, seq, message_id)
                elif status in TRANSIENT_STATUSES:
                    raise _Transient(f"smpp_status_0x{status:08x}")
                else:
                    log.warning(
                        "SMSC refused an SMS",
                        extra={"sms": str(row.id), "smpp_status": f"0x{status:08x}"},
                    )
                    await self._finish(row.id, DeliveryState.FAILED, f"smpp_status_0x{status:08x}")
                    return
        except _Transient as why:
            if isinstance(why, _SessionLost):
                await self._drop_session(unbind=False)
            await self._retry_later(row.id, None, str(why), claimed=True, attempts=row.attempts)
            return
        await self._mark_submitted(row.id)

    async def _submit(self, row: SmsDelivery, part: ucs2.Segment) -> tuple[int, str | None]:
        smsc = self._smsc
        if smsc is None:
            raise _SessionLost("smsc_unreachable")
        source = self._link.source_addr
        source_ton = 0 if source.isdigit() else TON_ALPHANUMERIC
        validity = ""
        if row.expires_at is not None:
            validity = relative_validity(row.expires_at - self._clock.now())
        try:
            resp = await asyncio.wait_for(
                smsc.submit_sm(
                    row.to.lstrip("+"),
                    part.short_message,
                    source_addr=source,
                    source_addr_ton=source_ton,
                    source_addr_npi=NPI_ISDN if source.isdigit() else 0,
                    dest_addr_ton=TON_INTERNATIONAL,
                    dest_addr_npi=NPI_ISDN,
                    esm_class=part.esm_class,
                    data_coding=ucs2.DATA_CODING_UCS2,
                    registered_delivery=1,  # a receipt on final outcome, success or failure
                    validity_period=validity,
                ),
                timeout=self._link.submit_timeout,
            )
        except (TimeoutError, OSError, smpp34.SmppError) as exc:
            log.warning("SMPP session lost while submitting", extra={"error": type(exc).__name__})
            raise _SessionLost("connection_lost") from None
        return resp.command_status, resp.message_id

    async def _submitted_segments(self, row_id: Any) -> set[int]:
        async with self._db.session(PLATFORM) as session:
            seqs = await session.scalars(
                select(SmsSegment.seq).where(SmsSegment.delivery_id == row_id)
            )
            return set(seqs)

    async def _record_segment(self, row_id: Any, seq: int, message_id: str) -> None:
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            session.add(
                SmsSegment(
                    delivery_id=row_id,
                    seq=seq,
                    smsc_message_id=message_id,
                    state=DeliveryState.SUBMITTED.value,
                )
            )
        early = self._early_receipts.pop(message_id, None)
        if early is not None:  # the receipt overtook our own bookkeeping
            await self._apply_receipt(early[0])

    async def _mark_submitted(self, row_id: Any) -> None:
        now = self._clock.now()
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            await session.execute(
                update(SmsDelivery)
                .where(
                    SmsDelivery.id == row_id,
                    SmsDelivery.state == DeliveryState.QUEUED.value,
                )
                .values(
                    state=DeliveryState.SUBMITTED.value,
                    sealed_body=None,
                    attempts=SmsDelivery.attempts + 1,
                    updated_at=now,
                )
            )
        # receipts applied while we were still submitting may have completed it already
        await self._settle(row_id)

    async def _retry_later(
        self,
        row_id: Any,
        seen_next: datetime | None,
        why: str,
        *,
        claimed: bool,
        attempts: int | None = None,
    ) -> None:
        now = self._clock.now()
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            row = await session.get(SmsDelivery, row_id)
            if row is None or row.state != DeliveryState.QUEUED.value:
                return
            if not claimed and row.next_attempt_at != seen_next:
                return  # another worker has it
            row.attempts = (attempts if attempts is not None else row.attempts) + 1
            row.error = why
            row.updated_at = now
            if row.attempts >= self._link.max_attempts:
                row.state = DeliveryState.FAILED.value
                row.sealed_body = None
                log.warning("SMS given up", extra={"sms": str(row_id), "reason": why})
                return
            backoff = min(self._link.retry_initial * 2 ** (row.attempts - 1), self._link.retry_max)
            row.next_attempt_at = now + timedelta(seconds=backoff)
        log.info("SMS will be retried", extra={"sms": str(row_id), "reason": why})

    async def _finish(self, row_id: Any, state: DeliveryState, why: str) -> None:
        now = self._clock.now()
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            await session.execute(
                update(SmsDelivery)
                .where(SmsDelivery.id == row_id)
                .values(
                    state=state.value,
                    sealed_body=None,
                    error=why,
                    attempts=SmsDelivery.attempts + 1,
                    updated_at=now,
                )
            )

    # -- receipts -----------------------------------------------------------------------------

    async def _apply_receipt(self, receipt: receipts.Receipt) -> None:
        if receipt.outcome is receipts.Outcome.PENDING:
            return
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            segment = await session.scalar(
                select(SmsSegment).where(SmsSegment.smsc_message_id == receipt.message_id)
            )
            if segment is None:
                self._early_receipts.setdefault(
                    receipt.message_id, (receipt, self._clock.monotonic())
                )
                return
            self._early_receipts.pop(receipt.message_id, None)
            segment.state = receipt.outcome.value
            row_id = segment.delivery_id
        if receipt.outcome is not receipts.Outcome.DELIVERED:
            log.info(
                "SMS not delivered",
                extra={"sms": str(row_id), "outcome": receipt.outcome.value, "err": receipt.error},
            )
        await self._settle(row_id, receipt.error)

    async def _settle(self, row_id: Any, error: str | None = None) -> None:
        """Derive a submitted message's state from its segments' receipts."""
        now = self._clock.now()
        async with self._db.session(PLATFORM, write=True) as session, session.begin():
            row = await session.get(SmsDelivery, row_id)
            if row is None or row.state != DeliveryState.SUBMITTED.value:
                return
            states = list(
                await session.scalars(
                    select(SmsSegment.state).where(SmsSegment.delivery_id == row_id)
                )
            )
            final = settle(states)
            if final is None:
                return
            row.state = final.value
            row.updated_at = now
            if final is not DeliveryState.DELIVERED:
                row.error = f"receipt_err_{error}" if error else "receipt"

    async def _retry_early_receipts(self) -> None:
        """Receipts whose segment another node may have recorded since; forgotten after a while
        (an id we never sent, or a message whose node died before recording it)."""
        cutoff = self._clock.monotonic() - EARLY_RECEIPT_KEEP
        for message_id, (receipt, seen) in list(self._early_receipts.items()):
            if seen < cutoff:
                del self._early_receipts[message_id]
            else:
                await self._apply_receipt(receipt)

    async def _read_receipts(self, smsc: smpp34.Smsc) -> None:
        while True:
            event = await smsc.next()
            if isinstance(event, smpp34.Disconnected):
                log.warning("SMPP session ended")
                if self._smsc is smsc:
                    self._smsc = None
                self._wake.set()
                return
            if not event.esm_class & receipts.ESM_CLASS_RECEIPT:
                continue  # a mobile-originated message: nothing of ours
            tlvs = {tlv.tag: tlv.value for tlv in event.tlvs}
            receipt = receipts.parse(event.short_message, tlvs)
            if receipt is None:
                log.warning("unreadable SMS delivery receipt")
                continue
            try:
                await self._apply_receipt(receipt)
            except Exception:
                log.exception("SMS delivery receipt not recorded")

    # -- the session --------------------------------------------------------------------------

    async def _ensure_session(self) -> None:
        if self._smsc is not None:
            return
        if self._clock.monotonic() < self._reconnect_after:
            return
        link = self._link
        client = smpp34.Client(
            link.host,
            link.port,
            link.system_id,
            link.password,
            bind_type="TRX",
            system_type=link.system_type,
            tls=link.tls,
            connect_timeout_ms=int(link.connect_timeout * 1000),
        )
        try:
            smsc = await asyncio.wait_for(client.connect(), timeout=link.connect_timeout + 1)
        except (TimeoutError, OSError, smpp34.SmppError) as exc:
            self._connect_failures += 1
            wait = min(link.retry_initial * 2 ** (self._connect_failures - 1), link.retry_max)
            self._reconnect_after = self._clock.monotonic() + wait
            log.warning(
                "SMSC unreachable",
                extra={"host": link.host, "port": link.port, "error": type(exc).__name__},
            )
            with contextlib.suppress(Exception):
                await client.stop()
            return
        self._connect_failures = 0
        self._client, self._smsc = client, smsc
        self._reader = asyncio.create_task(self._read_receipts(smsc), name="sms-smpp-receipts")
        log.info("SMPP session bound", extra={"host": link.host, "port": link.port})

    async def _drop_session(self, *, unbind: bool) -> None:
        smsc, client, reader = self._smsc, self._client, self._reader
        self._smsc = self._client = self._reader = None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        if smsc is not None and unbind:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(smsc.unbind(), timeout=2)
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.stop(), timeout=2)


def settle(segment_states: Sequence[str]) -> DeliveryState | None:
    """A message's final state from its segments': failed or expired if any segment was,
    delivered once all were; None while any is still out."""
    if not segment_states:
        return None
    if DeliveryState.FAILED.value in segment_states:
        return DeliveryState.FAILED
    if DeliveryState.EXPIRED.value in segment_states:
        return DeliveryState.EXPIRED
    if all(s == DeliveryState.DELIVERED.value for s in segment_states):
        return DeliveryState.DELIVERED
    return None


def relative_validity(remaining: timedelta) -> str:
    """SMPP 3.4 §7.1.1 relative time `YYMMDDhhmmss000R` for how long the SMSC may keep trying."""
    seconds = max(int(remaining.total_seconds()), 60)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"0000{min(days, 99):02d}{hours:02d}{minutes:02d}{secs:02d}000R"
