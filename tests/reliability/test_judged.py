"""Rollouts judged by live traffic, under continuous load (FAST settings; `make reliability`
runs the FULL ones and writes docs/reliability.md)."""

from __future__ import annotations

import pytest

from tools.reliability.autoscaled import autoscale_case
from tools.reliability.judged import FAST_JUDGED as FAST
from tools.reliability.judged import JUDGED_CASES, judged_case
from tools.reliability.scenarios import AppFactory

SMOKE_ONLY, ANALYSED, SHADOWED, SLOWER, HEALTHY = JUDGED_CASES


@pytest.mark.long
def test_analysis_rolls_back_at_the_first_step_what_the_smoke_test_lets_through(
    new_app: AppFactory,
) -> None:
    """Version 2 fails one client input in five, which the smoke request does not send."""
    shipped = judged_case(new_app, FAST, SMOKE_ONLY)
    assert shipped.figures["end_state_ok"], shipped.detail
    assert shipped.figures["failed"] > 0, "the smoke test alone lets it fail real clients"
    judged = judged_case(new_app, FAST, ANALYSED)
    figures = judged.figures
    assert figures["end_state_ok"], judged.detail  # rolled back by analysis at the first step
    assert figures["failed"] < shipped.figures["failed"], (figures, shipped.figures)
    assert figures["first_step_requests"] >= FAST.rate * 2, figures
    # A canary at 10 % failing 20 % of its share fails 2 % of all requests until it is noticed.
    assert figures["first_step_failed"] <= max(3, 0.04 * figures["first_step_requests"]), figures


@pytest.mark.parametrize("case", [SHADOWED, SLOWER, HEALTHY], ids=lambda c: c.name[:3])
def test_judged_by_live_traffic(new_app: AppFactory, case: object) -> None:
    outcome = judged_case(new_app, FAST, case)  # type: ignore[arg-type]
    assert outcome.figures["sent"] >= FAST.rate * 5, outcome.figures
    assert outcome.met, (outcome.figures, outcome.detail)


def test_autoscale_scales_out_under_load_and_a_swap_carries_it_over(new_app: AppFactory) -> None:
    outcome = autoscale_case(new_app)
    assert outcome.met, (outcome.figures, outcome.detail)
    assert outcome.figures["blue_instances_at_swap"] >= 2, outcome.figures
