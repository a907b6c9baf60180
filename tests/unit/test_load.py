"""rollout.analysis.load's sender on its own thread: bounded by its rate and by its count per
window, stopped for good by `stop()` (no request starts after it, no thread is left)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from deployer.load import Load
from deployer.spec.model import AnalysisSpec, LoadSpec


@dataclass
class Sender:
    answers: list[int | None] = field(default_factory=lambda: [200])
    seconds: float = 0.0  # each request takes this long
    timeout: float = 1.0
    times: list[float] = field(default_factory=list)
    closed: bool = False

    def send(self) -> int | None:
        self.times.append(time.monotonic())
        time.sleep(self.seconds)
        return self.answers[(len(self.times) - 1) % len(self.answers)]

    def close(self) -> None:
        self.closed = True


def _spec(rate: float, per_window: int | None = None, interval: int = 1) -> AnalysisSpec:
    return AnalysisSpec(interval_seconds=interval, load=LoadSpec(rate, per_window))


def _run(load: Load, seconds: float) -> None:
    with load:
        time.sleep(seconds)


def test_the_rate_bounds_the_requests() -> None:
    sender = Sender()
    _run(Load(sender, _spec(rate=10, per_window=1000)), 1.0)
    assert 5 <= len(sender.times) <= 11, sender.times  # 10 a second, the first at once


def test_each_window_gets_at_most_its_count_then_waits_for_the_next() -> None:
    sender = Sender()
    started = time.monotonic()
    _run(Load(sender, _spec(rate=20, per_window=3)), 1.5)
    windows = [int((at - started) // 1) for at in sender.times]
    assert windows.count(0) == 3 and windows.count(1) == 3, windows
    assert len(sender.times) == 6


def test_the_default_count_is_twice_min_requests() -> None:
    assert AnalysisSpec(min_requests=7, load=LoadSpec()).load_per_window == 14
    assert (
        AnalysisSpec(min_requests=7, load=LoadSpec(max_requests_per_window=3)).load_per_window == 3
    )


def test_a_slow_model_gets_fewer_requests_never_a_burst_after() -> None:
    sender = Sender(seconds=0.3)
    _run(Load(sender, _spec(rate=20, per_window=1000)), 1.0)
    assert 2 <= len(sender.times) <= 5  # one at a time


def test_stop_ends_the_thread_and_no_request_starts_after_it() -> None:
    sender = Sender(answers=[200, 200, 424, None], seconds=0.05)
    load = Load(sender, _spec(rate=20, per_window=1000))
    with load:
        time.sleep(0.5)
    stopped = time.monotonic()
    count = len(sender.times)
    time.sleep(0.3)
    assert len(sender.times) == count and all(at < stopped for at in sender.times)
    assert not load.running() and sender.closed
    assert not [t for t in threading.enumerate() if t.name == "analysis-load"]
    assert load.describe().startswith(f"{count} requests sent (")
    assert "× HTTP 200" in load.describe() and "unanswered" in load.describe()


def test_a_failure_inside_the_stage_stops_the_load_too() -> None:
    sender = Sender()
    load = Load(sender, _spec(rate=20))
    try:
        with load:
            time.sleep(0.1)
            raise KeyboardInterrupt  # the run cancelled
    except KeyboardInterrupt:
        pass
    assert not load.running() and sender.closed
