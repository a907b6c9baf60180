"""rollout.analysis.load: the smoke test's request sent to the candidate during a stage, so a
quiet endpoint still gets a verdict — what Flagger's load tester does "for workloads that are
not receiving constant traffic" (docs.flagger.app, usage/webhooks, "Load Testing").

One request at a time, at most `requests_per_second`, at most `per_window` in each
`interval_seconds` from the stage's start. The answers are not judged here: Azure Monitor counts
these requests with every other, and the analysis judges them. The sender runs on its own
thread from `start()` until `stop()`, which the stage calls however it ends (passed, failed,
cancelled)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Protocol, Self

from deployer.spec.model import AnalysisSpec


class Sender(Protocol):
    """One scoring request to the candidate: the status it answered, None for no answer."""

    timeout: float

    def send(self) -> int | None: ...

    def close(self) -> None: ...


class Load:
    def __init__(self, sender: Sender, spec: AnalysisSpec) -> None:
        assert spec.load is not None
        self.sender = sender
        self.period = 1.0 / spec.load.requests_per_second
        self.per_window = spec.load_per_window
        self.interval = float(spec.interval_seconds)
        self.answers: Counter[int | None] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="analysis-load", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def sent(self) -> int:
        return sum(self.answers.values())

    def stop(self) -> None:
        """No request starts after this; the one on its way gets its timeout to finish."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self.sender.timeout + 1.0)
        self.sender.close()

    def running(self) -> bool:
        return self._thread.is_alive()

    def describe(self) -> str:
        answered = ", ".join(
            f"{count} × HTTP {status}" if status is not None else f"{count} unanswered"
            for status, count in sorted(self.answers.items(), key=lambda item: -item[1])
        )
        return f"{self.sent} requests sent" + (f" ({answered})" if answered else "")

    def _run(self) -> None:
        start = next_at = time.monotonic()
        window, in_window = 0, 0
        while not self._stop.is_set():
            now = time.monotonic()
            current = int((now - start) // self.interval)
            if current != window:
                window, in_window = current, 0
            if in_window >= self.per_window:
                next_at = start + (window + 1) * self.interval  # this window has had its share
            if now < next_at:
                self._stop.wait(next_at - now)
                continue
            self.answers[self.sender.send()] += 1
            in_window += 1
            # Paced from the last start, never catching up in a burst after a slow answer.
            next_at = max(next_at + self.period, time.monotonic())
