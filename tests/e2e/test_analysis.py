"""rollout.analysis through the real command line, the real Azure SDKs and the emulator's Azure
Monitor: every window in the job summary and the `analysis` output, on a passed and on a
rolled-back rollout; a missing Monitoring Reader role refused before anything changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import App
from tools.runner.action import parse_file_commands

pytestmark = pytest.mark.docker

PRODUCTION = ("--environment", "production")
# The smoke test's request every second is the only traffic: two of them make a verdict.
ANALYSIS = ", analysis: {interval_seconds: 3, metrics_delay_seconds: 2, min_requests: 2%s}"


def _traffic(app: App) -> dict[str, int]:
    endpoint = app.endpoint("models")
    assert endpoint is not None
    return {k: v for k, v in endpoint["properties"]["traffic"].items() if v}


def _version_one_in_a_job(app: App, tmp_path: Path) -> None:
    app.server_deploy_file(canary_steps="[50, 100]", step_wait=6)
    first = app.in_a_job("deploy", tmp_path / "first", *PRODUCTION)
    assert first.result.returncode == 0, first.result.stdout


def test_a_judged_canary_lists_every_window_in_the_summary_and_the_output(
    app: App, tmp_path: Path
) -> None:
    _version_one_in_a_job(app, tmp_path)
    app.server_deploy_file(
        canary_steps="[50, 100]",
        step_wait=6,
        color="two",
        # 6 s: a bake of few smoke requests would be inconclusive, and that fails the rollout
        rollout=(ANALYSIS % "") + ", bake_minutes: 0.1",
    )
    run = app.in_a_job("deploy", tmp_path / "second", *PRODUCTION)
    assert run.result.returncode == 0, run.result.stdout
    analysis = json.loads(parse_file_commands(run.output.read_text())["analysis"])
    assert analysis["verdict"] == "passed"
    stages = [window["stage"] for window in analysis["windows"]]
    assert "canary 50%" in stages and "bake" in stages
    verdicts = {stage["stage"]: stage["verdict"] for stage in analysis["stages"]}
    assert verdicts == {"canary 50%": "passed", "bake": "passed"}
    first = analysis["windows"][0]
    assert first["deployment"] == "green" and first["requests"] >= 2
    assert first["baseline"]["deployment"] == "blue"
    summary = run.summary.read_text()
    assert "#### Analysis" in summary
    assert "| canary 50% |" in summary and "| bake |" in summary and "✅ passed" in summary
    assert _traffic(app) == {"green": 100}


def test_a_slow_candidate_is_rolled_back_and_the_failed_window_is_in_the_summary(
    app: App, tmp_path: Path
) -> None:
    _version_one_in_a_job(app, tmp_path)
    app.server_deploy_file(
        canary_steps="[50, 100]",
        step_wait=6,
        score_delay=0.4,
        rollout=ANALYSIS % ", max_latency_p99_ms: 250",
    )
    run = app.in_a_job("deploy", tmp_path / "second", *PRODUCTION)
    assert run.result.returncode == 1, run.result.stdout
    assert "the analysis of green failed (canary 50%: p99 latency" in run.result.stdout
    analysis = json.loads(parse_file_commands(run.output.read_text())["analysis"])
    assert analysis["verdict"] == "failed"
    failed = [w for w in analysis["windows"] if w["verdict"] == "failed"]
    assert failed and failed[0]["p99_ms"] > 250
    summary = run.summary.read_text()
    assert "failed" in summary and "#### Analysis" in summary and "❌ failed" in summary
    assert _traffic(app) == {"blue": 100}


def test_without_monitoring_reader_the_rollout_is_refused_before_anything_changes(
    app: App,
) -> None:
    app.server_deploy_file(canary_steps="[50, 100]", step_wait=6)
    assert app.deploy(*PRODUCTION).returncode == 0
    before = app.endpoint("models")
    app.server_deploy_file(
        canary_steps="[50, 100]", step_wait=6, color="two", rollout=ANALYSIS % ""
    )
    app.emulator.admin("POST", "/authorization", {"deny": ["Microsoft.Insights/metrics/read"]})
    result = app.deploy(*PRODUCTION)
    assert result.returncode == 1, result.stderr
    assert "Microsoft.Insights/metrics/read" in result.stderr
    assert "Monitoring Reader" in result.stderr
    assert "Traceback" not in result.stderr
    after = app.endpoint("models")
    assert after is not None and before is not None
    assert [d["name"] for d in after["deployments"]] == ["blue"]
    assert after["tags"] == before["tags"], "not even the lease"
