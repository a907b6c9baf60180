"""The one place a run waits on Azure.

Every long-running operation of a run is polled by azure-core's own polling method (it knows
each operation's status and result URLs and final-state rules), but *when* it polls is decided
here, for all operations of the process together (`PollPacer`, installed by
deployer.sdk.configure_sdk):
- a Retry-After the service sends wins (azure-core's rule);
- otherwise the interval grows with the operation's age: every second for its first 20 s,
  then a twentieth of its age, at most 10 s (azure-core's fixed default is 30 s, azure-ai-ml's
  5 s for deployments; Azure sends no Retry-After for endpoint operations) — a 300 s
  deployment is polled some 75 times instead of 300, and its end noticed at most 10 s late;
- and all polls of the process share one budget, a token bucket well inside ARM's read budget
  per principal (Learn request-limits-and-throttling: reads 250, refilled at 25 per second), so
  a cleanup of 100 previews does not poll 100 operations every second;
- a poll ARM still refuses with 429 after azure-core's retries (which honour Retry-After) is
  not the end of the operation: it backs off, with jitter so that many waiting polls do not
  come back in the same second, and polls again (ARM does not process a throttled request,
  Learn request-limits-and-throttling "Error code"; Azure Architecture Center "Retry guidance
  for Azure services": exponential backoff with randomization).
Why configure azure-core's polling rather than poll ourselves: azure-ai-ml hands azure-core
its own polling method for deletions and deployments (AzureMLPolling with a constant
interval), so no argument of the SDK can replace it, and re-implementing the LRO protocol would
duplicate what azure-core gets right; the wait between polls (`LROBasePolling._delay`) is the
one thing that needs changing. (A custom `retry_policy` for MLClient was no option either: it
would be one policy instance shared by all of MLClient's pipelines, which chain their policies
through the instance.)
`Operation.wait` waits on our terms: the run's deadline checked every half second whatever the
polling thread is doing, a progress line every so often, Azure's failure translated.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import HttpResponseError

from deployer.azure.failures import translate
from deployer.deadline import Deadline

PROGRESS_EVERY = 15.0
THROTTLED_POLLS = 30  # polls refused with 429 in a row before the operation's wait fails


@dataclass
class PollPacer:
    """When the next poll of an operation `age` seconds old may go, shared by every operation
    of the process: `burst` polls may go at once, then `per_second` (a token bucket, kept as
    the time its next token is due)."""

    first: float = 1.0
    growth: float = 1 / 20
    cap: float = 10.0
    burst: int = 40
    per_second: float = 8.0
    _due: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def interval(self, age: float) -> float:
        """The wait an operation's age asks for, before the shared budget is considered."""
        return min(self.cap, max(self.first, age * self.growth))

    def delay(self, age: float, retry_after: float | None) -> float:
        """Seconds to wait before the next poll; reserves its place in the shared budget."""
        now = time.monotonic()
        wanted = now + (retry_after if retry_after else self.interval(age))
        with self._lock:
            goes = max(wanted, self._due - (self.burst - 1) / self.per_second)
            self._due = max(self._due, goes) + 1 / self.per_second
        return goes - now

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """The wait after the `attempt`-th throttled poll in a row: doubling from `first`,
        never shorter than Retry-After, at most `cap`, stretched by up to half at random."""
        base = max(retry_after or 0.0, min(self.cap, self.first * 2 ** (attempt - 1)))
        return float(base * random.uniform(1.0, 1.5))  # noqa: S311 (jitter, not a secret)


PACER = PollPacer()


def paced_delay(polling: Any) -> None:
    """azure-core's LROBasePolling._delay, paced by PACER (see the module docstring)."""
    from azure.core.pipeline.policies._utils import get_retry_after

    now = time.monotonic()
    started = getattr(polling, "_deployer_started", None)
    if started is None:
        started = polling._deployer_started = now
    retry_after = get_retry_after(polling._pipeline_response)
    polling._sleep(PACER.delay(now - started, retry_after))


def throttle_tolerant(update_status: Callable[[Any], None]) -> Callable[[Any], None]:
    """azure-core's update_status, polling again when ARM throttled the poll."""
    from azure.core.pipeline.policies._utils import get_retry_after
    from azure.core.polling.base_polling import BadStatus

    def update(polling: Any) -> None:
        attempt = 0
        while True:
            try:
                update_status(polling)
                return
            except BadStatus:
                response = polling._pipeline_response
                attempt += 1
                if response.http_response.status_code != 429 or attempt > THROTTLED_POLLS:
                    raise
                polling._sleep(PACER.backoff(attempt, get_retry_after(response)))

    return update


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
            raise translate(exc, self.description) from exc
