"""The autoscale engine's decision, as autoscale-understanding-settings.md describes it: bounds
first, any scale-out rule, all scale-in rules, no flapping, the default without metrics."""

from __future__ import annotations

from emulator.monitor.engine import Measured, decide
from emulator.resources.autoscale_settings import Action, Profile, Rule, Trigger


def _rule(direction: str, operator: str, threshold: float, value: int = 1) -> Rule:
    trigger = Trigger(
        "CpuUtilizationPercentage",
        "/x",
        60,
        "Average",
        300,
        "Average",
        operator,
        threshold,
        (),
        False,
    )
    return Rule(trigger, Action(direction, "ChangeCount", value, 60))


OUT, IN = _rule("Increase", "GreaterThan", 50), _rule("Decrease", "LessThan", 30)
PROFILE = Profile("default", 1, 5, 2, (OUT, IN), False)


def _cpu(out: float | None, scale_in: float | None) -> dict[int, Measured]:
    return {0: Measured(out, True), 1: Measured(scale_in, True)}


def test_bounds_come_first() -> None:
    assert decide(PROFILE, 0, _cpu(10, 10), lambda r: True) == 1
    assert decide(PROFILE, 9, _cpu(90, 90), lambda r: True) == 5


def test_scale_out_wins_and_respects_cooldown_and_maximum() -> None:
    assert decide(PROFILE, 2, _cpu(80, 80), lambda r: True) == 3
    assert decide(PROFILE, 2, _cpu(80, 80), lambda r: False) == 2
    assert decide(PROFILE, 5, _cpu(80, 80), lambda r: True) == 5


def test_scale_in_is_deferred_when_it_would_flap() -> None:
    assert decide(PROFILE, 3, _cpu(20, 20), lambda r: True) == 2  # 20 x 3/2 = 30: no flap
    assert decide(PROFILE, 2, _cpu(28, 28), lambda r: True) == 2  # 28 x 2/1 = 56 > 50: flap


def test_without_metrics_the_default_holds() -> None:
    assert decide(PROFILE, 1, _cpu(None, None), lambda r: True) == 2
    assert decide(PROFILE, 3, _cpu(None, None), lambda r: True) == 3
