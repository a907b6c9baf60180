"""No silent pass: a stage that ends without one window judged is inconclusive, and
`on_inconclusive` says what that means — the verdict logic with the in-memory metrics, and the
executor against the in-memory Azure (a failing one rolled back like a breach, a passing one
said loudly), with rollout.analysis.load started and stopped around every stage."""

from __future__ import annotations

import datetime
import io
import json
import threading
from dataclasses import dataclass, field

import pytest

from deployer.analysis import Analysis, Served, StageKind, Verdict
from deployer.errors import RolloutFailed
from deployer.report import analysis_json, analysis_markdown
from deployer.spec.model import AnalysisSpec, LoadSpec, OnInconclusive, ShadowSpec, Strategy
from tests.unit.test_analysis import T0, Timeline, analysed
from tests.unit.test_execute import World, first

QUIET = Timeline(requests_per_second=0.1)  # 3 requests in 30 s
SPEC = AnalysisSpec(interval_seconds=10, metrics_delay_seconds=0, min_requests=20)
SECOND = 1.0  # Azure Monitor's minute, as the emulator's fast profile runs it


def _s(seconds: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=seconds)


def _stage_of(
    analysis: Analysis, kind: StageKind, name: str = "canary 10%", seconds: float = 30
) -> Verdict:
    stage = analysis.stage(name, "green", "blue", T0, seconds, kind)
    stage.poll(T0 + _s(seconds), lambda w: None)
    assert stage.done() and stage.result is not None
    return stage.result.verdict


# --- the verdict -----------------------------------------------------------------------------


def test_a_stage_that_never_reaches_min_requests_is_inconclusive_and_fails_by_default() -> None:
    analysis = Analysis(SPEC, QUIET, "ep", minute=SECOND)
    assert _stage_of(analysis, StageKind.CANARY) is Verdict.INCONCLUSIVE
    (result,) = analysis.stages
    assert result.requests == 3 and result.on_inconclusive is OnInconclusive.FAIL
    assert result.failed and analysis.verdict() is Verdict.FAILED
    (window,) = analysis.windows  # the window grew to the whole stage, then ended with it
    assert window.verdict is Verdict.TOO_FEW and (window.end - window.start) == _s(30)


def test_on_inconclusive_pass_goes_on_but_the_rollout_verdict_says_inconclusive() -> None:
    analysis = Analysis(
        AnalysisSpec(
            interval_seconds=10, metrics_delay_seconds=0, on_inconclusive=OnInconclusive.PASS
        ),
        QUIET,
        "ep",
        minute=SECOND,
    )
    assert _stage_of(analysis, StageKind.BAKE, "bake") is Verdict.INCONCLUSIVE
    assert not analysis.stages[0].failed
    assert analysis.verdict() is Verdict.INCONCLUSIVE


def test_the_shadow_stage_has_its_own_answer_over_the_analysis() -> None:
    lenient = AnalysisSpec(
        interval_seconds=10, metrics_delay_seconds=0, on_inconclusive=OnInconclusive.PASS
    )
    analysis = Analysis(
        lenient, QUIET, "ep", shadow_on_inconclusive=OnInconclusive.FAIL, minute=SECOND
    )
    _stage_of(analysis, StageKind.SHADOW, "shadow 20%")
    _stage_of(analysis, StageKind.CANARY)
    shadow, canary = analysis.stages
    assert shadow.failed and not canary.failed


def test_one_judged_window_is_a_verdict_even_if_the_last_one_is_short() -> None:
    timeline = Timeline(requests_per_second=2.5)  # 25 in the first 10 s window, 5 in the last 2 s
    analysis = Analysis(SPEC, timeline, "ep", minute=SECOND)
    assert _stage_of(analysis, StageKind.CANARY, seconds=12) is Verdict.PASSED
    assert [w.verdict for w in analysis.windows] == [Verdict.PASSED, Verdict.TOO_FEW]
    assert analysis.verdict() is Verdict.PASSED


def test_the_output_and_the_summary_carry_every_stage_verdict_loudly() -> None:
    passing = AnalysisSpec(
        interval_seconds=10, metrics_delay_seconds=0, on_inconclusive=OnInconclusive.PASS
    )
    analysis = Analysis(passing, QUIET, "ep", minute=SECOND)
    _stage_of(analysis, StageKind.SHADOW, "shadow 20%")
    output = json.loads(analysis_json(analysis))
    assert output["verdict"] == "inconclusive"
    assert output["stages"] == [
        {
            "stage": "shadow 20%",
            "deployment": "green",
            "verdict": "inconclusive",
            "requests": 3,
            "on_inconclusive": "pass",
        }
    ]
    summary = analysis_markdown(analysis)
    assert "#### Analysis verdicts" in summary
    assert "**⚠️ INCONCLUSIVE** (on_inconclusive: pass): **NOT JUDGED: the rollout went on**" in (
        summary
    )
    assert json.loads(analysis_json(None)) == {
        "verdict": "not configured",
        "stages": [],
        "windows": [],
    }


# --- the executor ----------------------------------------------------------------------------


def test_a_quiet_canary_step_is_rolled_back_like_a_breach() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(10, 50, 100)))
    analysed(world, v2=Served(3, 0, 40.0))
    with pytest.raises(RolloutFailed, match=r"analysis of green is inconclusive \(canary 10%: "):
        world.run("app@sha256:2")
    world.assert_converged("app@sha256:1")
    assert [traffic.get("green", 0) for traffic, _ in world.azure.history] == [10, 0]


def test_a_quiet_shadow_stage_fails_by_default_before_any_live_traffic() -> None:
    world = first(World(strategy=Strategy.CANARY))
    analysed(world, v2=Served(3, 0, 40.0))
    world.shadow = ShadowSpec(percent=20, seconds=1)
    with pytest.raises(RolloutFailed) as failed:
        world.run("app@sha256:2")
    assert "shadow 20%" in str(failed.value) and "on_inconclusive is 'fail'" in str(failed.value)
    assert failed.value.hint is not None and "rollout.analysis.load" in failed.value.hint
    assert "mirrored requests" in failed.value.hint
    world.assert_converged("app@sha256:1")
    assert all(not traffic.get("green") for traffic, _ in world.azure.history)
    assert world.endpoint.mirror == {}


def test_on_inconclusive_pass_goes_on_with_a_warning_per_stage() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))
    analysed(
        world,
        AnalysisSpec(
            interval_seconds=1,
            metrics_delay_seconds=0,
            min_requests=20,
            on_inconclusive=OnInconclusive.PASS,
        ),
        v2=Served(3, 0, 40.0),
    )
    world.run("app@sha256:2")
    world.assert_converged("app@sha256:2")
    warnings = [line for line in world.log.getvalue().splitlines() if "INCONCLUSIVE" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: ")  # ::warning:: on GitHub
    assert (
        "canary 50%" in warnings[0]
        and "rollout.analysis.on_inconclusive is 'pass'" in (warnings[0])
    )


def test_a_shadow_stage_set_to_fail_fails_though_the_analysis_lets_others_pass() -> None:
    world = first(World(strategy=Strategy.CANARY))
    analysed(
        world,
        AnalysisSpec(
            interval_seconds=1, metrics_delay_seconds=0, on_inconclusive=OnInconclusive.PASS
        ),
        v2=Served(3, 0, 40.0),
    )
    world.shadow = ShadowSpec(percent=20, seconds=1, on_inconclusive=OnInconclusive.FAIL)
    with pytest.raises(RolloutFailed, match=r"rollout\.shadow\.on_inconclusive is 'fail'"):
        world.run("app@sha256:2")
    world.assert_converged("app@sha256:1")


# --- load around every stage -----------------------------------------------------------------


@dataclass
class CountingSender:
    deployment: str
    timeout: float = 1.0
    sent: int = 0
    closed: bool = False

    def send(self) -> int | None:
        self.sent += 1
        return 200

    def close(self) -> None:
        self.closed = True


@dataclass
class Senders:
    made: list[CountingSender] = field(default_factory=list)

    def __call__(self, deployment: str) -> CountingSender:
        self.made.append(CountingSender(deployment))
        return self.made[-1]


def _load_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "analysis-load"]


def test_load_runs_in_every_stage_and_stops_with_it_passed_or_failed() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))
    world.shadow, world.bake_seconds = ShadowSpec(percent=20, seconds=1), 1
    analysed(world, AnalysisSpec(interval_seconds=1, metrics_delay_seconds=0, load=LoadSpec()))
    senders = world.sender = Senders()
    world.run("app@sha256:2")
    world.assert_converged("app@sha256:2")
    assert [s.deployment for s in senders.made] == ["green"] * 3  # shadow, canary 50%, bake
    assert all(s.closed for s in senders.made) and not _load_threads()
    assert "load on green (shadow 20%): " in world.log.getvalue()

    world.log = io.StringIO()
    analysed(
        world,
        AnalysisSpec(interval_seconds=1, metrics_delay_seconds=0, load=LoadSpec()),
        v3=Served(100, 50, 40.0),
    )
    senders.made.clear()
    with pytest.raises(RolloutFailed, match="analysis of blue failed"):
        world.run("app@sha256:3")
    assert senders.made and all(s.closed for s in senders.made) and not _load_threads()


def test_a_runner_outside_a_private_endpoint_sends_no_load() -> None:
    """The load goes from the runner, which cannot reach a private endpoint from outside
    (deployer/reach.py): the analysis judges the live traffic alone."""
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))
    analysed(world, AnalysisSpec(interval_seconds=1, metrics_delay_seconds=0, load=LoadSpec()))
    senders = world.sender = Senders()
    world.outside = True
    world.run("app@sha256:2")
    world.assert_converged("app@sha256:2")
    assert senders.made == [] and not _load_threads()
