"""Rollouts judged by what the model answers, under continuous load that checks every answer
(FAST settings; `make reliability` runs the FULL ones and writes docs/reliability.md). The
cases share one endpoint: a candidate wrong for 5 % of its inputs is stopped by agreement, then
ships past every HTTP gate without it. Case (o), a model retrained within the tolerance, is left
to `make reliability` to keep this test short; tests/e2e/test_agreement.py runs its rule."""

from __future__ import annotations

import pytest

from tools.reliability.agreement import AGREEMENT_CASES, agreement_case, serve_version_one
from tools.reliability.agreement import FAST_AGREEMENT as FAST
from tools.reliability.scenarios import AppFactory

SHIPPED, STOPPED, _ = AGREEMENT_CASES


@pytest.mark.long
def test_wrong_answers_pass_every_http_gate_and_are_stopped_by_agreement(
    new_app: AppFactory,
) -> None:
    app = new_app()
    serving = serve_version_one(app, FAST)
    stopped = agreement_case(app, FAST, STOPPED, serving, after_seconds=2)
    assert stopped.met, (stopped.figures, stopped.detail)
    assert stopped.figures["checks"] == [("before traffic", 38, 40, "failed")], stopped.figures

    shipped = agreement_case(app, FAST, SHIPPED, serving, after_seconds=2)
    assert shipped.met, (shipped.figures, shipped.detail)
    assert shipped.figures["smoke_test_passed"], shipped.figures
    assert shipped.figures["analysis_verdict"] == "passed", shipped.figures
    # 2 s of the load after it went live: 40 inputs in turn, of which 2 are given a wrong label
    assert shipped.figures["wrong"] >= 2, shipped.figures
