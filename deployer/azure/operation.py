"""A long-running operation started through the SDK, waited on our terms: the run's deadline
checked between polls, a progress line every so often, Azure's failure translated."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import HttpResponseError

from deployer.azure.failures import translate
from deployer.deadline import Deadline

PROGRESS_EVERY = 15.0


class Operation:
    """A long-running operation started through the SDK, waited on our terms."""

    def __init__(self, description: str, poller: Any) -> None:
        self.description = description
        self.poller = poller
        self.started = time.monotonic()

    def wait(self, deadline: Deadline, progress: Callable[[str], None]) -> Any:
        try:
            last_report = self.started
            while not self.poller.done():
                deadline.check(self.description)
                now = time.monotonic()
                if now - last_report >= PROGRESS_EVERY:
                    status = self.poller.status()
                    progress(f"{self.description}: {status} ({now - self.started:.0f} s)")
                    last_report = now
                # LROPoller.wait re-raises what the polling thread met.
                self.poller.wait(timeout=min(0.5, max(deadline.remaining(), 0.01)))
            return self.poller.result()
        except HttpResponseError as exc:  # the operation ended Failed, or was refused
            raise translate(exc, self.description) from None
