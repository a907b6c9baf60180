"""The one clock of a run: wall time for records and metric windows, a monotonic count for
deadlines, and a sleep that a cancel interrupts. The executor and every Deadline carry one, so
the unit tests run watches, bakes and lease renewals on a fake clock without sleeping."""

from __future__ import annotations

import datetime
import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime.datetime:
        """The wall time, in UTC."""
        ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float, interrupt: threading.Event) -> None:
        """Wait `seconds`, or until `interrupt` is set."""
        ...


class SystemClock:
    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, interrupt: threading.Event) -> None:
        interrupt.wait(max(seconds, 0.0))


SYSTEM_CLOCK = SystemClock()
