"""Writing call records as calls go: every outcome, out-of-order reports, the `call.ended` event,
and closing what a node left live when it starts again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.pbx.records.helpers import start, whole_call
from zongji.pbx.contracts import CallDirection, CallEnd, CallStatus, HangupSide, Party
from zongji.pbx.events import CallEnded
from zongji.pbx.records.models import CallRecord
from zongji.pbx.records.service import CallRecordService
from zongji.platform.clock import FakeClock
from zongji.platform.db import PLATFORM, TenantScope
from zongji.platform.nodes import NodeRegistry, NodeState
from zongji.services import Services
from zongji.sip.dialog import DialogSnapshot

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
ACME = uuid.UUID("01900000-0000-7000-8000-000000000001")
OTHER = uuid.UUID("01900000-0000-7000-8000-000000000002")


async def record(services: Services, tenant_id: uuid.UUID, call_id: str) -> CallRecord:
    async with services.db.session(TenantScope(tenant_id)) as session:
        row = await session.scalar(select(CallRecord).where(CallRecord.call_id == call_id))
    assert row is not None
    return row


async def test_an_answered_call_has_its_times_parties_and_billable_seconds(
    services: Services,
) -> None:
    records = services.pbx.records
    alice = Party("8001", uuid.uuid4(), "张三")
    bob = Party("8002", uuid.uuid4(), "李四")
    call = start(ACME, "c-1", T0, caller=alice, callee=bob)
    await whole_call(records, call, ring=4, talk=75, side=HangupSide.CALLEE)

    row = await record(services, ACME, "c-1")
    assert row.status == CallStatus.ANSWERED
    assert (row.caller_number, row.caller_user_id, row.caller_name) == (
        "8001",
        alice.user_id,
        "张三",
    )
    assert (row.callee_number, row.callee_user_id, row.callee_name) == ("8002", bob.user_id, "李四")
    assert row.answered_by_user_id == bob.user_id
    assert row.started_at == T0
    assert row.answered_at == T0 + timedelta(seconds=4)
    assert row.ended_at == T0 + timedelta(seconds=79)
    assert row.billable_seconds == 75
    assert row.billed_minutes == 0  # internal calls are not billed
    assert row.hangup_side == "callee"
    assert row.node == "test-node"


@pytest.mark.parametrize(
    ("talk", "minutes"), [(1, 1), (59, 1), (60, 1), (61, 2), (120, 2), (121, 3)]
)
async def test_outbound_calls_are_billed_per_started_minute(
    services: Services, talk: int, minutes: int
) -> None:
    call = start(
        ACME,
        f"out-{talk}",
        T0,
        direction=CallDirection.OUTBOUND,
        callee=Party("+8613912345678"),
        outside_number="+862566668888",
    )
    await whole_call(services.pbx.records, call, talk=talk)
    row = await record(services, ACME, f"out-{talk}")
    assert (row.billable_seconds, row.billed_minutes) == (talk, minutes)
    assert row.outside_number == "+862566668888"


@pytest.mark.parametrize(
    "status",
    [
        CallStatus.NO_ANSWER,
        CallStatus.BUSY,
        CallStatus.CANCELLED,
        CallStatus.FAILED,
        CallStatus.VOICEMAIL,
    ],
)
async def test_unanswered_outcomes_are_recorded_without_talk_time(
    services: Services, status: CallStatus
) -> None:
    await whole_call(services.pbx.records, start(ACME, "c", T0), ring=20, talk=None, status=status)
    row = await record(services, ACME, "c")
    assert row.status == status
    assert row.answered_at is None
    assert row.ended_at == T0 + timedelta(seconds=20)
    assert (row.billable_seconds, row.billed_minutes) == (0, 0)


async def test_a_refused_call_keeps_its_rule_and_reason(services: Services) -> None:
    records = services.pbx.records
    call = start(ACME, "r", T0, direction=CallDirection.OUTBOUND, callee=Party("+12125550100"))
    await records.opened(call)
    await records.closed(
        "r",
        CallEnd(
            CallStatus.REFUSED, T0, HangupSide.SYSTEM, reason="403 Forbidden", rule="international"
        ),
    )
    row = await record(services, ACME, "r")
    assert (row.status, row.rule, row.reason, row.hangup_side) == (
        "refused",
        "international",
        "403 Forbidden",
        "system",
    )


async def test_reports_out_of_order_or_twice_never_raise_and_the_first_close_stands(
    services: Services,
) -> None:
    records = services.pbx.records
    await records.answered("nobody", T0)  # unknown: logged, not raised
    await records.closed("nobody", CallEnd(CallStatus.ANSWERED, T0, None))

    call = start(ACME, "c", T0)
    await records.opened(call)
    await records.opened(call)  # twice: one record
    end = CallEnd(CallStatus.CANCELLED, T0 + timedelta(seconds=3), HangupSide.CALLER)
    await records.closed("c", end)
    await records.answered("c", T0 + timedelta(seconds=4), call.callee)  # late answer: ignored
    later = CallEnd(CallStatus.ANSWERED, T0 + timedelta(seconds=60), HangupSide.CALLEE)
    await records.closed("c", later)  # closed twice: no-op

    async with services.db.session(TenantScope(ACME)) as session:
        rows = (await session.scalars(select(CallRecord))).all()
    assert len(rows) == 1
    assert rows[0].status == "cancelled"
    assert rows[0].answered_at is None
    assert rows[0].ended_at == T0 + timedelta(seconds=3)


async def test_an_answer_that_lands_after_the_close_still_counts(services: Services) -> None:
    records = services.pbx.records
    call = start(ACME, "c", T0, direction=CallDirection.OUTBOUND, callee=Party("+8613912345678"))
    await records.opened(call)
    await records.closed("c", CallEnd(CallStatus.ANSWERED, T0 + timedelta(seconds=95), None))
    await records.answered("c", T0 + timedelta(seconds=5), Party("+8613912345678"))
    row = await record(services, ACME, "c")
    assert row.answered_at == T0 + timedelta(seconds=5)
    assert (row.billable_seconds, row.billed_minutes) == (90, 2)


async def test_a_call_routed_by_the_ivr_takes_the_user_keyed_in_as_its_callee(
    services: Services,
) -> None:
    records = services.pbx.records
    zhang = Party("8001", uuid.uuid4(), "张三")
    main = Party("+862584000000", None, "总机")
    await records.opened(start(ACME, "ivr", T0, direction=CallDirection.INBOUND, callee=main))
    await records.routed("ivr", zhang)
    await records.closed("ivr", CallEnd(CallStatus.NO_ANSWER, T0 + timedelta(seconds=40), None))
    await records.routed("ivr", Party("8002"))  # after the end: nothing changes
    await records.routed("nobody", zhang)  # unknown: logged, not raised
    row = await record(services, ACME, "ivr")
    assert (row.callee_number, row.callee_user_id, row.callee_name) == (
        "8001",
        zhang.user_id,
        "张三",
    )
    assert row.outside_number is None


async def test_an_end_reported_before_the_start_or_answer_is_clamped(services: Services) -> None:
    records = services.pbx.records
    await records.opened(start(ACME, "c", T0))
    await records.answered("c", T0 + timedelta(seconds=10))
    await records.closed("c", CallEnd(CallStatus.ANSWERED, T0 + timedelta(seconds=5), None))
    row = await record(services, ACME, "c")
    assert row.ended_at == row.answered_at == T0 + timedelta(seconds=10)
    assert row.billable_seconds == 0


async def test_call_ended_is_published_after_the_record_is_closed(services: Services) -> None:
    heard: list[CallEnded] = []

    async def listen(event: CallEnded) -> None:
        # the record is committed by the time anyone hears of it
        heard.append(event)
        row = await record(services, ACME, event.call_id)
        assert row.ended_at is not None

    services.bus.subscribe(CallEnded, listen)
    bob = Party("8002", uuid.uuid4(), "李四")
    await whole_call(
        services.pbx.records, start(ACME, "m", T0, callee=bob), talk=None, status=CallStatus.BUSY
    )
    await services.bus.drain()
    assert len(heard) == 1
    event = heard[0]
    assert event.tenant_id == ACME
    assert event.status == "busy"
    assert event.callee_user_id == bob.user_id


async def test_the_same_call_id_in_two_enterprises_are_two_records(services: Services) -> None:
    records = services.pbx.records
    await whole_call(records, start(ACME, "same", T0), talk=10)
    await whole_call(records, start(OTHER, "same", T0), talk=None, status=CallStatus.BUSY)
    assert (await record(services, ACME, "same")).status == "answered"
    assert (await record(services, OTHER, "same")).status == "busy"


async def _live_calls(services: Services) -> None:
    records = services.pbx.records
    await records.opened(start(ACME, "talking", T0))
    await records.answered("talking", T0 + timedelta(seconds=5), Party("8002"))
    await records.opened(
        start(OTHER, "ringing", T0 + timedelta(seconds=20), direction=CallDirection.INBOUND)
    )
    await whole_call(records, start(ACME, "done", T0), talk=3)


async def test_a_restarted_node_closes_its_live_calls_as_interrupted_at_its_last_heartbeat(
    services: Services, clock: FakeClock
) -> None:
    # The node runs, beats, takes calls … and dies 40 s after its last heartbeat.
    before = NodeRegistry(services.db, clock, "test-node", "1")
    await before.announce({}, NodeState.RUNNING)
    await _live_calls(services)
    clock.advance(60)
    await before.heartbeat()
    last_beat = clock.now()
    clock.advance(40)

    # A fresh process: its registry announces itself first (overwriting the heartbeat) …
    clock.advance(5)
    after = NodeRegistry(services.db, clock, "test-node", "1")
    await after.announce({}, NodeState.STARTING)
    restarted = CallRecordService(services.db, services.bus, clock, "test-node", after)
    assert await restarted.recover_interrupted() == 2

    talking = await record(services, ACME, "talking")
    assert talking.status == CallStatus.INTERRUPTED
    assert talking.ended_at == last_beat
    assert talking.billable_seconds == (last_beat - (T0 + timedelta(seconds=5))).seconds
    assert talking.hangup_side == "system"
    ringing = await record(services, OTHER, "ringing")
    assert (ringing.status, ringing.ended_at, ringing.billable_seconds) == (
        "interrupted",
        last_beat,
        0,
    )
    assert (await record(services, ACME, "done")).status == "answered"
    assert await restarted.recover_interrupted() == 0  # nothing left live


async def test_without_a_known_heartbeat_interrupted_calls_end_now(
    services: Services, clock: FakeClock
) -> None:
    await _live_calls(services)
    clock.advance(300)
    restarted = CallRecordService(services.db, services.bus, clock, "test-node", None)
    assert await restarted.recover_interrupted() == 2
    assert (await record(services, ACME, "talking")).ended_at == clock.now()
    assert (await record(services, ACME, "talking")).billable_seconds == 295


async def test_recovery_leaves_the_live_calls_of_other_nodes_alone(
    services: Services, clock: FakeClock
) -> None:
    await _live_calls(services)
    other = CallRecordService(services.db, services.bus, clock, "node-b", None)
    assert await other.recover_interrupted() == 0
    async with services.db.session(PLATFORM) as session:
        live = (
            await session.scalars(select(CallRecord.call_id).where(CallRecord.ended_at.is_(None)))
        ).all()
    assert sorted(live) == ["ringing", "talking"]


async def test_a_rebuilt_service_still_closes_calls_it_did_not_open(
    services: Services, clock: FakeClock
) -> None:
    await services.pbx.records.opened(start(ACME, "c", T0))
    fresh = CallRecordService(services.db, services.bus, clock, "test-node", None)
    await fresh.answered("c", T0 + timedelta(seconds=2))
    await fresh.closed("c", CallEnd(CallStatus.ANSWERED, T0 + timedelta(seconds=12), None))
    row = await record(services, ACME, "c")
    assert (row.status, row.billable_seconds) == ("answered", 10)


def _dialog(call_id: str, side: str) -> DialogSnapshot:
    return DialogSnapshot(
        call_id=call_id,
        local=f"<sip:8001@acme.example>;tag=ours-{side}",
        remote=f"<sip:8002@acme.example>;tag=theirs-{side}",
        remote_target=f"sip:{side}@192.0.2.10:5062",
        route_set=("<sip:edge.example.net;lr>",),
        local_seq=2,
        secure=False,
        is_uac=side == "callee",
        pinned=side == "callee",
        transport="UDP",
        host="192.0.2.10",
        port=5062,
    )


async def test_a_dead_nodes_calls_come_back_with_their_dialogs_to_end(
    services: Services, clock: FakeClock
) -> None:
    records = services.pbx.records
    caller, callee = _dialog("talking-1", "caller"), _dialog("talking-2", "callee")
    await records.opened(start(ACME, "talking", T0))
    answered_at = T0 + timedelta(seconds=2)
    await records.answered("talking", answered_at, Party("8002"), None, [caller, callee])
    await records.opened(start(ACME, "in-ivr", T0))
    await records.dialogs("in-ivr", [caller])
    await records.opened(start(ACME, "ringing", T0))
    await whole_call(records, start(ACME, "done", T0), talk=3)
    clock.advance(30)

    restarted = CallRecordService(services.db, services.bus, clock, "test-node", None)
    interrupted = {call.call_id: call for call in await restarted.close_interrupted()}
    assert interrupted["talking"].legs == (caller, callee)
    assert interrupted["in-ivr"].legs == (caller,)
    assert interrupted["ringing"].legs == ()  # nobody answered: no dialog to end
    assert set(interrupted) == {"talking", "in-ivr", "ringing"}
    row = await record(services, ACME, "talking")
    assert (row.status, row.reason, row.legs) == ("interrupted", "node failure", None)


async def test_a_call_that_ends_normally_leaves_no_dialogs_behind(services: Services) -> None:
    records = services.pbx.records
    await records.opened(start(ACME, "c-1", T0))
    legs = [_dialog("c-1", "caller"), _dialog("c-1", "callee")]
    await records.answered("c-1", T0 + timedelta(seconds=1), Party("8002"), None, legs)
    assert (await record(services, ACME, "c-1")).legs is not None
    end = CallEnd(CallStatus.ANSWERED, T0 + timedelta(seconds=9), HangupSide.CALLER)
    await records.closed("c-1", end)
    assert (await record(services, ACME, "c-1")).legs is None
