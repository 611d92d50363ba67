"""The call state machine: only the table's transitions happen, and the record and the policy's
billing see each transition once, whatever exits the call takes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime

import pytest

from tests.pbx.lines import nanjing
from zongji.pbx.calls.call import ALLOWED, Call, CallState, IllegalTransition
from zongji.pbx.calls.observers import BillingObserver, RecordObserver
from zongji.pbx.calls.record import CallLog
from zongji.pbx.contracts import (
    CallDirection,
    CallEnd,
    CallStart,
    CallStatus,
    Dialled,
    HangupSide,
    Party,
    PolicyDecision,
    Subscriber,
    TenantLine,
)
from zongji.sip.dialog import DialogSnapshot


class _Clock:
    def __init__(self) -> None:
        self.seconds = 0.0

    def now(self) -> datetime:
        return datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.seconds


def _written() -> asyncio.Future[None]:
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


class _Records:
    """A `CallRecords` that writes down what it is told, in order (each report is taken when
    it is made, as the real service does, and is durable at once)."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, object]] = []

    def opened(self, start: CallStart) -> Awaitable[None]:
        self.writes.append(("opened", start.call_id))
        return _written()

    def answered(
        self,
        call_id: str,
        at: datetime,
        answered_by: Party | None = None,
        trunk_id: uuid.UUID | None = None,
        legs: Sequence[DialogSnapshot] = (),
    ) -> Awaitable[None]:
        self.writes.append(("answered", answered_by))
        return _written()

    def dialogs(self, call_id: str, legs: Sequence[DialogSnapshot]) -> Awaitable[None]:
        self.writes.append(("dialogs", len(legs)))
        return _written()

    def closed(self, call_id: str, end: CallEnd) -> Awaitable[None]:
        self.writes.append(("closed", (end.status, end.hangup_side, end.reason)))
        return _written()

    def routed(self, call_id: str, callee: Party) -> Awaitable[None]:
        self.writes.append(("routed", callee))
        return _written()


class _Policy:
    """An `OutboundPolicy` that writes down what it is told."""

    def __init__(self, seconds: int | None) -> None:
        self.seconds = seconds
        self.calls: list[tuple[str, object]] = []

    async def authorise(
        self, call_id: str, tenant: TenantLine, caller: Subscriber, dialled: Dialled
    ) -> PolicyDecision:
        raise AssertionError("not part of these tests")

    async def answered(self, call_id: str) -> int | None:
        self.calls.append(("answered", call_id))
        return self.seconds

    async def ended(self, call_id: str, talk_seconds: int) -> None:
        self.calls.append(("ended", talk_seconds))


async def _call(records: _Records, clock: _Clock) -> tuple[Call, RecordObserver]:
    tenant = nanjing()
    call = Call("c1", tenant, CallDirection.INTERNAL, clock)
    log = CallLog.new(
        records,
        clock,
        call_id="c1",
        tenant_id=tenant.tenant_id,
        direction=CallDirection.INTERNAL,
        caller=Party("8001"),
        callee=Party("8002"),
    )
    record = RecordObserver(log)
    call.observers.append(record)
    await record.open()
    return call, record


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([CallState.CONNECTED], CallState.RINGING),  # an answered call does not ring again
        ([CallState.RINGING], CallState.RINGING),  # no transition to the same state
        ([], CallState.CONNECTED),  # nobody answered a call still being routed
        ([CallState.ENDED], CallState.RINGING),  # ENDED is final
        ([CallState.ENDED], CallState.ENDED),
    ],
)
async def test_illegal_transitions_are_refused(path: list[CallState], illegal: CallState) -> None:
    records = _Records()
    call, _ = await _call(records, _Clock())
    if path == [CallState.CONNECTED]:
        path = [CallState.RINGING, CallState.CONNECTED]
    for state in path:
        if state is CallState.ENDED:
            await call.end(CallStatus.CANCELLED, HangupSide.CALLER)
        else:
            await call.transition(state)
    before = (call.state, list(records.writes))
    with pytest.raises(IllegalTransition):
        await call.transition(illegal)
    assert (call.state, records.writes) == before  # nothing changed, nobody was told


async def test_only_ended_carries_an_ending() -> None:
    call, _ = await _call(_Records(), _Clock())
    with pytest.raises(IllegalTransition):
        await call.transition(CallState.ENDED)  # an ending says how
    assert call.state is CallState.ROUTING


def test_every_state_can_end_and_ended_is_final() -> None:
    for state, following in ALLOWED.items():
        if state is CallState.ENDED:
            assert following == frozenset()
        else:
            assert CallState.ENDED in following


async def test_record_and_billing_see_each_transition_once() -> None:
    records, clock, policy = _Records(), _Clock(), _Policy(seconds=600)
    call, _ = await _call(records, clock)
    call.observers.append(BillingObserver(policy))
    bob = Party("8002", uuid.uuid4(), "李四")
    await call.transition(CallState.IN_APPLICATION)  # the menu (no new dialog to keep)
    await call.transition(CallState.RINGING, callee=bob)  # the menu chose bob
    await call.transition(CallState.CONNECTED, answered_by=bob)
    assert call.allowed_seconds == 600
    clock.seconds += 42
    await call.end(CallStatus.ANSWERED, HangupSide.CALLEE)
    await call.end(CallStatus.FAILED, HangupSide.SYSTEM, reason="late")  # a later exit: no-op
    assert records.writes == [
        ("opened", "c1"),
        ("routed", bob),
        ("answered", bob),
        ("closed", (CallStatus.ANSWERED, HangupSide.CALLEE, None)),
    ]
    assert policy.calls == [("answered", "c1"), ("ended", 42)]


async def test_an_unanswered_call_is_billed_nothing_and_closed_once() -> None:
    records, clock, policy = _Records(), _Clock(), _Policy(seconds=None)
    call, _ = await _call(records, clock)
    call.observers.append(BillingObserver(policy))
    await call.transition(CallState.RINGING)
    clock.seconds += 20
    await call.end(CallStatus.NO_ANSWER, None, reason="480 no_answer")
    assert records.writes == [
        ("opened", "c1"),
        ("closed", (CallStatus.NO_ANSWER, None, "480 no_answer")),
    ]
    assert policy.calls == [("ended", 0)]
    assert call.allowed_seconds is None


async def test_a_stopping_node_ends_calls_on_its_own_side() -> None:
    records = _Records()
    call, _ = await _call(records, _Clock())
    call.stopping = True
    await call.end(CallStatus.ANSWERED, HangupSide.CALLER)
    assert records.writes[-1] == ("closed", (CallStatus.ANSWERED, HangupSide.SYSTEM, None))
