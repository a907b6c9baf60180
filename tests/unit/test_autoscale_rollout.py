"""deployment.autoscale through the planner and the executor, against the in-memory Azure of
tests/unit/fakes.py: the setting goes with the serving deployment at every swap, the candidate
starts with at least the known-good's instances, the known-good's setting is paused while a
canary runs and resumed on any undo, a killed run is finished by the next with the setting on
the serving deployment, enabled, and nothing orphaned."""

from __future__ import annotations

from dataclasses import replace

import pytest

from deployer.errors import RolloutFailed
from deployer.plan_after import plan_abort, plan_promote
from deployer.spec.model import AutoscaleRule, AutoscaleSpec, Direction, Strategy
from deployer.steps import PinAutoscale, Provision, SetAutoscale
from deployer.tags import MANAGED_BY, Holder, Tag
from tests.unit.fakes import FakeSetting, Killed
from tests.unit.test_execute import ME, World, first

RULES = (
    AutoscaleRule("CpuUtilizationPercentage", "GreaterThan", 70, Direction.OUT),
    AutoscaleRule("CpuUtilizationPercentage", "LessThan", 30, Direction.IN),
)
SCALE = AutoscaleSpec(max_instances=5, rules=RULES, min_instances=1, default_instances=1)


def world(strategy: Strategy = Strategy.BLUE_GREEN, **changes: object) -> World:
    return first(World(strategy=strategy, autoscale=SCALE, **changes))  # type: ignore[arg-type]


def assert_autoscaled(w: World, setting: AutoscaleSpec = SCALE) -> None:
    """One setting of the action's, enabled, on the deployment that serves; none orphaned."""
    (serving,) = w.serving()
    settings = list(w.azure.autoscale.values())
    assert [(s.deployment, s.enabled) for s in settings] == [(serving, True)], settings
    (found,) = settings
    assert found.setting == setting
    assert found.tags[Tag.MANAGED_BY] == MANAGED_BY
    assert found.tags[Tag.AUTOSCALE] == setting.fingerprint
    assert found.name == f"ep-{serving}-autoscale"


@pytest.mark.parametrize("strategy", [Strategy.BLUE_GREEN, Strategy.CANARY, Strategy.REPLACE])
def test_every_strategy_puts_the_setting_on_the_serving_deployment(strategy: Strategy) -> None:
    w = world(strategy)
    assert_autoscaled(w)
    plan, _ = w.run("app@sha256:1")
    assert plan.is_noop, "nothing changed: no call at all"


@pytest.mark.parametrize("strategy", [Strategy.BLUE_GREEN, Strategy.CANARY])
def test_a_swap_carries_the_setting_to_the_new_deployment(strategy: Strategy) -> None:
    w = world(strategy)
    plan, _ = w.run("app@sha256:2")
    kinds = [type(step).__name__ for step in plan.steps]
    assert kinds.index("SetAutoscale") > max(i for i, k in enumerate(kinds) if k == "SetTraffic")
    (deleted,) = [s for s in plan.steps if isinstance(s, SetAutoscale) and s.setting is None]
    assert deleted.deployment == "blue"
    assert kinds.index("Retire") == kinds.index("SetAutoscale") + 2
    w.assert_converged("app@sha256:2")
    assert w.serving() == {"green": 100}
    assert_autoscaled(w)


def test_the_candidate_starts_with_at_least_the_known_goods_instances() -> None:
    w = world()
    w.azure.scale("ep", "blue", 4)
    plan, _ = w.run("app@sha256:2")
    (provision,) = [s for s in plan.steps if isinstance(s, Provision)]
    assert provision.instance_count == 4
    assert any("starts with 4 instances" in note for note in plan.notes)
    assert w.endpoint.deployments["green"].instances == 4
    # Clamped to max_instances.
    w2 = first(World(autoscale=replace(SCALE, max_instances=3)))
    w2.endpoint.deployments["blue"].capacity = 5
    w2.run("app@sha256:2")
    assert w2.endpoint.deployments["green"].instances == 3
    # The tags still name the deploy file's settings: the next run changes nothing.
    plan, _ = w.run("app@sha256:2")
    assert plan.is_noop


def test_the_known_goods_setting_is_paused_during_a_canary() -> None:
    w = world(Strategy.CANARY)
    paused_while: list[bool] = []
    original = w.azure.begin_update_endpoint

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        paused_while.append(w.azure.autoscale["ep-blue-autoscale"].enabled)
        return original(*args, **kwargs)

    w.azure.begin_update_endpoint = spy  # type: ignore[method-assign]
    plan, _ = w.run("app@sha256:2")
    (pin,) = [s for s in plan.steps if isinstance(s, PinAutoscale)]
    assert pin.deployment == "blue" and not pin.enabled
    kinds = [type(step).__name__ for step in plan.steps]
    assert kinds.index("PinAutoscale") < kinds.index("Provision")
    # Every change of traffic (25 %, 50 %, 100 %) happened with blue's autoscale paused.
    assert paused_while[1:] == [False] * (len(paused_while) - 1)
    assert_autoscaled(w)


def test_a_failed_canary_resumes_the_known_goods_setting() -> None:
    w = world(Strategy.CANARY)
    w.failing.add("app@sha256:2")
    with pytest.raises(RolloutFailed):
        w.run("app@sha256:2")
    assert w.serving() == {"blue": 100}
    assert_autoscaled(w)
    assert "resume autoscale ep-blue-autoscale" in w.azure.calls


def test_blue_green_without_watching_does_not_pause() -> None:
    w = world()
    plan, _ = w.run("app@sha256:2")
    assert not any(isinstance(s, PinAutoscale) for s in plan.steps)


@pytest.mark.parametrize("strategy", [Strategy.BLUE_GREEN, Strategy.CANARY])
def test_a_run_killed_at_any_call_is_finished_with_the_setting_on_the_serving_one(
    strategy: Strategy,
) -> None:
    probe = world(strategy)
    start = probe.azure.mutations
    probe.run("app@sha256:2")
    calls = probe.azure.mutations - start
    for kill in range(1, calls + 1):
        w = world(strategy)
        w.azure.kill_at = w.azure.mutations + kill
        with pytest.raises(Killed):
            w.run("app@sha256:2")
        w.azure.kill_at = None
        w.run("app@sha256:2", holder=Holder(ME.run, "2"))
        w.assert_converged("app@sha256:2")
        assert_autoscaled(w)
        w.assert_never_at_risk({"app@sha256:1"})


def test_a_changed_autoscale_block_updates_only_the_setting() -> None:
    w = world()
    w.autoscale = replace(SCALE, max_instances=8)
    plan, _ = w.run("app@sha256:1")
    assert [type(s).__name__ for s in plan.steps] == ["Mark", "SetAutoscale"]
    assert w.serving() == {"blue": 100}
    assert_autoscaled(w, w.autoscale)


def test_removing_autoscale_deletes_the_setting() -> None:
    w = world()
    w.autoscale = None
    plan, _ = w.run("app@sha256:1")
    assert [type(s).__name__ for s in plan.steps] == ["Mark", "SetAutoscale"]
    assert w.azure.autoscale == {}


def test_a_paused_setting_left_by_a_killed_run_is_resumed_by_the_next_plan() -> None:
    w = world(Strategy.CANARY)
    w.azure.autoscale["ep-blue-autoscale"].enabled = False
    plan, _ = w.run("app@sha256:1")
    assert [type(s).__name__ for s in plan.steps] == ["Mark", "SetAutoscale"]
    assert plan.paused == "ep-blue-autoscale"
    assert_autoscaled(w)


def test_someone_elses_setting_is_left_alone_and_the_plan_says_so() -> None:
    w = first(World())
    w.azure.autoscale["theirs"] = FakeSetting("theirs", "ep", "blue", SCALE, {"team": "ops"})
    w.autoscale = SCALE
    plan, _ = w.run("app@sha256:1")
    assert plan.is_noop
    assert any("theirs" in note and "left alone" in note for note in plan.notes)
    plan, _ = w.run("app@sha256:2")
    assert w.serving() == {"green": 100}
    assert w.azure.autoscale["theirs"].deployment == "blue", "never deleted"
    assert not any(isinstance(s, SetAutoscale) and s.name == "theirs" for s in plan.steps)


def _killed_mid_canary() -> World:
    """A canary killed at its first step: blue's setting paused, green at 25 %."""
    w = world(Strategy.CANARY)
    w.watch_seconds = 0
    original = w.azure.begin_update_endpoint

    def killed_after_the_first_step(name, tags, traffic, description=None, mirror=None):  # type: ignore[no-untyped-def]
        if traffic and traffic.get("green") == 50:
            raise Killed("at 50 %")
        return original(name, tags, traffic, description, mirror)

    w.azure.begin_update_endpoint = killed_after_the_first_step  # type: ignore[method-assign]
    with pytest.raises(Killed):
        w.run("app@sha256:2")
    w.azure.begin_update_endpoint = original  # type: ignore[method-assign]
    assert not w.azure.autoscale["ep-blue-autoscale"].enabled
    assert w.serving() == {"blue": 75, "green": 25}
    return w


def test_abort_resumes_the_known_goods_paused_setting() -> None:
    w = _killed_mid_canary()
    plan, _ = w.run("app@sha256:2", plan_abort, Holder(ME.run, "2"))
    assert any(isinstance(s, PinAutoscale) and s.enabled for s in plan.steps)
    w.assert_converged("app@sha256:1")
    assert_autoscaled(w)


def test_promote_carries_the_setting_to_the_promoted_candidate() -> None:
    w = _killed_mid_canary()
    w.run("app@sha256:2", plan_promote, Holder(ME.run, "2"))
    w.assert_converged("app@sha256:2")
    assert_autoscaled(w)
