"""The in-process bus: a subscription names event classes and gets exactly those; each delivery
runs in its own task, so a slow or failing handler delays nobody; `drain` waits for them all."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from zongji.directory.events import (
    EnterpriseCancelled,
    EnterpriseResumed,
    EnterpriseSuspended,
)
from zongji.platform.events import Event, EventBus, InProcessBus

ACME = uuid.uuid4()


def _bus() -> EventBus:
    return InProcessBus()


async def test_a_subscription_by_class_gets_only_that_class() -> None:
    bus = _bus()
    heard: list[EnterpriseSuspended] = []

    async def on_suspended(event: EnterpriseSuspended) -> None:
        heard.append(event)

    bus.subscribe(EnterpriseSuspended, on_suspended)
    suspended = EnterpriseSuspended(tenant_id=ACME, reason="欠费")
    await bus.publish(
        [
            EnterpriseResumed(tenant_id=ACME, reason=None),
            suspended,
            EnterpriseCancelled(tenant_id=ACME, reason=None),
        ]
    )
    await bus.drain()
    assert heard == [suspended]


async def test_a_subscription_to_several_classes_gets_each_of_them() -> None:
    bus = _bus()
    heard: list[Event] = []

    async def on_stopped(event: EnterpriseSuspended | EnterpriseCancelled) -> None:
        heard.append(event)

    bus.subscribe((EnterpriseSuspended, EnterpriseCancelled), on_stopped)
    events = [
        EnterpriseSuspended(tenant_id=ACME, reason=None),
        EnterpriseResumed(tenant_id=ACME, reason=None),
        EnterpriseCancelled(tenant_id=ACME, reason=None),
    ]
    await bus.publish(events)
    await bus.drain()
    assert sorted(heard, key=events.index) == [events[0], events[2]]


async def test_every_handler_of_a_class_hears_it_and_a_failing_one_spoils_nothing() -> None:
    bus = _bus()
    heard: list[str] = []

    async def fails(event: EnterpriseSuspended) -> None:
        raise RuntimeError("handler bug")

    async def works(event: EnterpriseSuspended) -> None:
        heard.append("works")

    bus.subscribe(EnterpriseSuspended, fails)
    bus.subscribe(EnterpriseSuspended, works)
    await bus.publish([EnterpriseSuspended(tenant_id=ACME, reason=None)])
    await bus.drain()
    assert heard == ["works"]


async def test_publishing_does_not_wait_for_handlers_and_drain_does() -> None:
    bus = _bus()
    release = asyncio.Event()
    finished: list[str] = []

    async def slow(event: EnterpriseSuspended) -> None:
        await release.wait()
        finished.append("slow")

    bus.subscribe(EnterpriseSuspended, slow)
    await asyncio.wait_for(bus.publish([EnterpriseSuspended(tenant_id=ACME, reason=None)]), 1)
    assert finished == []
    draining = asyncio.create_task(bus.drain())
    await asyncio.sleep(0.01)
    assert not draining.done()
    release.set()
    await asyncio.wait_for(draining, 1)
    assert finished == ["slow"]


async def test_only_event_classes_can_be_subscribed_to() -> None:
    bus = InProcessBus()

    async def handler(event: Event) -> None:
        pass

    for wrong in ("enterprise.suspended", EnterpriseSuspended(tenant_id=None, reason=None), Event):
        with pytest.raises(TypeError, match="event classes"):
            bus.subscribe(wrong, handler)  # type: ignore[arg-type]
