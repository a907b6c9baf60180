"""Rollouts under continuous load (FAST settings; `make reliability` runs the FULL ones)."""

from __future__ import annotations

import pytest

from tools.reliability.scenarios import (
    FAILING_CANARY_BOUND_SECONDS,
    FAST,
    ROLLOUT_CASES,
    AppFactory,
    zero_downtime_case,
)


@pytest.mark.parametrize("case", ROLLOUT_CASES, ids=[c[1] for c in ROLLOUT_CASES])
def test_rollout_under_load(new_app: AppFactory, case: str) -> None:
    outcome = zero_downtime_case(new_app, FAST, case)
    figures = outcome.figures
    assert figures["end_state_ok"], outcome.detail
    assert figures["sent"] >= FAST.rate * 5  # the load really ran through the rollout
    if case.startswith("(f)"):
        # A canary that dies takes its share of requests down with it until the deployer
        # notices (it checks every CANARY_CHECK_SECONDS) and puts traffic back: bounded, not 0.
        assert figures["failed"] <= FAST.rate * FAILING_CANARY_BOUND_SECONDS, figures
        assert "started failing" in outcome.detail
    else:
        assert outcome.met, (figures, outcome.detail)
