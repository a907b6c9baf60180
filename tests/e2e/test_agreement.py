"""rollout.agreement through the real command line against the emulator, for both kinds of
deployment: a custom container that is fast and healthy but wrong for one label in twenty
passes its smoke test and is stopped by agreement before any traffic moves, production
untouched (the test server's PREDICT mode plays the models: only an environment variable
changes, so the image is built once); a scoring script's model retrained within the tolerance
goes live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import App
from tests.e2e.test_asset_deployments import scoring_app
from tools.runner.action import parse_file_commands

pytestmark = pytest.mark.docker

PRODUCTION = ("--environment", "production")
LABELS = ", agreement: {requests: agreement/, compare: {pointer: /label}, min_agreement: 0.98}"


def _traffic(app: App) -> dict[str, int]:
    endpoint = app.endpoint("models")
    assert endpoint is not None
    return {k: v for k, v in endpoint["properties"]["traffic"].items() if v}


def test_wrong_labels_are_stopped_though_every_http_gate_passes(app: App, tmp_path: Path) -> None:
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


SCORING_ROLLOUT = "rollout: {strategy: blue-green, timeout_minutes: 5}"


def test_a_scoring_scripts_answers_are_compared_alike(app: App) -> None:
    """The comparison is on HTTP answers: a scoring script's model retrained within the
    tolerance goes live after its answers were compared with the known-good's."""
    deploy_file = scoring_app(app, name="agreeing")
    folder = deploy_file.parent
    for n in range(5):
        (folder / "agreement").mkdir(exist_ok=True)
        (folder / "agreement" / f"{n}.json").write_text(json.dumps({"data": [[n, 1, 2]]}))
    deploy_file.write_text(
        deploy_file.read_text().replace(
            SCORING_ROLLOUT,
            SCORING_ROLLOUT[:-1]
            + ", agreement: {requests: agreement/, compare: {tolerance: {absolute: 0.001}}}}",
        )
    )
    app.commit("agreement")
    first = app.outputs(config="seed/deploy.yml")
    assert json.loads(first["agreement"])["verdict"] == "not judged"
    model = folder / "model" / "linear.json"
    model.write_text(model.read_text().replace('"intercept": 0.5', '"intercept": 0.5004'))
    app.commit("the model retrained")
    second = app.outputs(config="seed/deploy.yml")
    (check,) = json.loads(second["agreement"])["checks"]
    assert (check["verdict"], check["compared"], check["agreed"]) == ("passed", 5, 5)
    assert json.loads(second["traffic"]) == {"green": 100}


@pytest.mark.long  # a canary killed at a step, then promoted: started first
def test_promote_judges_the_answers_at_the_steps_it_continues(app: App) -> None:
    """`promote` continues a canary with the same checks: the deploy file now asks for 98 %
    agreement, which the candidate's 95 % does not meet, so it is rolled back, not promoted."""
    for x in range(40):
        (app.root / "server" / "agreement").mkdir(exist_ok=True)
        (app.root / "server" / "agreement" / f"{x:03}.json").write_text(json.dumps({"x": x}))
    lenient = LABELS.replace("0.98", "0.9")
    app.server_deploy_file(predict="parity", rollout=lenient)
    assert app.run("deploy", *PRODUCTION).returncode == 0
    app.server_deploy_file(predict="parity,flip_every=20", rollout=lenient, step_wait=120)
    process = app.start("deploy", *PRODUCTION)
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith("→ watch green"):  # 95 % agreed before traffic; left at 50 %
            process.kill()
            break
    stdout, rest = process.communicate(timeout=60)
    app.record("deploy (killed during the canary)", stdout, "".join(lines) + rest)
    assert _traffic(app) == {"blue": 50, "green": 50}

    app.server_deploy_file(predict="parity,flip_every=20", rollout=LABELS, step_wait=1)
    promoted = app.run("promote", *PRODUCTION)
    assert promoted.returncode == 1, promoted.stderr
    assert (
        "the answers of green disagree with blue's (before the next step: 38 of 40 agree, 95.0%"
    ) in promoted.stderr
    assert _traffic(app) == {"blue": 100}
