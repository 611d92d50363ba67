"""Running baresip (Debian `baresip-core`) from a test and driving it over `ctrl_tcp`.

baresip gets its own configuration directory with free ports for SIP and for `ctrl_tcp`, a sine
tone as audio source (so it sends real RTP) and an audio bridge as player (no sound card), and
one account that answers calls by itself. Commands and events are JSON in netstrings.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sipp import free_port, port_bound

BARESIP = shutil.which("baresip") or "/usr/bin/baresip"
MODULES = Path("/usr/lib/baresip/modules")

CONFIG = """\
poll_method		epoll
sip_listen		127.0.0.1:{sip_port}
ctrl_tcp_listen		127.0.0.1:{ctrl_port}
module_path		{modules}
module			g711.so
module			ausine.so
module			aubridge.so
module_app		account.so
module_app		menu.so
module_app		ctrl_tcp.so
audio_source		ausine,440
audio_player		aubridge,zongji
ausrc_srate		48000
auplay_srate		48000
ausrc_channels		2
"""


def require_baresip() -> None:
    """Fail (never skip) when baresip or the modules the tests need are missing."""
    missing = [str(p) for p in (Path(BARESIP),) if not p.exists()]
    missing += [m for m in ("ctrl_tcp.so", "g711.so", "ausine.so", "aubridge.so", "menu.so",
                            "account.so") if not (MODULES / m).exists()]  # fmt: skip
    if missing:
        raise AssertionError(
            f"baresip is not usable, missing {missing}: install the Debian package baresip-core"
        )


class Baresip:
    """One baresip process with a ctrl_tcp connection."""

    def __init__(self, account: str | None = None, *, config: str = "") -> None:
        """`account`: an accounts-file line to use instead of the default local account (e.g. a
        device credential registering at the PBX, `<sip:user@domain>;auth_pass=...`).
        `config`: more configuration lines (e.g. `sip_cafile` to trust the node's certificate)."""
        require_baresip()
        self.account = account
        self.config = config
        self.directory = Path(tempfile.mkdtemp(prefix="baresip."))
        self.sip_port = free_port("udp")
        self.ctrl_port = free_port("tcp")
        self.process: asyncio.subprocess.Process | None = None
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._responses: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tokens = itertools.count(1)
        self._reader_task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def uri(self) -> str:
        return f"sip:baresip@127.0.0.1:{self.sip_port}"

    async def start(self) -> None:
        # `free_port` frees its port before baresip binds it, and any socket of the machine may
        # take it in between: baresip then exits with "Address already in use". Such a start is
        # retried on fresh ports (a harness race, not the behaviour under test).
        for _attempt in range(3):
            await self._launch()
            if await self._bound_or_exited():
                break
            self.sip_port, self.ctrl_port = free_port("udp"), free_port("tcp")
        else:
            raise AssertionError(f"baresip did not start: {self.directory / 'baresip.log'}")
        reader, self._writer = await asyncio.open_connection("127.0.0.1", self.ctrl_port)
        self._reader_task = asyncio.get_running_loop().create_task(self._read(reader))

    async def _launch(self) -> None:
        (self.directory / "config").write_text(
            CONFIG.format(sip_port=self.sip_port, ctrl_port=self.ctrl_port, modules=MODULES)
            + self.config
        )
        account = self.account or f"<{self.uri}>;regint=0;answermode=auto"
        (self.directory / "accounts").write_text(account + "\n")
        (self.directory / "contacts").write_text("")
        self.process = await asyncio.create_subprocess_exec(
            BARESIP, "-f", str(self.directory),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=open(self.directory / "baresip.log", "wb"),  # noqa: SIM115, ASYNC230
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip

    async def _bound_or_exited(self, within: float = 10.0) -> bool:
        """True once baresip listens on both ports; False if it exited on a port taken
        meanwhile. Anything else (a hang, another failure) fails the test."""
        assert self.process is not None
        deadline = asyncio.get_running_loop().time() + within
        while not (port_bound(self.sip_port, "udp") and port_bound(self.ctrl_port, "tcp")):
            if self.process.returncode is not None:
                log = (self.directory / "baresip.log").read_text(errors="replace")
                if "Address already in use" in log:
                    return False
                raise AssertionError(f"baresip exited: {log[-2000:]}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"baresip did not bind udp {self.sip_port}")
            await asyncio.sleep(0.05)
        return True

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                length = await reader.readuntil(b":")
                payload = await reader.readexactly(int(length[:-1]))
                await reader.readexactly(1)  # the trailing comma
                message = json.loads(payload)
                if message.get("response"):
                    future = self._responses.pop(str(message.get("token")), None)
                    if future is not None and not future.done():
                        future.set_result(message)
                elif message.get("event"):
                    self.events.put_nowait(message)

    async def command(self, command: str, params: str = "") -> dict[str, Any]:
        """Run a ctrl_tcp command and return its response."""
        assert self._writer is not None
        token = str(next(self._tokens))
        future = asyncio.get_running_loop().create_future()
        self._responses[token] = future
        data = json.dumps({"command": command, "params": params, "token": token}).encode()
        self._writer.write(str(len(data)).encode() + b":" + data + b",")
        return await asyncio.wait_for(future, 10)

    async def event(self, kind: str, within: float = 10.0) -> dict[str, Any]:
        """The next event of `kind` (CALL_ESTABLISHED, CALL_CLOSED ...), skipping others."""
        async with asyncio.timeout(within):
            while True:
                event = await self.events.get()
                if event.get("type") == kind:
                    return event

    def log(self) -> str:
        path = self.directory / "baresip.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        process = self.process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
