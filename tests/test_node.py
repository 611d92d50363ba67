"""A real node process: `zongji serve --demo` comes up, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

from zongji.services import Services

STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningNode:
    def __init__(self, cwd: Path, *args: str) -> None:
        self.port = free_port()
        self.log = cwd / "node.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zongji.cli",
                "serve",
                "--http-port",
                str(self.port),
                "--sip-port",
                "0",  # free ports: other suites share the machine
                *args,
            ],
            cwd=cwd,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "ZONGJI_DEMO_CARRIER_PORT": "0"},
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"node exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"node not ready:\n{self.log.read_text()}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def test_demo_node_from_nothing(tmp_path: Path) -> None:
    """The `make run` path: default SQLite under ./var, migrated on start, demo accounts."""
    node = RunningNode(tmp_path, "--demo", "--log-format", "json")
    try:
        node.wait_ready()
        demo = json.loads((tmp_path / "var" / "demo.json").read_text())
        assert demo["http"] == node.base
        with httpx.Client(base_url=node.base, timeout=10) as http:
            admin = http.post(
                "/api/v1/auth/login",
                json={
                    "account": demo["enterprise_admin"]["account"],
                    "password": demo["enterprise_admin"]["password"],
                },
            )
            assert admin.status_code == 200
            # The real-time channel is served by the same process (uvicorn's WebSocket side).
            with ws_connect(
                f"ws://127.0.0.1:{node.port}/api/v1/ws",
                subprotocols=[
                    Subprotocol("zongji.v1"),
                    Subprotocol(f"bearer.{admin.json()['access_token']}"),
                ],
                open_timeout=10,
            ) as socket_:
                hello = json.loads(socket_.recv(timeout=10))
                assert hello["type"] == "hello"
            op = http.post(
                "/api/v1/auth/login",
                json={
                    "account": demo["operator"]["account"],
                    "password": demo["operator"]["password"],
                },
            ).json()["access_token"]
            user = demo["users"][0]
            assert (
                http.post("/api/v1/auth/code", json={"mobile": user["mobile"]}).status_code == 202
            )
            [sms] = http.get(
                "/api/v1/platform/sms-outbox",
                params={"to": user["mobile"]},
                headers={"Authorization": f"Bearer {op}"},
            ).json()
            code = sms["text"].split("验证码是 ")[1][:6]
            login = http.post(
                "/api/v1/auth/code-login", json={"mobile": user["mobile"], "code": code}
            )
            assert login.status_code == 200, login.text
            assert login.json()["name"] == user["name"]
            status = http.get(
                "/api/v1/system/status", headers={"Authorization": f"Bearer {op}"}
            ).json()
            [me] = status["nodes"]
            assert me["state"] == "running"
            assert me["ports"]["http"] == node.port
            assert "zongji_http_requests_total" in http.get("/metrics").text
    finally:
        code = node.stop()
    log = node.log.read_text()
    assert code == 0, log
    assert "node stopping" in log
    assert (
        demo["operator"]["password"] not in log.split("Zongji demo")[0]
    )  # only the banner shows it
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(line.get("msg") == "node started" for line in lines)


def test_second_start_keeps_the_demo_accounts(tmp_path: Path) -> None:
    first = RunningNode(tmp_path, "--demo")
    first.wait_ready()
    demo1 = json.loads((tmp_path / "var" / "demo.json").read_text())
    assert first.stop() == 0
    second = RunningNode(tmp_path, "--demo")
    second.wait_ready()
    demo2 = json.loads((tmp_path / "var" / "demo.json").read_text())
    assert second.stop() == 0
    assert demo1["operator"] == demo2["operator"]
    assert demo1["enterprise"]["id"] == demo2["enterprise"]["id"]


async def test_node_on_the_suite_database_without_migrating(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    node = RunningNode(tmp_path, "--database-url", database_url, "--no-migrate", "--demo")
    try:
        await asyncio.to_thread(node.wait_ready)
        async with httpx.AsyncClient(base_url=node.base) as http:
            r = await http.get("/healthz")
            assert r.json()["database"] == "ok"
    finally:
        assert await asyncio.to_thread(node.stop) == 0
