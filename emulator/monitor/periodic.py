"""A background job of the emulator's Azure Monitor that runs every so many seconds of the
timing (the usage sampler, the autoscale engine), until the emulator stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from emulator.timing import Timing

log = logging.getLogger("emulator.monitor")


class Periodic:
    def __init__(
        self,
        name: str,
        period: str,
        timing: Callable[[], Timing],
        job: Callable[[], Awaitable[None]],
    ) -> None:
        self.name = name
        self.period = period  # a key of the timing's seconds
        self.timing = timing
        self.job = job
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(max(self.timing().duration(self.period), 0.1))
            try:
                await self.job()
            except Exception:  # one round failing must never end the job
                log.exception("%s failed", self.name)
