"""Rollouts judged by live traffic, under load: a new version that fails only some clients'
inputs (the smoke request passes), one three times slower, a healthy one with a bake, each
rolled out as a canary judged by the smoke test alone, by `rollout.analysis`, or with a shadow
stage first. `make test` runs them with FAST settings; `make reliability` with FULL ones.

A request's time and every line the deploy logs are on one clock, so the failures of each
canary step are counted, not estimated."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from tools.reliability.load import Load
from tools.reliability.scenarios import PRODUCTION, AppFactory, Outcome
from tools.repo import App

# What some real clients send and the smoke request does not: version 2 fails on it.
FAIL_INPUT = "region"
EDGE_BODY = json.dumps({"rows": [1, 2, 3], FAIL_INPUT: "emea"}).encode()
EDGE_SHARE = 5  # one request in five is an edge input: 20 %


@dataclass(frozen=True)
class JudgedSettings:
    """A first canary step small enough to put few clients at risk, and long enough to see
    enough of them: at `rate` requests/s, a share of `first_step` % failing 20 % of its requests
    fails `rate * first_step / 500` requests a second, which the analysis must see before the
    step ends (at FULL, 0.16 a second for 30 s: missed in under 1 % of runs)."""

    label: str
    rate: float  # scoring requests per second
    first_step: int  # the first canary step, in %
    step_wait: int  # seconds each canary step is watched
    interval: int  # seconds of one analysis window
    later_steps: tuple[int, ...] = (50, 100)  # the canary steps after the first

    @property
    def canary_steps(self) -> str:
        return f"[{', '.join(str(step) for step in (self.first_step, *self.later_steps))}]"

    def analysis(self) -> str:
        """rollout.analysis: Azure Monitor's delay is the emulator's (about 1 s in its fast
        profile) and a little more."""
        return (
            f"analysis: {{interval_seconds: {self.interval}, metrics_delay_seconds: 2, "
            "min_requests: 4, max_error_rate: 1"
        )


FAST_JUDGED = JudgedSettings("fast", rate=40, first_step=10, step_wait=8, interval=4)
FULL_JUDGED = JudgedSettings("full", rate=40, first_step=2, step_wait=30, interval=10)


@dataclass(frozen=True)
class JudgedCase:
    name: str
    goal: str
    judged_by: str  # "smoke", "analysis", "shadow"
    version: dict[str, Any] = field(default_factory=dict)  # version 2's server settings
    first_version: dict[str, Any] = field(default_factory=dict)
    extra: str = ""  # more of rollout.analysis
    bake_minutes: float = 0
    expect_success: bool = False
    expect_in_log: str = ""


JUDGED_CASES = (
    JudgedCase(
        "(g) a canary failing 20 % of real requests, smoke test only",
        "measured: the smoke test passes it, it ships, and clients lose what it fails",
        "smoke",
        {"fail_input": FAIL_INPUT},
        expect_success=True,
    ),
    JudgedCase(
        "(h) the same canary, judged by rollout.analysis",
        "rolled back at its first step; at most 1 % of the requests sent during that step failed",
        "analysis",
        {"fail_input": FAIL_INPUT},
        expect_in_log="error rate",
    ),
    JudgedCase(
        "(i) the same canary, with a shadow stage first",
        "rolled back in the shadow stage; 0 failed requests",
        "shadow",
        {"fail_input": FAIL_INPUT},
        expect_in_log="(shadow 50%: error rate",
    ),
    JudgedCase(
        "(j) a canary three times slower, judged against the known-good",
        "rolled back by the latency threshold; 0 failed requests",
        "analysis",
        {"score_delay": 0.3},
        {"score_delay": 0.1},
        extra=", compare_to_baseline: {max_latency_p99_ratio: 1.5}",
        expect_in_log="the known-good's",
    ),
    JudgedCase(
        "(k) a healthy canary judged by rollout.analysis, with a bake",
        "passes every step and the bake; 0 failed requests; analysis verdict passed",
        "analysis",
        {"color": "two"},
        bake_minutes=0.1,
        expect_success=True,
    ),
)


def judged_case(new_app: AppFactory, settings: JudgedSettings, case: JudgedCase) -> Outcome:
    app = new_app()
    steps = settings.canary_steps
    app.server_deploy_file(canary_steps=steps, step_wait=settings.step_wait, **case.first_version)
    first = app.outputs(*PRODUCTION)
    app.server_deploy_file(
        canary_steps=steps,
        step_wait=settings.step_wait,
        rollout=_rollout(case, settings),
        **case.version,
    )
    smoke_body = (app.root / "server" / "request.json").read_bytes()
    load = Load(
        first["scoring-uri"],
        first["primary-key"],
        smoke_body,
        ca_bundle=app.emulator["ca_bundle"],
        rate=settings.rate,
        max_seconds=300,
        max_requests=int(settings.rate * 300),
        bodies=(*([smoke_body] * (EDGE_SHARE - 1)), EDGE_BODY),
    )
    with load:
        time.sleep(1.0)
        run = timed_deploy(app, load)
        time.sleep(1.0)
    return _outcome(app, case, settings, load, run)


def _rollout(case: JudgedCase, settings: JudgedSettings) -> str:
    parts = []
    if case.judged_by != "smoke":
        parts.append(settings.analysis() + case.extra + "}")
    if case.judged_by == "shadow":
        parts.append(f"shadow: {{percent: 50, seconds: {settings.step_wait}}}")
    if case.bake_minutes:
        parts.append(f"bake_minutes: {case.bake_minutes}")
    return "".join(f", {part}" for part in parts)


@dataclass
class TimedRun:
    result: subprocess.CompletedProcess[str]
    lines: list[tuple[float, str]]  # (seconds since the load started, a line of the log)
    outputs: dict[str, str]


def timed_deploy(app: App, load: Load) -> TimedRun:
    """A production deploy, every line of its log timed on the load's clock."""
    path = app.root.parent / f"{app.root.name}-judged.json"
    path.unlink(missing_ok=True)
    process = app.start("deploy", *PRODUCTION, "--output-json", str(path))
    assert process.stderr is not None
    lines = [(load.elapsed(), line.rstrip("\n")) for line in process.stderr]
    stdout, _ = process.communicate(timeout=600)
    stderr = "\n".join(line for _, line in lines)
    app.record("deploy (judged by live traffic)", stdout, stderr)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    outputs = json.loads(path.read_text()) if path.exists() else {}
    return TimedRun(result, lines, outputs)


def first_step_window(
    lines: list[tuple[float, str]], first_step: int
) -> tuple[float, float] | None:
    """From the move of traffic to the first canary step to the next move of traffic."""
    start = next(
        (t for t, line in lines if line.startswith("→ set traffic") and f"{first_step}%" in line),
        None,
    )
    if start is None:
        return None
    end = next(
        (
            t
            for t, line in lines
            if t > start and line.startswith(("→ set traffic", "→ putting all traffic back"))
        ),
        lines[-1][0],
    )
    return start, end


def _outcome(
    app: App, case: JudgedCase, settings: JudgedSettings, load: Load, run: TimedRun
) -> Outcome:
    figures = load.figures
    endpoint = app.endpoint("models")
    traffic = {
        k: v for k, v in (endpoint or {}).get("properties", {}).get("traffic", {}).items() if v
    }
    window = first_step_window(run.lines, settings.first_step)
    in_step = [failed for at, failed in load.answers if window and window[0] <= at <= window[1]]
    step_failed = sum(in_step)
    analysis = json.loads(run.outputs.get("analysis") or "{}")
    if case.expect_success:
        end_ok = run.result.returncode == 0 and traffic == {"green": 100}
    else:
        end_ok = (
            run.result.returncode == 1
            and traffic == {"blue": 100}
            and case.expect_in_log in run.result.stderr
        )
    if case.name.startswith("(h)"):
        end_ok = end_ok and f"(canary {settings.first_step}%: error rate" in run.result.stderr
    if case.judged_by == "smoke":
        met = end_ok  # a measurement: what the smoke test alone lets through
    elif case.name.startswith("(h)"):
        met = end_ok and step_failed <= 0.01 * max(len(in_step), 1)
    else:
        met = end_ok and figures.failed == 0
    if case.expect_success and case.judged_by != "smoke":
        met = met and analysis.get("verdict") == "passed"
    return Outcome(
        "judged by live traffic",
        case.name,
        case.goal,
        met,
        {
            **figures.as_dict(),
            "exit_code": run.result.returncode,
            "traffic_after": traffic,
            "end_state_ok": end_ok,
            "first_step_requests": len(in_step),
            "first_step_failed": step_failed,
            "first_step_seconds": round(window[1] - window[0], 1) if window else 0,
            "windows": len(analysis.get("windows", [])),
            "verdict": analysis.get("verdict", ""),
        },
        detail=run.result.stderr[-3000:],
    )
