"""Rollouts judged by live traffic: the verdict on one window, the windows of a stage as they
come due, and the executor's shadow stage, analysed canary steps and bake against the
in-memory Azure, with a crash at every mutating call of them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace

import pytest

from deployer.analysis import Analysis, Query, Served, Verdict, is_error, judge
from deployer.desired import early_reading
from deployer.errors import RolloutFailed
from deployer.plan import make_plan
from deployer.spec.model import AnalysisSpec, BaselineSpec, ShadowSpec, Strategy
from deployer.steps import Bake, Mark, Shadow, Watch
from deployer.tags import Holder, Step
from tests.unit.fakes import NOW, FakeAzure, Killed
from tests.unit.test_execute import ME, World, first

T0 = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
HEALTHY = Served(200, 0, 40.0)


# --- one window -----------------------------------------------------------------------------


def test_deployment_faults_count_as_errors_and_caller_mistakes_only_when_asked() -> None:
    assert [is_error(code, False) for code in (200, 400, 401, 404, 408, 424, 429, 500, 503)] == [
        False, False, False, False, True, True, True, True, True,
    ]  # fmt: skip
    assert is_error(400, True) and is_error(404, True) and not is_error(200, True)


def test_a_window_over_the_error_rate_fails_and_says_why() -> None:
    verdict, reasons = judge(AnalysisSpec(max_error_rate=1), Served(100, 20, 40.0), None)
    assert verdict is Verdict.FAILED
    assert reasons == ("error rate 20.0% is above max_error_rate 1%",)
    assert judge(AnalysisSpec(max_error_rate=1), Served(100, 1, 40.0), None)[0] is Verdict.PASSED


def test_a_slow_window_fails_the_latency_threshold() -> None:
    spec = AnalysisSpec(max_latency_p99_ms=100)
    verdict, reasons = judge(spec, Served(100, 0, 300.0), None)
    assert verdict is Verdict.FAILED and "p99 latency 300 ms" in reasons[0]


def test_too_few_requests_is_no_verdict() -> None:
    assert judge(AnalysisSpec(min_requests=50), Served(49, 49, 900.0), None)[0] is Verdict.TOO_FEW


def test_against_the_baseline_a_slower_candidate_fails_and_a_quiet_baseline_is_ignored() -> None:
    spec = AnalysisSpec(compare_to_baseline=BaselineSpec(max_latency_p99_ratio=1.5))
    verdict, reasons = judge(spec, Served(100, 0, 90.0), Served(300, 0, 30.0))
    assert verdict is Verdict.FAILED and reasons == (
        "p99 latency 90 ms is more than 1.5× the known-good's 30 ms",
    )
    assert judge(spec, Served(100, 0, 90.0), Served(3, 0, 30.0))[0] is Verdict.PASSED
    errors = AnalysisSpec(
        max_error_rate=50, compare_to_baseline=BaselineSpec(max_error_rate_increase=2)
    )
    assert judge(errors, Served(100, 5, 30.0), Served(100, 3, 30.0))[0] is Verdict.PASSED
    assert judge(errors, Served(100, 5, 30.0), Served(100, 1, 30.0))[0] is Verdict.FAILED


# --- the windows of a stage -----------------------------------------------------------------


@dataclass
class Timeline:
    """Metrics from a function of the window, and the windows asked for."""

    requests_per_second: float = 10.0
    error_share: float = 0.0
    asked: list[tuple[str, float, float]] = field(default_factory=list)

    def served(self, query: Query) -> Served:
        deployment, start, end = query.deployment, query.start, query.end
        self.asked.append((deployment, (start - T0).total_seconds(), (end - T0).total_seconds()))
        requests = int((end - start).total_seconds() * self.requests_per_second)
        return Served(requests, int(requests * self.error_share), 20.0 if requests else None)


def test_windows_are_whole_minutes_read_after_the_delay_the_last_with_the_stage_minute() -> None:
    timeline = Timeline()
    spec = AnalysisSpec(interval_seconds=60, metrics_delay_seconds=120, min_requests=10)
    analysis = Analysis(spec, timeline, "ep")
    stage = analysis.stage("canary 10%", "green", "blue", T0, 150)
    seen: list[str] = []
    stage.poll(T0 + datetime.timedelta(seconds=179), lambda w: seen.append(w.stage))
    assert timeline.asked == [] and not stage.done()
    stage.poll(T0 + datetime.timedelta(seconds=180), lambda w: seen.append(w.stage))
    assert timeline.asked == [("green", 0, 60), ("blue", 0, 60)]
    stage.poll(T0 + datetime.timedelta(seconds=299), lambda w: seen.append(w.stage))
    assert [(s, e) for d, s, e in timeline.asked if d == "green"] == [(0, 60), (60, 120)]
    assert not stage.done()
    # The stage ends at 150 s, inside the minute 120-180 s: its last window is that whole
    # minute, read once the delay has passed after it, never while it is still filling in.
    stage.poll(T0 + datetime.timedelta(seconds=300), lambda w: seen.append(w.stage))
    assert stage.done()
    assert [(s, e) for d, s, e in timeline.asked if d == "green"][-1] == (120, 180)
    assert stage.judged == 3 and seen == ["canary 10%"] * 3


def test_a_stage_starting_mid_minute_is_judged_from_its_first_whole_minute() -> None:
    timeline = Timeline()
    spec = AnalysisSpec(interval_seconds=90, metrics_delay_seconds=180, min_requests=10)
    analysis = Analysis(spec, timeline, "ep")
    # Traffic shifted at 12:00:20: the minute 12:00 holds the previous stage's requests too.
    stage = analysis.stage("canary 50%", "green", None, T0 + _s(20), 30)
    stage.poll(T0 + _s(20 + 30 + 180), lambda w: None)
    assert timeline.asked == [] and not stage.done()  # no minute of it has filled in yet
    stage.poll(T0 + _s(120 + 180), lambda w: None)
    # a 90 s interval is two whole minutes; a 30 s stage still gets one whole minute
    assert timeline.asked == [("green", 60, 120)] and stage.done()
    longer = analysis.stage("canary 100%", "green", None, T0 + _s(120), 240)
    longer.poll(T0 + _s(600), lambda w: None)
    assert [(s, e) for _, s, e in timeline.asked[1:]] == [(120, 240), (240, 360)]


def test_a_quiet_window_grows_into_the_next_until_it_has_enough_requests() -> None:
    timeline = Timeline(requests_per_second=0.5)
    spec = AnalysisSpec(interval_seconds=10, metrics_delay_seconds=0, min_requests=12)
    analysis = Analysis(spec, timeline, "ep", minute=1.0)
    stage = analysis.stage("bake", "green", None, T0, 60)
    stage.poll(T0 + datetime.timedelta(seconds=60), lambda w: None)
    assert [(w.start - T0).total_seconds() for w in analysis.windows] == [0, 30]
    assert [(w.end - T0).total_seconds() for w in analysis.windows] == [30, 60]
    assert [w.verdict for w in analysis.windows] == [Verdict.PASSED] * 2


def test_failures_are_counted_against_the_limit_over_the_whole_rollout() -> None:
    timeline = Timeline(error_share=0.5)
    spec = AnalysisSpec(interval_seconds=10, metrics_delay_seconds=0, failure_limit=1)
    analysis = Analysis(spec, timeline, "ep", minute=1.0)
    analysis.stage("canary 10%", "green", "blue", T0, 10).poll(T0 + _s(10), lambda w: None)
    assert analysis.failures == 1 and not analysis.breached()
    stage = analysis.stage("canary 50%", "green", "blue", T0 + _s(10), 30)
    stage.poll(T0 + _s(60), lambda w: None)
    assert analysis.breached() and stage.done() and len(analysis.windows) == 2  # stops at once


def _s(seconds: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=seconds)


# --- the executor ---------------------------------------------------------------------------


@dataclass
class FakeMonitor:
    """What each deployment served, by the image it runs and whether it takes live or mirrored
    traffic (a deployment with neither served nothing)."""

    azure: FakeAzure
    by_image: dict[str, Served] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def served(self, query: Query) -> Served:
        endpoint, deployment = query.endpoint, query.deployment
        found = self.azure.endpoints[endpoint]
        self.asked.append(deployment)
        if deployment not in found.deployments or not (
            found.traffic.get(deployment) or found.mirror.get(deployment)
        ):
            return Served(0, 0, None)
        return self.by_image.get(found.deployments[deployment].settings.image, HEALTHY)


FAST = AnalysisSpec(interval_seconds=1, metrics_delay_seconds=0, min_requests=20)


def analysed(world: World, spec: AnalysisSpec = FAST, **by_image: Served) -> FakeMonitor:
    monitor = FakeMonitor(world.azure, {f"app@sha256:{k[1:]}": v for k, v in by_image.items()})
    world.analysis, world.metrics, world.watch_seconds = spec, monitor, 1
    return monitor


def test_a_canary_failing_a_fifth_of_its_requests_is_rolled_back_at_its_first_step() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(10, 50, 100)))
    analysed(world, v2=Served(100, 20, 40.0))
    with pytest.raises(RolloutFailed, match=r"analysis of green failed \(canary 10%: error rate"):
        world.run("app@sha256:2")
    world.assert_converged("app@sha256:1")
    assert [traffic.get("green", 0) for traffic, _ in world.azure.history] == [10, 0]
    assert "analysis: canary 10%" in world.log.getvalue()


def test_a_healthy_canary_passes_every_step_and_the_bake_keeping_the_previous_one() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(10, 100)))
    analysed(world)
    world.bake_seconds = 1
    plan, outcome = world.run("app@sha256:2")
    assert [type(s).__name__ for s in plan.steps if isinstance(s, (Watch, Bake))] == [
        "Watch",
        "Bake",
    ]
    world.assert_converged("app@sha256:2")
    assert outcome is not None
    stages = [w.stage for w in outcome.windows]
    assert "canary 10%" in stages and "bake" in stages
    assert all(w.verdict is Verdict.PASSED for w in outcome.windows)
    # During the bake blue was still there, at 0 %: green took 100 % before blue went.
    assert world.azure.calls.index("delete blue") > max(
        i for i, call in enumerate(world.azure.calls) if "'green': 100" in call
    )


def test_a_breach_during_the_bake_puts_all_traffic_back_on_the_previous_deployment() -> None:
    world = first(World())
    monitor = analysed(world)
    world.bake_seconds = 2

    def slow_after_a_second(image: str) -> None:
        monitor.by_image[image] = Served(100, 0, 5000.0)

    world.analysis = AnalysisSpec(
        interval_seconds=1, metrics_delay_seconds=0, max_latency_p99_ms=500
    )
    original = world.azure.begin_update_endpoint

    def update(name, tags, traffic, description=None, mirror=None):  # type: ignore[no-untyped-def]
        if traffic and traffic.get("green") == 100:
            slow_after_a_second("app@sha256:2")
        return original(name, tags, traffic, description, mirror)

    world.azure.begin_update_endpoint = update  # type: ignore[method-assign]
    with pytest.raises(RolloutFailed, match=r"\(bake: p99 latency 5000 ms"):
        world.run("app@sha256:2")
    world.assert_converged("app@sha256:1")
    assert world.azure.history[-1][0] == {"blue": 100, "green": 0}


def test_a_shadow_stage_stops_a_failing_candidate_before_it_takes_any_live_traffic() -> None:
    world = first(World(strategy=Strategy.CANARY))
    analysed(world, v2=Served(100, 30, 40.0))
    world.shadow = ShadowSpec(percent=20, seconds=1)
    with pytest.raises(RolloutFailed, match=r"\(shadow 20%: error rate 30.0%"):
        world.run("app@sha256:2")
    world.assert_converged("app@sha256:1")
    assert all(not traffic.get("green") for traffic, _ in world.azure.history)
    assert any("mirror {'green': 20}" in call for call in world.azure.calls)
    assert world.endpoint.mirror == {}


def test_a_passed_shadow_stage_stops_the_mirror_in_the_request_that_shifts_traffic() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))
    analysed(world)
    world.shadow = ShadowSpec(percent=50, seconds=1)
    plan, outcome = world.run("app@sha256:2")
    kinds = [type(step).__name__ for step in plan.steps]
    assert kinds.index("Shadow") == kinds.index("SmokeTest") + 1
    world.assert_converged("app@sha256:2")
    shift = next(call for call in world.azure.calls if "traffic {'blue': 50, 'green': 50}" in call)
    assert "mirror {}" in shift
    assert outcome is not None and outcome.windows[0].stage == "shadow 50%"
    assert outcome.windows[0].baseline == "blue"


def test_no_shadow_stage_and_no_bake_on_a_first_deploy() -> None:
    world = World()
    analysed(world)
    world.shadow, world.bake_seconds = ShadowSpec(), 60
    plan = make_plan(world.desired("app@sha256:1"), None, NOW)
    assert not plan.has(Shadow) and not plan.has(Bake)
    assert "no shadow stage: nothing serves live traffic yet to mirror" in plan.notes
    assert "no bake: there is no previous deployment to go back to" in plan.notes


def _killed_at_every_call(
    make: World, image: str, stop_on: tuple[str, ...]
) -> list[tuple[int, str]]:
    """Kill the run at each mutating call in turn; after each, the next run must converge on
    `image` with nothing at risk. The calls where the kill left a record `stop_on`, listed."""
    seen = []
    for kill_at in range(1, 20):
        world = first(World(strategy=make.strategy, canary_steps=make.canary_steps))
        analysed(world)
        world.shadow, world.bake_seconds = make.shadow, make.bake_seconds
        world.watch_seconds = 0
        world.azure.kill_at = world.azure.mutations + kill_at
        try:
            world.run(image)
        except Killed as killed:
            step = world.record.step
            if step in stop_on:
                seen.append((kill_at, str(killed)))
            world.azure.kill_at = None
            plan, _ = world.run(image, holder=Holder(ME.run, "2"))
            if step is Step.SHADOW:
                assert plan.has(Shadow), "a shadow stage cut short is run again"
            if step is Step.BAKING:
                assert plan.has(Bake), "a bake cut short bakes again"
            world.assert_converged(image)
            assert world.endpoint.mirror == {}
            world.assert_never_at_risk({"app@sha256:1"})
            continue
        world.assert_converged(image)
        break
    return seen


def test_a_run_killed_in_the_shadow_stage_or_the_bake_is_taken_over_by_the_next() -> None:
    world = World(strategy=Strategy.CANARY, canary_steps=(50, 100))
    world.shadow, world.bake_seconds = ShadowSpec(percent=10, seconds=0), 0.05
    seen = _killed_at_every_call(world, "app@sha256:2", (Step.SHADOW, Step.BAKING))
    steps = {call for _, call in seen}
    assert any("mirror {}" in call for call in steps), "killed while the mirror ran"
    assert any("'green': 100" in call for call in steps), "killed in the bake"


def test_a_mirror_an_earlier_run_left_is_stopped_first() -> None:
    world = first(World(strategy=Strategy.CANARY))
    blue = world.endpoint.deployments["blue"]
    world.endpoint.deployments["green"] = replace(blue, name="green")
    world.endpoint.mirror = {"green": 10}
    plan = make_plan(world.desired("app@sha256:1"), world.azure.endpoint("ep"), NOW)
    assert isinstance(plan.steps[0], Mark) and plan.steps[0].stop_mirror
    world.run("app@sha256:1")
    world.assert_converged("app@sha256:1")
    assert world.endpoint.mirror == {}


def test_waiting_for_the_last_window_the_watch_still_tests_once_a_second() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))
    analysed(world, AnalysisSpec(interval_seconds=1, metrics_delay_seconds=2))
    world.run("app@sha256:2")
    world.assert_converged("app@sha256:2")
    smoke_tests = world.azure.calls.count("smoke green")
    # The smoke test before any traffic, then one a second for the 1 s watch and the 2 s delay.
    assert 3 <= smoke_tests <= 5, smoke_tests


def test_reading_azures_minutes_before_they_fill_in_is_warned_about() -> None:
    warned = early_reading(0, 60.0)
    assert warned is not None and "up to about 3 minutes" in warned
    assert early_reading(30, 60.0) is not None
    assert early_reading(180, 60.0) is None  # the default
    assert early_reading(60, 60.0) is None
    assert early_reading(0, 1.0) is None  # the emulator's fast profile: a minute is a second
