"""No silent pass, through the real command line, the real Azure SDKs and the emulator's Azure
Monitor, under both answers to what Azure does not document — whether mirrored requests count
in the shadow deployment's metrics: uncounted, a shadow stage of live clients' mirrored traffic
is inconclusive and rolls the rollout back; counted, it is judged; and with
`rollout.analysis.load` a quiet endpoint (no clients at all) gets a verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import App
from tools.reliability.load import Load
from tools.repo import JobRun
from tools.runner.action import parse_file_commands

pytestmark = pytest.mark.docker

PRODUCTION = ("--environment", "production")
# 3 s windows judged from 10 requests: the watch's smoke request once a second (3 a window, 6
# in the stage) never makes a verdict alone; clients' mirrored requests or `load` do.
ANALYSIS = ", analysis: {interval_seconds: 3, metrics_delay_seconds: 2, min_requests: 10%s}"
SHADOW = ", shadow: {percent: 50, seconds: 6}"


def _version_one(app: App, tmp_path: Path) -> dict[str, str]:
    app.server_deploy_file(canary_steps="[50, 100]", step_wait=6)
    first = app.in_a_job("deploy", tmp_path / "first", *PRODUCTION)
    assert first.result.returncode == 0, first.result.stdout
    return first.outputs()


def _version_two(app: App, analysis: str = "") -> None:
    app.server_deploy_file(
        canary_steps="[50, 100]", step_wait=6, color="two", rollout=ANALYSIS % analysis + SHADOW
    )


def _clients(app: App, outputs: dict[str, str]) -> Load:
    """Live traffic at 20 requests a second: the shadow stage mirrors half of it."""
    return Load(
        outputs["scoring-uri"],
        outputs["primary-key"],
        (app.root / "server" / "request.json").read_bytes(),
        ca_bundle=app.emulator["ca_bundle"],
        rate=20,
        max_seconds=180,
        max_requests=3600,
    )


def _traffic(app: App) -> dict[str, int]:
    endpoint = app.endpoint("models")
    assert endpoint is not None
    return {k: v for k, v in endpoint["properties"]["traffic"].items() if v}


def _analysis(output: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(parse_file_commands(output.read_text())["analysis"])
    return found


def test_uncounted_mirrored_requests_make_the_shadow_stage_inconclusive_and_it_fails(
    app: App, tmp_path: Path
) -> None:
    first = _version_one(app, tmp_path)
    app.emulator.count_mirrored_requests(False)
    _version_two(app)
    with _clients(app, first) as clients:
        run = app.in_a_job("deploy", tmp_path / "second", *PRODUCTION)
    assert run.result.returncode == 1, run.result.stdout
    assert "the analysis of green is inconclusive (shadow 50%: green served" in run.result.stdout
    assert "rollout.analysis.load" in run.result.stdout  # the fix, in the hint
    analysis = _analysis(run.output)
    assert analysis["verdict"] == "failed"
    assert [(s["stage"], s["verdict"], s["on_inconclusive"]) for s in analysis["stages"]] == [
        ("shadow 50%", "inconclusive", "fail")
    ]
    assert 0 < analysis["stages"][0]["requests"] < 10  # only the watch's smoke requests
    summary = run.summary.read_text()
    assert (
        "#### Analysis verdicts" in summary
        and "**⚠️ INCONCLUSIVE** (on_inconclusive: fail)" in summary
    )
    assert _traffic(app) == {"blue": 100}
    endpoint = app.endpoint("models")
    assert endpoint is not None and not endpoint["properties"].get("mirrorTraffic")
    assert clients.figures.failed == 0 and clients.figures.answered_by.keys() == {"blue"}


def test_counted_mirrored_requests_judge_the_same_shadow_stage(app: App, tmp_path: Path) -> None:
    first = _version_one(app, tmp_path)
    _version_two(app)
    with _clients(app, first):
        run = app.in_a_job("deploy", tmp_path / "second", *PRODUCTION)
    _passed_both_stages(app, run)


def test_load_gives_a_quiet_endpoint_a_verdict_even_with_mirrored_requests_uncounted(
    app: App, tmp_path: Path
) -> None:
    """With no client at all nothing is mirrored, so the switch's other answer would judge the
    same requests: only `load`'s, sent through the deployment header."""
    _version_one(app, tmp_path)
    app.emulator.count_mirrored_requests(False)
    _version_two(app, ", load: {requests_per_second: 10}")
    run = app.in_a_job("deploy", tmp_path / "second", *PRODUCTION)  # no client sends anything
    analysis = _passed_both_stages(app, run)
    shadow = [w for w in analysis["windows"] if w["stage"] == "shadow 50%"]
    # green took no live traffic then: what it served came through the deployment header
    assert shadow and all(w["requests"] >= 10 for w in shadow)
    assert "load on green (shadow 50%): " in run.result.stdout + run.result.stderr


def _passed_both_stages(app: App, run: JobRun) -> dict[str, Any]:
    """The rollout went live, its shadow stage and its canary step judged and passed."""
    assert run.result.returncode == 0, run.result.stdout
    analysis = _analysis(run.output)
    assert analysis["verdict"] == "passed"
    assert [(s["stage"], s["verdict"]) for s in analysis["stages"]] == [
        ("shadow 50%", "passed"),
        ("canary 50%", "passed"),
    ]
    assert _traffic(app) == {"green": 100}
    return analysis
