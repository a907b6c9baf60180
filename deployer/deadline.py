"""One deadline for every wait of a run: the rollout's timeout and the workflow's cancellation,
checked in one place."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from deployer.errors import Cancelled, TimedOut

TIMEOUT_HINT = "raise rollout.timeout_minutes if the deployment just needs longer"


@dataclass
class Deadline:
    """`at`: a time.monotonic() value; `cancelled`: set when the workflow is cancelled."""

    at: float
    cancelled: threading.Event = field(default_factory=threading.Event)
    what: str = "the rollout's timeout"

    @classmethod
    def after(
        cls,
        seconds: float,
        cancelled: threading.Event | None = None,
        what: str = "the rollout's timeout",
    ) -> Deadline:
        return cls(time.monotonic() + seconds, cancelled or threading.Event(), what)

    def remaining(self) -> float:
        return max(self.at - time.monotonic(), 0.0)

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def check(self, doing: str) -> None:
        """Raise Cancelled or TimedOut if the run must stop `doing` what it is doing."""
        if self.cancelled.is_set():
            raise Cancelled(f"cancelled while {doing}")
        if self.passed:
            raise TimedOut(f"{doing} did not finish within {self.what}", hint=TIMEOUT_HINT)

    def sleep(self, seconds: float, doing: str) -> None:
        """Sleep up to `seconds`, waking at once when cancelled; never past the deadline."""
        self.check(doing)
        self.cancelled.wait(min(seconds, self.remaining()))
        self.check(doing)

    def grace(self, seconds: float) -> Deadline:
        """A deadline for putting things right after a cancel or a failure: `seconds` from
        now, and not cancellable (the cancel already happened)."""
        return Deadline.after(seconds, what=f"{seconds:.0f} s")
