"""Running Kamailio (Debian `kamailio`) as a SIP proxy in front of the node, from a test.

The configurations are this repository's own (`tests/interop/kamailio/*.cfg`); the proxy listens
on a free UDP port on 127.0.0.1, runs in the foreground as a child of the test's event loop, and
is stopped (SIGTERM, then SIGKILL) at the end whatever happens. Its log stays readable for a
failing test's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.interop.sipp import free_port, wait_bound

KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
CONFIGS = Path(__file__).parent / "kamailio"


@dataclass
class Kamailio:
    port: int
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def read_log(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextlib.asynccontextmanager
async def kamailio(config: str, **defines: str) -> AsyncIterator[Kamailio]:
    """Kamailio with `tests/interop/kamailio/<config>.cfg`; `defines` become `-A NAME="value"`."""
    if not shutil.which(KAMAILIO):
        raise AssertionError("kamailio is not installed: install the Debian package kamailio")
    workdir = Path(tempfile.mkdtemp(prefix="kamailio."))
    port = free_port()
    log = workdir / "kamailio.log"
    command = [
        KAMAILIO, "-f", str(CONFIGS / f"{config}.cfg"), "-DD", "-E",
        "-l", f"udp:127.0.0.1:{port}", "-m", "32", "-M", "4",
        "-w", str(workdir), "-P", str(workdir / "kamailio.pid"),
    ]  # fmt: skip
    for name, value in defines.items():
        command += ["-A", f'{name}="{value}"']
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=output,
            cwd=workdir,
        )
    try:
        await wait_bound(port, within=20)
        yield Kamailio(port, log)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
