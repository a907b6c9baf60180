"""One deploy per injected fault: the run recovers or fails clearly, production keeps serving,
nothing is left behind."""

from __future__ import annotations

import pytest

from tools.reliability.scenarios import (
    FAULT_CASES,
    AppFactory,
    FaultCase,
    cancelled_mid_rollout,
    fault_case,
    two_runs_at_once,
)


@pytest.mark.parametrize("case", FAULT_CASES, ids=[c.name for c in FAULT_CASES])
def test_fault(new_app: AppFactory, case: FaultCase) -> None:
    outcome = fault_case(new_app, case)
    assert outcome.met, (outcome.figures, outcome.detail)
    if case.faults_requests:
        assert outcome.figures["faulted_requests"] >= 1  # the fault really happened
    if case.before is not None:
        # One ID token for each first sign-in (ARM, the registry), and a fresh one when the ARM
        # token expired while the deployment provisioned, the first ID token long expired.
        assert outcome.figures["id_tokens"] >= 3, outcome.figures


def test_cancelled_mid_rollout(new_app: AppFactory) -> None:
    outcome = cancelled_mid_rollout(new_app)
    assert outcome.met, (outcome.figures, outcome.detail)


def test_two_runs_deploying_the_same_endpoint_at_once(new_app: AppFactory) -> None:
    outcome = two_runs_at_once(new_app)
    assert outcome.met, (outcome.figures, outcome.detail)
