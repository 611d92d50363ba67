"""`Flag` and `watch`: waiting on events as plain futures, and the conversation and fork waits
that use them making no task per event."""

from __future__ import annotations

import asyncio

from zongji.media import LocalMediaServer
from zongji.pbx.calls.conversation import Conversation
from zongji.pbx.calls.flags import Flag, watch
from zongji.pbx.calls.participants import ApplicationParticipant


async def test_a_flags_future_resolves_when_it_is_set() -> None:
    flag = Flag()
    first, second = flag.future(), flag.future()
    given_up = flag.future()
    given_up.cancel()
    assert not first.done()
    flag.set()
    assert first.done()
    assert second.done()
    assert given_up.cancelled()
    assert flag.is_set()
    assert flag.future().done()  # set already: done at once
    flag.clear()
    again = flag.future()
    assert not again.done()
    flag.set()
    assert again.done()
    await flag.wait()  # still an asyncio.Event


async def test_given_up_waits_do_not_pile_up() -> None:
    flag = Flag()
    for _ in range(100):
        flag.future().cancel()
    assert flag._futures is not None
    assert len(flag._futures) <= 8


async def test_watch_takes_a_plain_event_too() -> None:
    plain = asyncio.Event()
    watched = watch(plain)
    await asyncio.sleep(0)
    assert not watched.done()
    plain.set()
    await asyncio.wait_for(watched, 1)
    stopped = watch(asyncio.Event())
    stopped.cancel()
    await asyncio.sleep(0)
    assert stopped.cancelled()


async def test_waiting_for_a_conversation_to_end_makes_no_task_per_participant() -> None:
    async with LocalMediaServer(port_min=0) as media:
        conversation = Conversation(media)
        parties = [ApplicationParticipant(name) for name in ("menu", "voicemail")]
        for party in parties:
            await conversation.add(party)
        before = len(asyncio.all_tasks())
        waiting = asyncio.ensure_future(conversation.wait_end())
        await asyncio.sleep(0.01)
        assert len(asyncio.all_tasks()) == before + 1  # the wait itself, nothing more
        parties[1].done()
        assert await asyncio.wait_for(waiting, 2) is parties[1]
