"""Judging a candidate by its live traffic: Azure Monitor's numbers for one deployment over a
window, the thresholds of `rollout.analysis`, and the windows of one stage of a rollout (a
canary step, the shadow stage, the bake) as they come due.

No I/O here: the numbers come through `Metrics` (deployer/azure/metrics.py over Azure Monitor,
an in-memory fake in the unit tests) and the clock is the caller's.

Azure Monitor keeps a deployment's metrics one value a minute and answers from whole minutes,
so windows are whole minutes: `interval_seconds` rounded up to minutes, the first window
starting with the stage's first whole minute, the last ending with the minute the stage ends in
(its traffic stays as it is until then). A window is read `metrics_delay_seconds` after it ends,
once its newest minute has filled in: a minute read earlier counts only part of its requests.
A window with fewer than `min_requests` is not judged: it grows into the next. So a stage lasts
its time, up to two minutes of rounding and the delay. How long a minute lasts is the cloud's:
60 s on Azure, 1 s in the emulator's `fast` profile.

A stage that ends without one window judged is inconclusive: `on_inconclusive` says whether
that fails it (like a breach) or lets the rollout go on, with a warning. No traffic is no
evidence: Flagger's metric checks, too, fail a canary that served nothing ("no values found
for metric", docs.flagger.app, usage/webhooks, "Load Testing")."""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from deployer.spec.model import AnalysisSpec, OnInconclusive

# The 4xx a managed endpoint answers for the deployment's own faults (Azure ML docs,
# how-to-troubleshoot-online-endpoints.md, "HTTP status codes"): 408 the model did not answer
# within request_timeout_ms, 424 the model answered an error, 429 too many requests for
# max_concurrent_requests_per_instance. Other 4xx are the caller's doing, unless count_4xx.
DEPLOYMENT_FAULT_4XX = frozenset({408, 424, 429})


def is_error(status: int, count_4xx: bool) -> bool:
    if status >= 500:
        return True
    return 400 <= status < 500 and (count_4xx or status in DEPLOYMENT_FAULT_4XX)


@dataclass(frozen=True)
class Served:
    """What one deployment served in a window, as Azure Monitor counts it."""

    requests: int
    errors: int
    p99_ms: float | None  # None when it served nothing

    @property
    def error_rate(self) -> float:
        """In percent of the requests."""
        return 100.0 * self.errors / self.requests if self.requests else 0.0

    def describe(self) -> str:
        latency = f", p99 {self.p99_ms:.0f} ms" if self.p99_ms is not None else ""
        return f"{self.requests} requests, {self.error_rate:.1f}% errors{latency}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 2),
            "p99_ms": None if self.p99_ms is None else round(self.p99_ms, 1),
        }


@dataclass(frozen=True)
class Query:
    """What one deployment served between `start` and `end`."""

    endpoint: str
    deployment: str
    start: datetime.datetime
    end: datetime.datetime
    count_4xx: bool  # every 4xx an error


class Metrics(Protocol):
    """Azure Monitor, as the analysis reads it."""

    def served(self, query: Query) -> Served: ...


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    TOO_FEW = "too few requests"  # a window not judged: it grows into the next
    INCONCLUSIVE = "inconclusive"  # a stage that ended without one window judged


class StageKind(StrEnum):
    CANARY = "canary"
    SHADOW = "shadow"
    BAKE = "bake"


@dataclass(frozen=True)
class StageResult:
    """How one stage ended: passed, failed or inconclusive, and what inconclusive meant."""

    stage: str
    kind: StageKind
    deployment: str
    verdict: Verdict
    requests: int  # what its windows counted
    on_inconclusive: OnInconclusive

    @property
    def failed(self) -> bool:
        return self.verdict is Verdict.FAILED or (
            self.verdict is Verdict.INCONCLUSIVE and self.on_inconclusive is OnInconclusive.FAIL
        )

    def describe(self, spec: AnalysisSpec) -> str:
        """Why an inconclusive stage has no verdict."""
        return (
            f"{self.stage}: {self.deployment} served {self.requests} requests in its windows, "
            f"never {spec.min_requests} (min_requests) in one; nothing to judge it by"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "deployment": self.deployment,
            "verdict": str(self.verdict),
            "requests": self.requests,
            "on_inconclusive": str(self.on_inconclusive),
        }


@dataclass(frozen=True)
class Window:
    stage: str  # "canary 10%", "shadow 20%", "bake"
    start: datetime.datetime
    end: datetime.datetime
    candidate: str
    served: Served
    baseline: str | None
    baseline_served: Served | None
    verdict: Verdict
    reasons: tuple[str, ...] = ()

    def describe(self) -> str:
        seconds = (self.end - self.start).total_seconds()
        against = (
            f"; {self.baseline}: {self.baseline_served.describe()}"
            if self.baseline and self.baseline_served is not None
            else ""
        )
        why = f": {'; '.join(self.reasons)}" if self.reasons else ""
        return (
            f"{self.stage}, {seconds:.0f} s window: {self.candidate}: {self.served.describe()}"
            f"{against} → {self.verdict}{why}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "deployment": self.candidate,
            **self.served.as_dict(),
            "baseline": None
            if self.baseline is None or self.baseline_served is None
            else {"deployment": self.baseline, **self.baseline_served.as_dict()},
            "verdict": str(self.verdict),
            "reasons": list(self.reasons),
        }


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def judge(
    spec: AnalysisSpec, served: Served, baseline: Served | None
) -> tuple[Verdict, tuple[str, ...]]:
    """The verdict on one window of the candidate's traffic, and why it failed."""
    if served.requests < spec.min_requests:
        return Verdict.TOO_FEW, ()
    reasons = []
    if served.error_rate > spec.max_error_rate:
        reasons.append(
            f"error rate {served.error_rate:.1f}% is above max_error_rate {spec.max_error_rate:g}%"
        )
    limit = spec.max_latency_p99_ms
    if limit is not None and served.p99_ms is not None and served.p99_ms > limit:
        reasons.append(f"p99 latency {served.p99_ms:.0f} ms is above max_latency_p99_ms {limit:g}")
    compare = spec.compare_to_baseline
    if compare is not None and baseline is not None and baseline.requests >= spec.min_requests:
        allowed = baseline.error_rate + compare.max_error_rate_increase
        if served.error_rate > allowed:
            reasons.append(
                f"error rate {served.error_rate:.1f}% is more than "
                f"{compare.max_error_rate_increase:g} points above the known-good's "
                f"{baseline.error_rate:.1f}%"
            )
        if (
            served.p99_ms is not None
            and baseline.p99_ms is not None
            and served.p99_ms > baseline.p99_ms * compare.max_latency_p99_ratio
        ):
            reasons.append(
                f"p99 latency {served.p99_ms:.0f} ms is more than "
                f"{compare.max_latency_p99_ratio:g}× the known-good's {baseline.p99_ms:.0f} ms"
            )
    return (Verdict.FAILED if reasons else Verdict.PASSED), tuple(reasons)


@dataclass
class Analysis:
    """The windows of a whole rollout, stage after stage, and the failures counted against
    `failure_limit`."""

    spec: AnalysisSpec
    metrics: Metrics
    endpoint: str
    shadow_on_inconclusive: OnInconclusive | None = None  # rollout.shadow's, over the spec's
    windows: list[Window] = field(default_factory=list)
    stages: list[StageResult] = field(default_factory=list)
    failures: int = 0
    minute: float = 60.0  # seconds one minute of Azure Monitor lasts (Cloud.metrics_minute)

    def stage(  # noqa: PLR0917 - a stage is all of these
        self,
        name: str,
        candidate: str,
        baseline: str | None,
        start: datetime.datetime,
        seconds: float,
        kind: StageKind = StageKind.CANARY,
    ) -> Stage:
        return Stage(self, name, candidate, baseline, start, start + _seconds(seconds), kind)

    def breached(self) -> bool:
        return self.failures > self.spec.failure_limit

    def on_inconclusive(self, kind: StageKind) -> OnInconclusive:
        if kind is StageKind.SHADOW and self.shadow_on_inconclusive is not None:
            return self.shadow_on_inconclusive
        return self.spec.on_inconclusive

    def verdict(self) -> Verdict | None:
        """The rollout's verdict so far: failed (a failed window, or an inconclusive stage that
        fails), inconclusive (one let pass), passed, or None before any stage ended."""
        if any(w.verdict is Verdict.FAILED for w in self.windows) or any(
            stage.failed for stage in self.stages
        ):
            return Verdict.FAILED
        if any(stage.verdict is Verdict.INCONCLUSIVE for stage in self.stages):
            return Verdict.INCONCLUSIVE
        if any(w.verdict is Verdict.PASSED for w in self.windows):
            return Verdict.PASSED
        return None


def _seconds(value: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=value)


def _whole_minute(moment: datetime.datetime, minute: float) -> datetime.datetime:
    """The first boundary of Azure Monitor's minutes at or after `moment`."""
    boundary = math.ceil(round(moment.timestamp(), 6) / minute) * minute
    return datetime.datetime.fromtimestamp(boundary, datetime.UTC)


@dataclass
class Stage:
    """One stage's windows: `poll(now)` judges every window that has come due."""

    analysis: Analysis
    name: str
    candidate: str
    baseline: str | None
    start: datetime.datetime
    end: datetime.datetime
    kind: StageKind = StageKind.CANARY
    judged: int = 0
    result: StageResult | None = None  # once it has ended
    _windows: list[Window] = field(default_factory=list)
    _window_start: datetime.datetime | None = None
    _window_end: datetime.datetime | None = None

    def __post_init__(self) -> None:
        # The minute traffic changed in also holds the previous stage's requests: the first
        # window starts with the next whole minute.
        minute = _seconds(self.analysis.minute)
        self.start = _whole_minute(self.start, self.analysis.minute)
        self.end = max(_whole_minute(self.end, self.analysis.minute), self.start + minute)
        self._window_start = self.start
        self._window_end = min(self.start + self._interval, self.end)

    @property
    def _interval(self) -> datetime.timedelta:
        minute = self.analysis.minute
        return _seconds(max(1, math.ceil(self.analysis.spec.interval_seconds / minute)) * minute)

    @property
    def _delay(self) -> datetime.timedelta:
        return _seconds(self.analysis.spec.metrics_delay_seconds)

    def done(self) -> bool:
        return self._window_start is None

    def poll(self, now: datetime.datetime, report: Callable[[Window], None]) -> None:
        """Judge each window that Azure Monitor shows by `now`; `report` each one."""
        while self._window_start is not None and self._window_end is not None:
            if now < self._window_end + self._delay:
                return
            window = self._judge(self._window_start, self._window_end)
            last = self._window_end >= self.end
            if window.verdict is Verdict.TOO_FEW and not last:
                self._window_end = min(self._window_end + self._interval, self.end)
                continue  # not recorded: the window grows
            self.analysis.windows.append(window)
            self._windows.append(window)
            report(window)
            if window.verdict is Verdict.FAILED:
                self.analysis.failures += 1
            if window.verdict is not Verdict.TOO_FEW:
                self.judged += 1
            if self.analysis.breached() or last:
                self._window_start = self._window_end = None
                self._end()
                return
            self._window_start = self._window_end
            self._window_end = min(self._window_end + self._interval, self.end)

    def _end(self) -> None:
        if any(w.verdict is Verdict.FAILED for w in self._windows):
            verdict = Verdict.FAILED
        elif self.judged:
            verdict = Verdict.PASSED
        else:
            verdict = Verdict.INCONCLUSIVE
        self.result = StageResult(
            self.name,
            self.kind,
            self.candidate,
            verdict,
            sum(w.served.requests for w in self._windows),
            self.analysis.on_inconclusive(self.kind),
        )
        self.analysis.stages.append(self.result)

    def _judge(self, start: datetime.datetime, end: datetime.datetime) -> Window:
        analysis = self.analysis
        spec = analysis.spec
        served = analysis.metrics.served(
            Query(analysis.endpoint, self.candidate, start, end, spec.count_4xx)
        )
        baseline = None
        if self.baseline is not None:
            baseline = analysis.metrics.served(
                Query(analysis.endpoint, self.baseline, start, end, spec.count_4xx)
            )
        verdict, reasons = judge(spec, served, baseline)
        return Window(
            self.name,
            start,
            end,
            self.candidate,
            served,
            self.baseline,
            baseline,
            verdict,
            reasons,
        )
