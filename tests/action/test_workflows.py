"""The four workflows users copy, each run with its event through the runner-faithful harness
against the emulator: as they are (the custom container of examples/credit-risk), and pointed
at the other examples by their one DEPLOY_FILE line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from tests.action.conftest import Repo
from tests.emulator.arm import Arm
from tools.runner.action import ROOT
from tools.runner.job import Event, new_sha
from tools.runner.workflow import JobRun


def single(runs: list[JobRun]) -> JobRun:
    assert len(runs) == 1, [run.job for run in runs]
    return runs[0]


def pointed_at(workflow: str, deploy_file: str, folder: Path) -> Path:
    """`folder` holding the example `workflow` with its DEPLOY_FILE line changed, as a user
    copying it changes it."""
    text = (ROOT / "examples" / "workflows" / workflow).read_text()
    line = "  DEPLOY_FILE: examples/credit-risk/deploy.yml\n"
    assert text.count(line) == 1
    (folder / workflow).write_text(text.replace(line, f"  DEPLOY_FILE: {deploy_file}\n"))
    return folder


def score(repo: Repo, outputs: dict[str, str], request: str) -> object:
    answer = requests.post(
        outputs["scoring-uri"],
        data=(repo.root / request).read_bytes(),
        headers={
            "Authorization": f"Bearer {outputs['primary-key']}",
            "Content-Type": "application/json",
        },
        verify=repo.emulator["ca_bundle"],
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_pr_preview_deploys_on_open_and_deletes_on_close(repo: Repo) -> None:
    run = single(repo.run("pr-preview.yml", Event.pull_request(7, action="opened")))
    result = run.result
    assert run.job == "deploy"
    assert result.exit_code == 0, result.text
    assert run.oidc_subject == "repo:octo-org/octo-repo:environment:preview"
    outputs = result.outputs
    assert outputs["endpoint-name"] == "credit-risk-pr7"
    assert run.environment_url is None  # deployment: false; the action's own has the URL
    assert result.leaks == []
    # The runner drops job outputs that hold a masked value: keys stay step outputs.
    assert set(result.job_outputs_dropped) >= {"primary-key", "secondary-key"}
    assert "| Endpoint | <code>credit-risk-pr7</code>" in result.summary
    score(repo, outputs, "examples/credit-risk/tests/sample-request.json")

    closed = single(repo.run("pr-preview.yml", Event.pull_request(7, action="closed")))
    assert closed.job == "teardown"
    assert closed.result.exit_code == 0, closed.result.text
    assert closed.oidc_subject == "repo:octo-org/octo-repo:pull_request"
    assert closed.result.outputs["deleted"] == "true"
    state = repo.emulator.admin("GET", "/state")
    assert [e["name"] for e in state["endpoints"]] == []


def test_pr_preview_updates_in_place_on_a_new_push(repo: Repo) -> None:
    first = single(repo.run("pr-preview.yml", Event.pull_request(7, action="opened")))
    assert first.result.exit_code == 0, first.result.text
    again = single(repo.run("pr-preview.yml", Event.pull_request(7, action="synchronize")))
    assert again.result.exit_code == 0, again.result.text
    plan = json.loads(again.result.outputs["plan"])
    assert [step["step"] for step in plan["steps"]] == [
        "record",
        "build-image",
        "update-deployment",
        "smoke-test",
        "set-traffic",
    ]
    assert again.result.outputs["deployment-name"] == "blue"
    assert again.result.leaks == []


def test_pr_preview_skips_forks(repo: Repo) -> None:
    assert repo.run("pr-preview.yml", Event.pull_request(7, action="opened", fork=True)) == []


def test_release_tag_deploys_to_production(repo: Repo) -> None:
    event = Event.push("refs/tags/v1.2.0")
    run = single(repo.run("release.yml", event))
    assert run.result.exit_code == 0, run.result.text
    assert run.oidc_subject == "repo:octo-org/octo-repo:environment:production"
    assert run.environment == "production"
    assert run.result.outputs["endpoint-name"] == "credit-risk"
    assert json.loads(run.result.outputs["traffic"]) == {"blue": 100}
    endpoint = repo.emulator.admin("GET", "/state")["endpoints"][0]
    assert endpoint["tags"]["environment"] == "production"
    assert [d["sku"]["capacity"] for d in endpoint["deployments"]] == [3]
    assert run.result.leaks == []
    outputs = run.result.outputs
    assert re.fullmatch(r"[0-9a-f]{7}-[0-9a-f]{8}", outputs["image-tag"]), outputs["image-tag"]
    assert outputs["image"] == f"{repo.emulator['registry']}/credit-risk@{outputs['digest']}"


def test_a_release_deploys_the_image_an_earlier_job_built(repo: Repo, tmp_path: Path) -> None:
    built = single(repo.run("release.yml", Event.push("refs/tags/v1.2.0")))
    assert built.result.exit_code == 0, built.result.text
    digest = built.result.outputs["digest"]
    workflow = (ROOT / "examples" / "workflows" / "release.yml").read_text()
    with_image = workflow.replace(
        "          environment: production\n",
        f"          environment: production\n          image: credit-risk@{digest}\n",
    )
    (tmp_path / "prebuilt.yml").write_text(with_image)
    run = single(repo.run("prebuilt.yml", Event.push("refs/tags/v1.2.1"), folder=tmp_path))
    assert run.result.exit_code == 0, run.result.text
    assert "image.build is ignored" in run.result.text
    assert "Building" not in run.result.text
    assert run.result.outputs["digest"] == digest
    assert run.result.outputs["image-tag"] == ""


def test_scheduled_cleanup_removes_stale_previews(repo: Repo, image: str) -> None:
    arm = Arm(repo.emulator, image=image)
    arm.create_preview("credit-risk-pr1", pr="1", age_hours=80, repository="octo-org/octo-repo")
    arm.create_preview("credit-risk-pr2", pr="2", age_hours=0, repository="octo-org/octo-repo")
    event = Event("schedule", {"schedule": "17 3 * * *"}, sha=new_sha())
    run = single(repo.run("cleanup.yml", event))
    assert run.result.exit_code == 0, run.result.text
    assert run.oidc_subject == "repo:octo-org/octo-repo:ref:refs/heads/main"
    assert json.loads(run.result.outputs["deleted"]) == ["credit-risk-pr1"]
    names = [e["name"] for e in repo.emulator.admin("GET", "/state")["endpoints"]]
    assert names == ["credit-risk-pr2"]


def test_validate_on_a_fork_annotates_the_diff_without_azure(repo: Repo) -> None:
    deploy_file = repo.root / "examples/credit-risk/deploy.yml"
    deploy_file.write_text(
        deploy_file.read_text()
        .replace("instance_count: 1", "instance_count: 0")
        .replace("auth_mode: key", "auth_mode: keys")
    )
    since = repo.emulator.last_request()
    run = single(repo.run("validate.yml", Event.pull_request(7, action="opened", fork=True)))
    result = run.result
    assert result.exit_code == 1
    assert run.oidc_subject is None
    errors = result.annotations("error")
    places = {(e.properties["file"], int(e.properties["line"])) for e in errors}
    assert ("examples/credit-risk/deploy.yml", 7) in places
    assert ("examples/credit-risk/deploy.yml", 22) in places
    assert any("did you mean 'key'?" in e.data for e in errors)
    assert repo.emulator.requests_since(since, part="arm") == []
    assert repo.emulator.requests_since(since, part="entra") == []


def test_validate_passes_on_the_example(repo: Repo) -> None:
    run = single(repo.run("validate.yml", Event.pull_request(7, action="opened", fork=True)))
    assert run.result.exit_code == 0, run.result.text
    assert "is valid" in run.result.text


def test_pr_preview_of_the_scoring_script_example(repo: Repo, tmp_path: Path) -> None:
    """A model, score.py and a conda file: registered under the preview's name, Azure ML's
    environment built, no image; deleted on close."""
    folder = pointed_at("pr-preview.yml", "examples/scoring-script/deploy.yml", tmp_path)
    run = single(repo.run("pr-preview.yml", Event.pull_request(7, action="opened"), folder))
    assert run.result.exit_code == 0, run.result.text
    outputs = run.result.outputs
    assert outputs["endpoint-name"] == "scoring-script-pr7"
    assert outputs["image"] == "" and outputs["digest"] == ""
    for asset in ("model", "code", "environment"):
        assert outputs[asset].startswith("azureml:scoring-script-pr7:"), outputs[asset]
    request = "examples/scoring-script/tests/sample-request.json"
    assert score(repo, outputs, request) == [14.5, 32.5]

    closed = single(repo.run("pr-preview.yml", Event.pull_request(7, action="closed"), folder))
    assert closed.result.exit_code == 0, closed.result.text
    assert closed.result.outputs["deleted"] == "true"
    assert repo.emulator.admin("GET", "/state")["endpoints"] == []


def test_release_of_the_mlflow_no_code_example(repo: Repo, tmp_path: Path) -> None:
    """An MLflow model alone: no environment, no code, Azure's input_data request."""
    folder = pointed_at("release.yml", "examples/mlflow-no-code/deploy.yml", tmp_path)
    run = single(repo.run("release.yml", Event.push("refs/tags/v1.2.0"), folder))
    assert run.result.exit_code == 0, run.result.text
    outputs = run.result.outputs
    assert outputs["endpoint-name"] == "mlflow-no-code"
    assert outputs["model"].startswith("azureml:mlflow-no-code:")
    assert (outputs["code"], outputs["environment"], outputs["image"]) == ("", "", "")
    request = "examples/mlflow-no-code/tests/sample-request.json"
    assert score(repo, outputs, request) == pytest.approx([6.5])  # a + 2b + 3c + 0.5
