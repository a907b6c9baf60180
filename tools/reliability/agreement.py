"""Rollouts judged by what the model answers, under load: a new version that is fast and
healthy but gives the wrong label for one input in twenty (the test server's PREDICT mode),
rolled out as a canary judged by the smoke test and `rollout.analysis` alone, or by
`rollout.agreement` too; and a version retrained within the tolerance. The load generator knows
the right answer (the parity of x), so it counts the wrong answers clients were given, which no
HTTP status shows. `make test` runs them with FAST settings; `make reliability` with FULL ones."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from tools.reliability.judged import JudgedSettings, TimedRun, timed_deploy
from tools.reliability.load import Load
from tools.reliability.scenarios import PRODUCTION, Outcome
from tools.repo import App

RIGHT = "parity"  # {"x": n} → {"label": "even" | "odd", "score": n / 100}
WRONG = "parity,flip_every=20"  # the label of every 20th x flipped: 5 % wrong
DRIFTED = "parity,drift=0.0004"  # every score 0.0004 off: retrained, within the tolerance
REQUESTS = 40  # the request set: x = 0 … 39, two of which (0 and 20) the wrong model flips
CLIENT_INPUTS = 100  # the load sends x = 0 … 99 in turn: 5 of each 100 flipped
LABELS = "{requests: agreement/, compare: {pointer: /label}, min_agreement: 0.98}"
TOLERANCE = "{requests: agreement/, compare: {tolerance: {absolute: 0.001}}}"
MAX_LOAD_SECONDS = 120  # a bound on the load, whatever happens to the run
AFTER_SECONDS = 5.0  # the load goes on this long after the run: what clients get once it ends

FAST_AGREEMENT = JudgedSettings(
    "fast", rate=20, first_step=50, step_wait=2, interval=1, later_steps=(100,)
)
FULL_AGREEMENT = JudgedSettings("full", rate=20, first_step=10, step_wait=20, interval=10)


@dataclass(frozen=True)
class AgreementCase:
    name: str
    goal: str
    predict: str  # version 2's PREDICT mode (version 1's is RIGHT)
    agreement: str = ""  # rollout.agreement, if judged by it
    expect_success: bool = False


AGREEMENT_CASES = (
    AgreementCase(
        "(m) a canary giving the wrong label for 5 % of inputs, smoke test and analysis only",
        "measured: every HTTP gate passes it (smoke test, every analysis window, 0 failed "
        "requests), it ships, and clients are given its wrong answers",
        WRONG,
        expect_success=True,
    ),
    AgreementCase(
        "(n) the same canary, judged by rollout.agreement too",
        "stopped before any traffic moves (38 of 40 answers agree, below 0.98); blue still "
        "serves 100 %; 0 wrong answers and 0 failed requests served",
        WRONG,
        LABELS,
    ),
    AgreementCase(
        "(o) a model retrained within the tolerance, judged by rollout.agreement",
        "every check agrees (40 of 40); it goes live; 0 wrong answers and 0 failed requests",
        DRIFTED,
        TOLERANCE,
        expect_success=True,
    ),
)


def right_label(request: bytes, answer: bytes) -> bool:
    """The parity rule the test server's PREDICT mode follows, when it is not told to flip."""
    try:
        x = json.loads(request)["x"]
        label = json.loads(answer)["label"]
    except (ValueError, KeyError, TypeError):
        return False
    return bool(label == ("even" if x % 2 == 0 else "odd"))


def serve_version_one(app: App, settings: JudgedSettings) -> dict[str, str]:
    """The request set beside the deploy file, and version 1 serving: its outputs."""
    folder = app.root / "server" / "agreement"
    folder.mkdir(exist_ok=True)
    for x in range(REQUESTS):
        (folder / f"{x:03}.json").write_text(json.dumps({"x": x}))
    app.server_deploy_file(predict=RIGHT, **_steps(settings))
    return app.outputs(*PRODUCTION)


def agreement_case(
    app: App,
    settings: JudgedSettings,
    case: AgreementCase,
    serving: dict[str, str] | None = None,
    after_seconds: float = AFTER_SECONDS,
) -> Outcome:
    """Version 2 rolled out over version 1 while clients score the endpoint; `serving`: the
    outputs of a version 1 `app` already serves (the test chains the cases on one endpoint)."""
    first = serving or serve_version_one(app, settings)
    (known_good,) = _traffic(app)
    judged_by = ", " + settings.analysis() + "}"
    if case.agreement:
        judged_by += f", agreement: {case.agreement}"
    app.server_deploy_file(predict=case.predict, rollout=judged_by, **_steps(settings))
    bodies = tuple(json.dumps({"x": x}).encode() for x in range(CLIENT_INPUTS))
    load = Load(
        first["scoring-uri"],
        first["primary-key"],
        bodies[0],
        ca_bundle=app.emulator["ca_bundle"],
        rate=settings.rate,
        max_seconds=MAX_LOAD_SECONDS,
        max_requests=int(settings.rate * MAX_LOAD_SECONDS),
        bodies=bodies,
        check=right_label,
    )
    with load:
        time.sleep(1.0)
        started = load.elapsed()
        run = timed_deploy(app, load)
        seconds = load.elapsed() - started
        time.sleep(after_seconds)
    return _outcome(app, case, load, run, known_good, seconds)


def _steps(settings: JudgedSettings) -> dict[str, Any]:
    return {"canary_steps": settings.canary_steps, "step_wait": settings.step_wait}


def _traffic(app: App) -> dict[str, int]:
    endpoint = app.endpoint("models") or {}
    return {k: v for k, v in endpoint.get("properties", {}).get("traffic", {}).items() if v}


def agreement_seconds(lines: list[tuple[float, str]]) -> float:
    """How long the agreement checks took: each check logs nothing until its verdict, so a
    check lasts from the line before its verdict to the verdict."""
    return sum(
        at - lines[index - 1][0]
        for index, (at, line) in enumerate(lines)
        if index and line.lstrip().startswith(("agreement:", "warning: agreement:"))
    )


def _outcome(  # noqa: PLR0917 - what was measured, one value each
    app: App, case: AgreementCase, load: Load, run: TimedRun, known_good: str, seconds: float
) -> Outcome:
    figures: dict[str, Any] = load.figures.as_dict()
    traffic = _traffic(app)
    candidate = "green" if known_good == "blue" else "blue"
    log = run.result.stderr
    analysis = json.loads(run.outputs.get("analysis") or "{}")
    agreement = json.loads(run.outputs.get("agreement") or "{}")
    checks = agreement.get("checks", [])
    smoke_passed = f"smoke test of {candidate}: passed" in log
    if case.expect_success:
        end_ok = run.result.returncode == 0 and traffic == {candidate: 100} and smoke_passed
        end_ok = end_ok and analysis.get("verdict") == "passed"
    else:
        end_ok = (
            run.result.returncode == 1
            and traffic == {known_good: 100}
            and f"the answers of {candidate} disagree with {known_good}'s (before traffic" in log
            and candidate not in figures["answered_by"]
        )
    served_right = figures["failed"] == 0 and figures["wrong"] == 0
    if not case.agreement:
        met = end_ok and figures["failed"] == 0 and figures["wrong"] > 0
    elif case.expect_success:
        met = end_ok and served_right and agreement.get("verdict") == "passed"
    else:
        first = checks[0] if checks else {}
        met = end_ok and served_right and (first.get("compared"), first.get("agreed")) == (40, 38)
    return Outcome(
        "judged by what it answers",
        case.name,
        case.goal,
        met,
        {
            **figures,
            "candidate": candidate,
            "exit_code": run.result.returncode,
            "traffic_after": traffic,
            "end_state_ok": end_ok,
            "smoke_test_passed": smoke_passed,
            "windows": len(analysis.get("windows", [])),
            "analysis_verdict": analysis.get("verdict", ""),
            "agreement_verdict": agreement.get("verdict", "not configured"),
            "checks": [
                (check["stage"], check["agreed"], check["compared"], check["verdict"])
                for check in checks
            ],
            "agreement_seconds": round(agreement_seconds(run.lines), 1),
            "deploy_seconds": round(seconds, 1),
        },
        detail=log[-3000:],
    )
