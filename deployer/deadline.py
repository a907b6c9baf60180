"""One deadline for every wait of a run: the rollout's timeout and the workflow's cancellation,
checked in one place."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from deployer.clock import SYSTEM_CLOCK, Clock
from deployer.errors import Cancelled, TimedOut

TIMEOUT_HINT = "raise rollout.timeout_minutes if the deployment just needs longer"


@dataclass
class Deadline:
    """`at`: a value of `clock.monotonic()`; `cancelled`: set when the workflow is cancelled;
    `clock`: the run's one clock (deployer/clock.py)."""

    at: float
    cancelled: threading.Event = field(default_factory=threading.Event)
    what: str = "the rollout's timeout"
    clock: Clock = SYSTEM_CLOCK

    @classmethod
    def after(
        cls,
        seconds: float,
        cancelled: threading.Event | None = None,
        what: str = "the rollout's timeout",
        clock: Clock = SYSTEM_CLOCK,
    ) -> Deadline:
        return cls(clock.monotonic() + seconds, cancelled or threading.Event(), what, clock)

    def remaining(self) -> float:
        return max(self.at - self.clock.monotonic(), 0.0)

    @property
    def passed(self) -> bool:
        return self.clock.monotonic() >= self.at

    def check(self, doing: str) -> None:
        """Raise Cancelled or TimedOut if the run must stop `doing` what it is doing."""
        if self.cancelled.is_set():
            raise Cancelled(f"cancelled while {doing}")
        if self.passed:
            raise TimedOut(f"{doing} did not finish within {self.what}", hint=TIMEOUT_HINT)

    def sleep(self, seconds: float, doing: str) -> None:
        """Sleep up to `seconds`, waking at once when cancelled; never past the deadline."""
        self.check(doing)
        self.clock.sleep(min(seconds, self.remaining()), self.cancelled)
        self.check(doing)

    def grace(self, seconds: float) -> Deadline:
        """A deadline for putting things right after a cancel or a failure: `seconds` from
        now, and not cancellable (the cancel already happened)."""
        return Deadline.after(seconds, what=f"{seconds:.0f} s", clock=self.clock)
