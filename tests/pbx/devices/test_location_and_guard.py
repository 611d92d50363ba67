"""The location service and the guard on their own, on clocks the tests move."""

from __future__ import annotations

import uuid

from zongji.pbx.contracts import Device
from zongji.pbx.devices.guard import AuthGuard
from zongji.pbx.devices.location import LocationService, NewBinding
from zongji.platform.clock import FakeClock
from zongji.sip.network import HostPort
from zongji.sip.transport.base import Flow


class Now:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def device(tenant: uuid.UUID, user: uuid.UUID, cred: uuid.UUID | None = None) -> Device:
    return Device(tenant, user, cred or uuid.uuid4(), "8001-abcd")


def binding(n: int, expires: int = 60) -> NewBinding:
    uri = f"sip:8001-abcd@10.0.0.{n}:5060"
    return NewBinding(key=uri, sent=uri, uri=uri, expires=expires, nat=False)


def flow() -> Flow:
    return Flow(None, HostPort("127.0.0.1", 5060))  # type: ignore[arg-type]


def test_bindings_expire_and_presence_follows_first_and_last() -> None:
    now = Now()
    changes: list[tuple[uuid.UUID, bool]] = []
    location = LocationService(now=now, on_presence=lambda t, u, r: changes.append((u, r)))
    tenant, user = uuid.uuid4(), uuid.uuid4()
    d = device(tenant, user)
    location.update(d, [binding(1, 60)], flow=flow(), call_id="a", cseq=1)
    location.update(d, [binding(2, 120)], flow=flow(), call_id="a", cseq=2)
    assert changes == [(user, True)]
    assert len(location.contacts(tenant, user)) == 2
    now.t += 61
    assert [c.uri for c in location.contacts(tenant, user)] == ["sip:8001-abcd@10.0.0.2:5060"]
    now.t += 60
    assert location.sweep() == 1
    assert location.contacts(tenant, user) == []
    assert changes == [(user, True), (user, False)]
    assert location.binding_count == 0


def test_out_of_order_refresh_is_ignored() -> None:
    now = Now()
    location = LocationService(now=now)
    tenant, user = uuid.uuid4(), uuid.uuid4()
    d = device(tenant, user)
    location.update(d, [binding(1, 300)], flow=flow(), call_id="a", cseq=5)
    location.update(d, [binding(1, 0)], flow=flow(), call_id="a", cseq=4)  # late, stale
    assert len(location.contacts(tenant, user)) == 1
    location.update(d, [binding(1, 0)], flow=flow(), call_id="a", cseq=6)
    assert location.contacts(tenant, user) == []


def test_same_user_id_in_two_tenants_is_two_users() -> None:
    location = LocationService(now=Now())
    user = uuid.uuid4()
    a, b = uuid.uuid4(), uuid.uuid4()
    location.update(device(a, user), [binding(1)], flow=flow(), call_id="x", cseq=1)
    assert location.contacts(b, user) == []
    location.drop_tenant(b)
    assert len(location.contacts(a, user)) == 1
    location.drop_tenant(a)
    assert location.contacts(a, user) == []


def test_guard_blocks_after_failures_in_the_window_and_forgets_after() -> None:
    clock = FakeClock()
    guard = AuthGuard(clock, max_failures=3, failure_window=10, block_seconds=60)
    assert not guard.failed("192.0.2.1", 5060)
    clock.advance(11)  # the first failure leaves the window
    assert not guard.failed("192.0.2.1", 5060)
    assert not guard.failed("192.0.2.1", 5062)  # any port of the address
    assert guard.admit("192.0.2.1", 5060, "REGISTER")
    assert guard.failed("192.0.2.1", 5060)
    assert guard.blocked("192.0.2.1")
    assert not guard.admit("192.0.2.1", 5060, "OPTIONS")
    assert guard.admit("192.0.2.2", 5060, "REGISTER")  # others are not affected
    (block,) = guard.blocks()
    assert block.host == "192.0.2.1"
    assert block.failures == 3
    assert block.username is None
    clock.advance(61)
    assert not guard.blocked("192.0.2.1")
    assert guard.blocks() == []


def test_success_forgets_earlier_failures() -> None:
    guard = AuthGuard(FakeClock(), max_failures=3)
    guard.failed("h", 1)
    guard.failed("h", 1)
    guard.succeeded("h")
    assert not guard.failed("h", 1)
    assert not guard.blocked("h")


def test_guard_throttles_register_and_invite_floods_per_source() -> None:
    clock = FakeClock()
    guard = AuthGuard(clock, rate=10, burst=20)
    admitted = sum(guard.admit("198.51.100.9", 5060, "INVITE") for _ in range(100))
    assert admitted == 20  # the burst
    assert guard.admit("198.51.100.9", 5060, "BYE")  # requests of admitted calls: never throttled
    assert guard.admit("198.51.100.10", 5060, "REGISTER")
    clock.advance(1.0)
    assert sum(guard.admit("198.51.100.9", 5060, "REGISTER") for _ in range(100)) == 10
    assert not guard.blocked("198.51.100.9")  # throttled, not blocked


def test_trunks_are_never_blocked_or_throttled() -> None:
    """The carrier's address:port (the trunk registry's test) is never counted, throttled or
    refused, even when a device on the same address got the address blocked."""

    def is_trunk(host: str, port: int) -> bool:
        return (host, port) == ("203.0.113.1", 5060)

    guard = AuthGuard(FakeClock(), max_failures=1, rate=1, burst=1, trusted=is_trunk)
    assert not guard.failed("203.0.113.1", 5060)
    assert all(guard.admit("203.0.113.1", 5060, "INVITE") for _ in range(10))
    assert guard.failed("203.0.113.1", 5999)  # a phone on the carrier's machine guessing
    assert guard.blocked("203.0.113.1")
    assert not guard.admit("203.0.113.1", 5999, "INVITE")
    assert guard.admit("203.0.113.1", 5060, "INVITE")  # the carrier's calls still come in


def test_behind_a_trusted_proxy_failures_count_per_username() -> None:
    """All phones behind one proxy share its address: one guessing phone blocks only its own
    username there, never the proxy."""
    guard = AuthGuard(FakeClock(), max_failures=2, rate=1, burst=1, proxies=["10.1.0.0/16"])
    proxy = "10.1.2.3"
    assert not guard.failed(proxy, 5060, "8001-desk")
    assert guard.failed(proxy, 5060, "8001-desk")
    assert guard.blocked(proxy, "8001-desk")
    assert not guard.blocked(proxy, "8002-desk")
    assert not guard.blocked(proxy)
    assert guard.admit(proxy, 5060, "REGISTER")
    assert all(guard.admit(proxy, 5060, "INVITE") for _ in range(10))  # not throttled
    (block,) = guard.blocks()
    assert (block.host, block.username) == (proxy, "8001-desk")
    assert not guard.failed(proxy, 5060, "8002-desk")
    guard.succeeded(proxy, "8002-desk")
    assert guard.unblock(proxy)
    assert not guard.blocked(proxy, "8001-desk")
    # outside the proxy's block, an address is one source whatever the username
    assert not guard.failed("10.2.0.1", 5060, "a")
    assert guard.failed("10.2.0.1", 5060, "b")
    assert guard.blocked("10.2.0.1", "c")
