"""rollout.agreement through the real command line against the emulator: a candidate that is
fast and healthy but wrong for one label in twenty passes its smoke test and is stopped by
agreement before any traffic moves, production untouched; one whose scores drift within the
tolerance goes live. The test server's PREDICT mode plays the models; only an environment
variable changes between them, so the image is built once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import App
from tools.runner.action import parse_file_commands

pytestmark = pytest.mark.docker

PRODUCTION = ("--environment", "production")
LABELS = ", agreement: {requests: agreement/, compare: {pointer: /label}, min_agreement: 0.98}"
SCORES = ", agreement: {requests: agreement/, compare: {tolerance: {absolute: 0.001}}}"


def _traffic(app: App) -> dict[str, int]:
    endpoint = app.endpoint("models")
    assert endpoint is not None
    return {k: v for k, v in endpoint["properties"]["traffic"].items() if v}


def test_wrong_labels_are_stopped_and_drift_within_the_tolerance_goes_live(
    app: App, tmp_path: Path
) -> None:
    for x in range(40):
        (app.root / "server" / "agreement").mkdir(exist_ok=True)
        (app.root / "server" / "agreement" / f"{x:03}.json").write_text(json.dumps({"x": x}))
    app.server_deploy_file(predict="parity", rollout=LABELS)
    first = app.in_a_job("deploy", tmp_path / "first", *PRODUCTION)
    assert first.result.returncode == 0, first.result.stdout
    assert "agreement: before traffic: not judged (a first deploy" in first.result.stdout

    app.server_deploy_file(predict="parity,flip_every=20", rollout=LABELS)
    wrong = app.in_a_job("deploy", tmp_path / "wrong", *PRODUCTION)
    assert wrong.result.returncode == 1, wrong.result.stdout
    log = wrong.result.stdout
    assert "smoke test of green: passed" in log  # every HTTP gate lets it through
    assert (
        "the answers of green disagree with blue's (before traffic: 38 of 40 agree, 95.0%, "
        "below min_agreement 98.0%; first: 000.json: /label:"
    ) in log
    assert "Rolled back: blue still serves 100% of traffic; green was removed" in log
    assert _traffic(app) == {"blue": 100}
    output = json.loads(parse_file_commands(wrong.output.read_text())["agreement"])
    assert output["verdict"] == "failed"
    (check,) = output["checks"]
    assert (check["stage"], check["compared"], check["agreed"]) == ("before traffic", 40, 38)
    assert check["latency"]["deployment"]["p99_ms"] is not None
    assert [d["request"] for d in check["disagreements"]] == ["000.json", "020.json"]
    summary = wrong.summary.read_text()
    assert "#### Agreement" in summary and "38/40 (95.0%, min 98.0%)" in summary
    assert "##### Disagreeing answers: before traffic (the first 2)" in summary

    app.server_deploy_file(predict="parity,drift=0.0004", rollout=SCORES)
    drifted = app.in_a_job("deploy", tmp_path / "drifted", *PRODUCTION)
    assert drifted.result.returncode == 0, drifted.result.stdout
    output = json.loads(parse_file_commands(drifted.output.read_text())["agreement"])
    assert output["verdict"] == "passed"
    assert [(c["stage"], c["agreed"]) for c in output["checks"]] == [
        ("before traffic", 40),
        ("canary 50%", 40),
    ]
    assert _traffic(app) == {"green": 100}
