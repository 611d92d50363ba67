"""`/api/v1/ws` against a real node: who may connect, who hears what, resuming from a cursor,
the heartbeat and slow clients (docs/api/ws.md)."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from typing import Any

import uvloop

from tests.api.ws.conftest import Client, LiveNode, StartNode, open_socket, until
from tests.conftest import Tenant, bearer
from zongji.pbx.events import CredentialsRevoked
from zongji.platform.clock import FakeClock


async def create_user(node: LiveNode, tenant: Tenant, name: str, mobile: str) -> str:
    """An admin adds a user through the HTTP API, as the console does."""
    r = await node.http.post(
        "/api/v1/directory/users",
        json={"name": name, "mobile": mobile},
        headers=bearer(tenant.admin_token),
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def hello(client: Client) -> dict[str, Any]:
    message = await client.message()
    assert message["type"] == "hello", message
    return message


# -- who may connect ------------------------------------------------------------------------------


async def test_a_valid_access_token_opens_the_channel_and_anything_else_is_closed_with_why(
    start_node: StartNode, clock: FakeClock
) -> None:
    node = await start_node()
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)  # as `zongji serve` runs
    tenant = await node.world.enterprise("acme")

    client = await open_socket(node, tenant.admin_token)
    first = await hello(client)
    assert first["cursor"] == node.services.gateway.head  # enterprise.created was 1
    assert len(first["epoch"]) == 16
    assert first["heartbeat"] == 20.0
    assert first["timeout"] == 60.0
    await client.close()

    # Native clients may send the token as they do to the API.
    native = await open_socket(node, None, headers=bearer(tenant.admin_token))
    await hello(native)
    await native.close()

    assert await (await open_socket(node, None)).closed() == (4401, "unauthenticated")
    assert await (await open_socket(node, "not-a-token")).closed() == (4401, "invalid_token")
    clock.advance(901)  # access tokens live 15 minutes
    assert await (await open_socket(node, tenant.admin_token)).closed() == (
        4401,
        "token_expired",
    )
    fresh = await node.world.password_login(tenant.admin_login)
    bad_cursor = await open_socket(node, fresh, query="?cursor=-1")
    assert await bad_cursor.closed() == (4400, "invalid_cursor")


async def test_logout_and_suspension_close_open_connections_at_once(
    start_node: StartNode,
) -> None:
    node = await start_node()
    tenant = await node.world.enterprise("acme")
    operator = await node.world.operator_token()

    other_session = await node.world.password_login(tenant.admin_login)
    leaving = await open_socket(node, other_session)
    staying = await open_socket(node, tenant.admin_token)
    await hello(leaving)
    await hello(staying)

    r = await node.http.post("/api/v1/auth/logout", headers=bearer(other_session))
    assert r.status_code == 204
    assert await leaving.closed() == (4401, "session_ended")

    # A suspended user (停机) is out on every device at once.
    zhang = await create_user(node, tenant, "张三", "13800000001")
    zhang_socket = await open_socket(
        node, (await node.world.code_login("13800000001"))["access_token"]
    )
    await hello(zhang_socket)
    r = await node.http.post(
        f"/api/v1/directory/users/{zhang}/suspend", headers=bearer(tenant.admin_token)
    )
    assert r.status_code == 200, r.text
    assert await zhang_socket.closed() == (4403, "user_suspended")

    r = await node.http.post(
        f"/api/v1/platform/enterprises/{tenant.id}/suspend", headers=bearer(operator)
    )
    assert r.status_code == 200, r.text
    assert await staying.closed() == (4403, "enterprise_suspended")
    refused = await open_socket(node, tenant.admin_token)
    assert await refused.closed() == (4403, "enterprise_suspended")


# -- who hears what -------------------------------------------------------------------------------


async def test_each_enterprise_hears_its_own_events_and_the_operator_the_platforms(
    start_node: StartNode,
) -> None:
    node = await start_node()
    operator = await open_socket(node, await node.world.operator_token())
    await hello(operator)
    acme = await node.world.enterprise("acme")
    created = await operator.event()
    assert created["type"] == "enterprise.created"
    assert created["fields"]["tenant_id"] == str(acme.id)
    assert created["fields"]["code"] == "acme"
    globex = await node.world.enterprise("globex")
    assert (await operator.event())["fields"]["tenant_id"] == str(globex.id)

    acme_socket = await open_socket(node, acme.admin_token)
    globex_socket = await open_socket(node, globex.admin_token)
    await hello(acme_socket)
    await hello(globex_socket)

    zhang = await create_user(node, acme, "张三", "13800000001")
    event = await acme_socket.event()
    assert event["type"] == "directory.changed"
    assert event["fields"]["tenant_id"] == str(acme.id)
    assert event["fields"]["action"] == "user.create"
    assert event["fields"]["users"] == [zhang]
    assert event["cursor"] > created["cursor"]

    li = await create_user(node, globex, "李四", "13800000002")
    theirs = await globex_socket.event()
    assert theirs["fields"]["users"] == [li]  # globex's first event is its own: acme's never came

    # An employee hears the directory, and what is theirs alone; a colleague does not.
    zhang_token = (await node.world.code_login("13800000001"))["access_token"]
    await create_user(node, acme, "王五", "13800000003")
    wang_token = (await node.world.code_login("13800000003"))["access_token"]
    zhang_socket = await open_socket(node, zhang_token)
    wang_socket = await open_socket(node, wang_token)
    await hello(zhang_socket)
    await hello(wang_socket)
    r = await node.http.post(
        "/api/v1/me/contacts",
        json={"name": "老周", "phones": ["13912345678"]},
        headers=bearer(zhang_token),
    )
    assert r.status_code == 201, r.text
    private = await zhang_socket.event()
    assert private["type"] == "contacts.changed"
    assert private["fields"]["owner_id"] == zhang
    await create_user(node, acme, "赵六", "13800000004")
    assert (await wang_socket.event())["type"] == "directory.changed"  # not zhang's contacts
    assert (await zhang_socket.event())["type"] == "directory.changed"

    # The operator heard the enterprises' lifecycle, none of their directories.
    r = await node.http.post(
        f"/api/v1/platform/enterprises/{acme.id}/suspend",
        headers=bearer(await node.world.operator_token()),
    )
    assert r.status_code == 200
    assert (await operator.event())["type"] == "enterprise.suspended"
    for client in (operator, globex_socket):
        await client.close()


# -- resuming ------------------------------------------------------------------------------------


async def test_a_client_that_reconnects_with_its_cursor_gets_what_it_missed_once(
    start_node: StartNode,
) -> None:
    node = await start_node()
    acme = await node.world.enterprise("acme")
    globex = await node.world.enterprise("globex")
    client = await open_socket(node, acme.admin_token)
    start = await hello(client)
    first = await create_user(node, acme, "张三", "13800000001")
    seen = await client.event()
    assert seen["fields"]["users"] == [first]
    await client.close()

    missed = []
    for n in range(2, 5):
        missed.append(await create_user(node, acme, f"用户{n}", f"1380000000{n}"))
        await create_user(node, globex, f"别人{n}", f"1390000000{n}")  # other cursors between

    query = f"?epoch={start['epoch']}&cursor={seen['cursor']}"
    client = await open_socket(node, acme.admin_token, query=query)
    again = await hello(client)
    assert again["epoch"] == start["epoch"]
    assert again["cursor"] == seen["cursor"]
    replayed = [await client.event() for _ in missed]
    assert [e["fields"]["users"] for e in replayed] == [[u] for u in missed]
    cursors = [e["cursor"] for e in replayed]
    assert cursors == sorted(cursors)
    assert cursors[0] > seen["cursor"]
    live = await create_user(node, acme, "钱七", "13800000009")
    after = await client.event()  # the next thing is the live event: nothing twice
    assert after["fields"]["users"] == [live]
    assert after["cursor"] > cursors[-1]
    await client.close()

    # Resuming at the head replays nothing; a ping's cursor is as good as an event's.
    client = await open_socket(
        node, acme.admin_token, query=f"?epoch={start['epoch']}&cursor={after['cursor']}"
    )
    await hello(client)
    newest = await create_user(node, acme, "孙八", "13800000008")
    assert (await client.event())["fields"]["users"] == [newest]
    await client.close()


async def test_a_cursor_the_node_no_longer_holds_gets_a_reset(
    start_node: StartNode, clock: FakeClock
) -> None:
    node = await start_node(replay_events=2, replay_seconds=60)
    acme = await node.world.enterprise("acme")
    client = await open_socket(node, acme.admin_token)
    start = await hello(client)
    await client.close()
    for n in range(1, 4):  # three events: the first has left a buffer of two
        await create_user(node, acme, f"用户{n}", f"1380000000{n}")
    head = node.services.gateway.head

    async def resume(epoch: str, cursor: int) -> tuple[dict[str, Any], dict[str, Any]]:
        client = await open_socket(node, acme.admin_token, query=f"?epoch={epoch}&cursor={cursor}")
        messages = await client.message(), await client.message()
        await client.close()
        return messages

    greeting, reset = await resume(start["epoch"], start["cursor"])
    assert greeting["cursor"] == head
    assert reset == {"type": "reset", "cursor": head, "reason": "cursor_too_old"}
    _, reset = await resume("0123abcd0123abcd", head)  # another node, or before a restart
    assert reset["reason"] == "other_epoch"
    _, reset = await resume(start["epoch"], head + 5)
    assert reset["reason"] == "cursor_unknown"

    # Still held: the last two events come back.
    client = await open_socket(
        node, acme.admin_token, query=f"?epoch={start['epoch']}&cursor={head - 2}"
    )
    await hello(client)
    assert [(await client.event())["cursor"] for _ in range(2)] == [head - 1, head]
    await client.close()

    clock.advance(61)  # and too old, by age
    _, reset = await resume(start["epoch"], head - 1)
    assert reset["reason"] == "cursor_too_old"


# -- heartbeat -----------------------------------------------------------------------------------


async def test_the_heartbeat_keeps_a_live_client_and_closes_a_silent_one(
    start_node: StartNode,
) -> None:
    node = await start_node(heartbeat_interval=0.2, heartbeat_timeout=0.7)
    acme = await node.world.enterprise("acme")
    live = await open_socket(node, acme.admin_token)
    dead = await open_socket(node, acme.admin_token)
    await hello(live)
    await hello(dead)

    async def answer_pings(client: Client, count: int) -> None:
        while client.pings < count:
            message = await client.message()
            assert message["type"] == "ping"
            client.pings += 1
            await client.ws.send(json.dumps({"type": "pong"}))

    answering = asyncio.create_task(answer_pings(live, 5))
    # The dead one reads (its TCP is fine) but never answers.
    ping = await dead.message()
    assert ping == {"type": "ping", "cursor": node.services.gateway.head}
    assert await dead.closed() == (4408, "heartbeat_timeout")
    await answering  # five pings answered: still open well past the timeout
    user = await create_user(node, acme, "张三", "13800000001")
    assert (await live.event())["fields"]["users"] == [user]

    # Anything else than a pong is a protocol error.
    await live.ws.send("hello?")
    assert await live.closed() == (4400, "bad_message")
    metrics = (await node.http.get("/metrics")).text
    assert 'zongji_ws_closes_total{reason="heartbeat_timeout"} 1.0' in metrics


# -- back-pressure ---------------------------------------------------------------------------------


async def test_a_client_that_stops_reading_is_cut_off_and_the_others_keep_receiving(
    start_node: StartNode,
) -> None:
    queue = 32
    node = await start_node(send_queue=queue, close_grace=0.5)
    acme = await node.world.enterprise("acme")
    gateway = node.services.gateway

    fast = await open_socket(node, acme.admin_token)
    await hello(fast)
    # The slow one stops reading at once: a tiny receive buffer and a tiny library queue.
    sock = socket.create_connection(("127.0.0.1", node.node.ports["http"]))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow = await open_socket(node, acme.admin_token, sock=sock, max_queue=2)
    assert gateway.connections == 2

    published = 0
    deepest = 0
    while gateway.slow_cut_offs == 0:
        assert published < 50_000, "the slow client was never cut off"
        batch = [
            CredentialsRevoked(
                tenant_id=acme.id, credential_ids=tuple(uuid.uuid4() for _ in range(20))
            )
            for _ in range(8)
        ]
        await node.services.bus.publish(batch)
        published += len(batch)
        for event in batch:
            got = await fast.event()
            assert got["fields"]["credential_ids"] == [str(i) for i in event.credential_ids]
        deepest = max(deepest, gateway.queued)
        assert gateway.queued <= 2 * queue  # never more than the two queues' bounds

    assert gateway.slow_cut_offs == 1
    assert gateway.connections == 1
    await until(lambda: len(gateway.serving) == 1)  # its handler has ended: nothing held
    assert 0 < deepest <= 2 * queue
    # The fast one carries on, in order, with nothing lost.
    await node.services.bus.publish([CredentialsRevoked(tenant_id=acme.id, credential_ids=())])
    assert (await fast.event())["fields"]["credential_ids"] == []
    # The slow one finds its connection gone once it reads again (the close frame could not
    # be written into its full pipe, so it was dropped: 1006; or it got through: 4429). What
    # the kernel still holds for it drains fast once its window opens.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    code, _ = await slow.closed()
    assert code in (4429, 1006)
    metrics = (await node.http.get("/metrics")).text
    assert "zongji_ws_slow_clients_cut_off_total 1.0" in metrics
    assert "zongji_ws_connections 1.0" in metrics
    await fast.close()


async def test_metrics_count_connections_and_events(start_node: StartNode) -> None:
    node = await start_node()
    acme = await node.world.enterprise("acme")
    client = await open_socket(node, acme.admin_token)
    await hello(client)
    await create_user(node, acme, "张三", "13800000001")
    await client.event()
    metrics = (await node.http.get("/metrics")).text
    assert "zongji_ws_connections 1.0" in metrics
    assert "zongji_ws_events_sent_total 1.0" in metrics
    await client.close()
    await until(lambda: node.services.gateway.connections == 0)


async def test_node_stop_closes_connections_with_going_away(start_node: StartNode) -> None:
    node = await start_node()
    acme = await node.world.enterprise("acme")
    client = await open_socket(node, acme.admin_token)
    await hello(client)
    await node.services.gateway.close()
    assert await client.closed() == (1001, "node_stopping")


# -- several nodes ---------------------------------------------------------------------------------


async def test_on_the_redis_bus_a_client_hears_what_another_node_committed(
    start_node: StartNode,
) -> None:
    channel = f"zongji-test:{uuid.uuid4().hex}"
    a = await start_node(redis_channel=channel)
    b = await start_node(redis_channel=channel)
    acme = await a.world.enterprise("acme")
    on_a = await open_socket(a, acme.admin_token)
    on_b = await open_socket(b, acme.admin_token)
    hello_a = await hello(on_a)
    hello_b = await hello(on_b)
    assert hello_a["epoch"] != hello_b["epoch"]

    user = await create_user(a, acme, "张三", "13800000001")  # committed through node A
    assert (await on_a.event())["fields"]["users"] == [user]
    assert (await on_b.event())["fields"]["users"] == [user]

    # A cursor is one node's: a client that lands on the other node starts afresh.
    moved = await open_socket(
        b, acme.admin_token, query=f"?epoch={hello_a['epoch']}&cursor={hello_a['cursor']}"
    )
    await hello(moved)
    reset = await moved.message()
    assert reset["type"] == "reset"
    assert reset["reason"] == "other_epoch"
    for client in (on_a, on_b, moved):
        await client.close()
