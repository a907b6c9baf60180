"""How long each phase of a run took, for the log, the summary and the benchmark."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Phases:
    """How long each phase took, for the summary."""

    timings: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings.append((name, time.monotonic() - started))

    def by_name(self) -> list[tuple[str, float]]:
        """Each phase once, in the order it first ran: a phase that ran twice (observing
        again after waiting for another run's lease) is the sum of its runs."""
        summed: dict[str, float] = {}
        for name, seconds in self.timings:
            summed[name] = summed.get(name, 0.0) + seconds
        return list(summed.items())

    def total(self) -> float:
        return sum(seconds for _, seconds in self.timings)
