"""A deploy killed after each of its mutating calls, then run again, under load; and a second
run during a first run's canary (tools/reliability/crashes.py; FAST settings)."""

from __future__ import annotations

import pytest

from tools.reliability import crashes
from tools.reliability.scenarios import FAST, AppFactory

# Minutes each: started first (tests/conftest.py, _LongestFirst).
pytestmark = pytest.mark.long


@pytest.mark.parametrize("canary", [False, True], ids=["blue-green", "canary"])
def test_a_run_killed_after_any_step_is_finished_by_the_next(
    new_app: AppFactory, canary: bool
) -> None:
    outcome = crashes.killed_at_every_step(new_app, FAST, canary=canary)
    assert outcome.figures["kill_points"] >= (6 if canary else 4), outcome.figures
    assert outcome.met, (outcome.figures, outcome.detail)


@pytest.mark.parametrize("wait", [True, False], ids=["waits", "no-wait"])
def test_a_second_run_during_a_canary(new_app: AppFactory, wait: bool) -> None:
    outcome = crashes.concurrent_runs(new_app, wait=wait)
    assert outcome.met, (outcome.figures, outcome.detail)
