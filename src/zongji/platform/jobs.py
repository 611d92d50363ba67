"""Background jobs: periodic tasks of the node (heartbeat, housekeeping), started and stopped
with it. A job that fails is logged and counted, and runs again at its next interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from zongji.platform.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    interval: float
    run: Callable[[], Awaitable[object]]


class JobRunner:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._jobs: list[Job] = []
        self._tasks: list[asyncio.Task[None]] = []

    def every(self, name: str, interval: float, run: Callable[[], Awaitable[object]]) -> None:
        self._jobs.append(Job(name, interval, run))

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(job), name=f"job:{job.name}") for job in self._jobs
        ]

    async def run_once(self, name: str) -> None:
        job = next(j for j in self._jobs if j.name == name)
        await self._run(job)

    async def _loop(self, job: Job) -> None:
        while True:
            await self._run(job)
            await asyncio.sleep(job.interval)

    async def _run(self, job: Job) -> None:
        try:
            await job.run()
        except Exception:
            log.exception("job failed", extra={"job": job.name})
            self._metrics.job_runs.labels(job.name, "failed").inc()
        else:
            self._metrics.job_runs.labels(job.name, "ok").inc()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
