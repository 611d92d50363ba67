"""Running SIPp (Debian `sip-tester`) against the stack from a test.

SIPp runs as a subprocess of the test's event loop, so the stack under test keeps serving while
SIPp works. Ports are found free at run time (never fixed); the result comes from SIPp's own
statistics file (`-trace_stat`), not from its exit code alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

SIPP = shutil.which("sipp") or "/usr/bin/sipp"


def require_sipp() -> str:
    """The sipp binary; fail (never skip) if the package is missing."""
    if not Path(SIPP).exists():
        raise AssertionError(
            "sipp is not installed: install the Debian package sip-tester (scripts/system-deps)"
        )
    return SIPP


def free_port(kind: str = "udp") -> int:
    """A port free right now for `kind` (udp or tcp) on 127.0.0.1."""
    sock_type = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, sock_type) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_bound(port: int, kind: str = "udp") -> bool:
    """Whether something listens on `port` (read from /proc, as the bench harness does)."""
    suffix = f":{port:04X}"
    path = "/proc/net/udp" if kind == "udp" else "/proc/net/tcp"
    with open(path) as table:
        lines = table.readlines()[1:]
    return any(line.split()[1].endswith(suffix) for line in lines)


async def wait_bound(port: int, kind: str = "udp", within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not port_bound(port, kind):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"SIPp did not bind {kind} port {port}")
        await asyncio.sleep(0.02)


@dataclass
class SippResult:
    returncode: int
    stats: dict[str, str]
    errors: str
    messages: str

    def count(self, name: str) -> int:
        value = self.stats.get(name, "0") or "0"
        return int(value)

    @property
    def successful(self) -> int:
        return self.count("SuccessfulCall(C)")

    @property
    def failed(self) -> int:
        return self.count("FailedCall(C)")

    def explain(self) -> str:
        return f"sipp rc={self.returncode}\nerrors:\n{self.errors[-3000:]}\n"


def ok(result: SippResult) -> None:
    """One call, and it went as the scenario says (SIPp's log beside the failure)."""
    assert result.failed == 0, result.explain() + result.messages[-6000:]
    assert result.successful == 1, result.explain() + result.messages[-6000:]


class Sipp:
    """One SIPp process: start it, wait for it, read its statistics."""

    def __init__(self, *args: str, local_port: int | None = None, transport: str = "u1") -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="sipp."))
        self.local_port = local_port or free_port("udp" if transport.startswith("u") else "tcp")
        self.transport = transport
        self.args = list(args)
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        stats = self.workdir / "stats.csv"
        command = [
            require_sipp(), *self.args,
            "-i", "127.0.0.1", "-p", str(self.local_port), "-t", self.transport,
            "-nostdin", "-trace_stat", "-stf", str(stats), "-fd", "1",
            "-trace_err", "-error_file", str(self.workdir / "errors.log"),
            "-trace_msg", "-message_file", str(self.workdir / "messages.log"),
        ]  # fmt: skip
        self.process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=self.workdir,
        )

    async def wait(self, within: float) -> SippResult:
        assert self.process is not None
        try:
            returncode = await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            await self.stop()
            returncode = -999
        return SippResult(
            returncode, self._stats(), self._read("errors.log"), self._read("messages.log")
        )

    async def stop(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()

    def _read(self, name: str) -> str:
        path = self.workdir / name
        return path.read_text(errors="replace") if path.exists() else ""

    def _stats(self) -> dict[str, str]:
        path = self.workdir / "stats.csv"
        if not path.exists():
            return {}
        rows = [row for row in csv.reader(path.read_text().splitlines(), delimiter=";") if row]
        return dict(zip(rows[0], rows[-1], strict=False)) if len(rows) > 1 else {}

    def cleanup(self) -> None:
        with contextlib.suppress(OSError):
            shutil.rmtree(self.workdir)
