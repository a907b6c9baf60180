"""`azureml-deploy deploy` end to end: the real SDK, Docker and registry, against the emulator."""

from __future__ import annotations

import json

import requests

from tests.e2e.conftest import App
from tools.checks import mutating_arm_calls


def test_fresh_deploy_of_the_example_model_server(app: App) -> None:
    outputs = app.outputs(config="credit-risk/deploy.yml")
    assert outputs["endpoint-name"] == "credit-risk"
    assert outputs["deployment-name"] == "blue"
    assert outputs["image"].startswith(f"{app.emulator['registry']}/credit-risk@sha256:")
    assert json.loads(outputs["traffic"]) == {"blue": 100}
    request = (app.root / "credit-risk" / "tests" / "sample-request.json").read_bytes()
    answer = requests.post(
        outputs["scoring-uri"],
        data=request,
        headers={
            "Authorization": f"Bearer {outputs['primary-key']}",
            "Content-Type": "application/json",
        },
        verify=app.emulator["ca_bundle"],
        timeout=30,
    )
    assert answer.status_code == 200
    assert [p["risk"] for p in answer.json()["predictions"]] == ["low", "high"]
    plan = json.loads(outputs["plan"])
    assert [step["step"] for step in plan["steps"]] == [
        "create-endpoint",
        "build-image",
        "create-deployment",
        "smoke-test",
        "set-traffic",
    ]
    tags = app.endpoint("credit-risk")["tags"]
    assert tags["managed-by"] == "azureml-deploy"
    assert tags["environment"] == "default"
    assert tags["git-sha"] and tags["created-at"]


def test_a_rerun_of_the_same_commit_changes_nothing(app: App) -> None:
    first = app.outputs()
    since = app.emulator.last_request()
    again = app.deploy()
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stderr
    assert "Building" not in again.stderr and "Pushing" not in again.stderr
    assert mutating_arm_calls(app, since) == []
    pushes = [e for e in app.emulator.requests_since(since, part="acr") if e["method"] == "PUT"]
    assert pushes == []
    outputs = app.outputs()
    assert outputs["image"] == first["image"]
    assert outputs["primary-key"] == first["primary-key"]


def test_blue_green_to_a_new_image(app: App) -> None:
    first = app.outputs()
    app.server_deploy_file(color="two")
    second = app.outputs()
    assert second["deployment-name"] == "green"
    assert second["previous-deployment"] == "blue"
    assert json.loads(second["traffic"]) == {"green": 100}
    assert app.score(second).json()["color"] == "two"
    deployments = [d["name"] for d in app.endpoint("models")["deployments"]]
    assert deployments == ["green"]
    assert second["primary-key"] == first["primary-key"]


def test_canary_to_a_new_image(app: App) -> None:
    app.outputs("--environment", "production")
    app.server_deploy_file(color="canary")
    result = app.deploy("--environment", "production")
    assert result.returncode == 0, result.stderr
    assert "set traffic: blue 50%, green 50%" in result.stderr
    assert "set traffic: blue 0%, green 100%" in result.stderr
    endpoint = app.endpoint("models")
    assert endpoint["properties"]["traffic"] == {"green": 100}


def assert_previous_still_serves(app: App, outputs: dict[str, str]) -> None:
    endpoint = app.endpoint("models")
    assert endpoint["properties"]["traffic"] == {"blue": 100}
    assert [d["name"] for d in endpoint["deployments"]] == ["blue"]
    answer = app.score(outputs)
    assert answer.status_code == 200 and answer.json()["color"] == "one"


def test_a_crashing_image_leaves_the_previous_deployment_serving(app: App) -> None:
    outputs = app.outputs()
    app.server_deploy_file(mode="crash")
    result = app.deploy()
    assert result.returncode == 1, result.stderr
    assert "internal error" not in result.stderr, result.stderr[-2000:]
    assert "boom: the model file /models/model.bin is missing" in result.stderr
    assert "crashed or terminated" in result.stderr
    assert "Rolled back: blue still serves 100% of traffic" in result.stderr
    assert "Traceback" not in result.stderr
    assert_previous_still_serves(app, outputs)


def test_a_never_ready_image_leaves_the_previous_deployment_serving(app: App) -> None:
    outputs = app.outputs()
    app.server_deploy_file(mode="never-ready")
    result = app.deploy()
    assert result.returncode == 1
    assert "Readiness probe failed" in result.stderr
    assert "GET /ready" in result.stderr  # the container's own log
    assert "inference_config" in result.stderr  # the fix
    assert_previous_still_serves(app, outputs)


def test_a_failing_smoke_test_leaves_the_previous_deployment_serving(app: App) -> None:
    outputs = app.outputs()
    app.server_deploy_file(score_status=500)
    result = app.deploy()
    assert result.returncode == 1
    assert "the smoke test of deployment green failed" in result.stderr
    assert "the model answered 500" in result.stderr
    assert "POST /score" in result.stderr  # the container's log
    assert_previous_still_serves(app, outputs)


def test_a_wrong_federated_subject_says_which_subject_to_add(app: App) -> None:
    app.emulator.github_job({"environment": "staging"})
    result = app.deploy()
    assert result.returncode == 1
    assert "AADSTS70021" in result.stderr
    assert "subject 'repo:octo-org/octo-repo:environment:staging'" in result.stderr
    assert "az ad app federated-credential create" in result.stderr
    assert app.endpoint("models") is None  # refused before anything changed


def test_plan_changes_nothing(app: App) -> None:
    app.outputs()
    app.server_deploy_file(color="two")
    since = app.emulator.last_request()
    result = app.run("plan")
    assert result.returncode == 0, result.stderr
    assert "create deployment green at 0% traffic" in result.stdout
    assert "delete deployment blue" in result.stdout
    assert mutating_arm_calls(app, since) == []


def test_a_cloud_left_in_the_environment_by_another_process_is_ignored(app: App) -> None:
    # azure-ai-ml fails while being imported on an AZUREML_CURRENT_CLOUD it does not know,
    # e.g. one a notebook or an earlier MLClient for another emulator registered.
    result = app.run("plan", env={"AZUREML_CURRENT_CLOUD": "AzureMLEmulator1"})
    assert result.returncode == 0, result.stderr
    assert "create the endpoint" in result.stdout


def test_build_args_from_the_environment(app: App) -> None:
    result = app.run(
        "deploy",
        "--no-summary",
        env={"AZUREML_DEPLOY_BUILD_ARGS": "COLOR_UNUSED=1"},
    )
    assert result.returncode == 0, result.stderr
