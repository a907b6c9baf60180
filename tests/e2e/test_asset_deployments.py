"""The action deploying Azure ML's assets — a model, a scoring script and an environment Azure
ML builds — with the real command line against the emulator, as Azure/azureml-examples
cli/endpoints/online/model-1 lays them out: registered by their content, resolved to exact
versions, rolled out like an image."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest
import requests
from azure.ai.ml.entities import Model
from azure.core.exceptions import ResourceNotFoundError

from tests.e2e.conftest import App
from tools.checks import mutating_arm_calls

SEED = Path(__file__).resolve().parents[1] / "images" / "azureml-model"
MLFLOW = Path(__file__).resolve().parents[1] / "images" / "mlflow-sklearn-model"
ROWS = {"data": [[1, 2, 3], [4, 5, 6]]}
ANSWER = [14.5, 32.5]  # linear.json: coefficients [1, 2, 3], intercept 0.5

SCORING_DEPLOY = """\
version: 1
endpoint: {{name: {name}}}
deployment:
  instance_type: Standard_DS3_v2
  model: {model}
  code_configuration: {{code: onlinescoring, scoring_script: score.py}}
  environment: {environment}
  # a server that starts slowly on a busy test machine is given 30 s; one whose init()
  # raises never answers (the init() test asks for less)
  readiness_probe: {{initial_delay: 1, period: 1, failure_threshold: {readiness_failures}}}
rollout: {{strategy: blue-green, timeout_minutes: 5}}
smoke_test: {{request: request.json, attempts: 2, timeout_seconds: 10}}
environments:
  preview:
    endpoint: {{name: "{name}-pr{{pr}}"}}
    rollout: {{strategy: replace}}
    ttl_hours: 1
"""
CONDA_ENVIRONMENT = (
    "{image: mcr.microsoft.com/azureml/minimal-py312-inference:latest, "
    "conda_file: environment/conda.yaml}"
)


def scoring_app(
    app: App,
    *,
    name: str = "seed",
    model: str = "model/",
    environment: str = CONDA_ENVIRONMENT,
    readiness_failures: int = 30,
) -> Path:
    """The seed's model, scoring script and conda file in `seed/`, with its deploy file."""
    folder = app.root / "seed"
    if not folder.exists():
        shutil.copytree(SEED, folder)
        (folder / "request.json").write_text(json.dumps(ROWS))
    deploy_file = folder / "deploy.yml"
    deploy_file.write_text(
        SCORING_DEPLOY.format(
            name=name,
            model=model,
            environment=environment,
            readiness_failures=readiness_failures,
        )
    )
    app.commit(f"deploy {name}")
    return deploy_file


def build_context_app(app: App, *, name: str, environment: str) -> None:
    """`scoring_app` whose environment is the build context `seed/docker`: a Dockerfile on
    Azure ML's minimal image, which carries the inference server and numpy."""
    scoring_app(app, name=name, environment=environment)
    context = app.root / "seed" / "docker"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM mcr.microsoft.com/azureml/minimal-py312-inference:latest\nENV EXTRA={name}\n"
    )
    app.commit("a build context")


def _arm_id(app: App, short: str, kind: str) -> str:
    _, name, version = short.split(":")
    c = app.emulator.connection
    return (
        f"/subscriptions/{c['subscription_id']}/resourceGroups/{c['resource_group']}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{c['workspace']}"
        f"/{kind}/{name}/versions/{version}"
    )


def score(app: App, outputs: dict[str, str]) -> object:
    response = requests.post(
        outputs["scoring-uri"],
        json=ROWS,
        headers={"Authorization": f"Bearer {outputs['primary-key']}"},
        verify=app.emulator["ca_bundle"],
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def versions(app: App, kind: str, name: str) -> list[str]:
    """The versions of a model, code or environment in the workspace (none: [])."""
    ml = app.emulator.ml_client()
    if kind == "codes":  # azure-ai-ml's CodeOperations cannot list: its REST client can
        c = app.emulator.connection
        found = ml._code._version_operation.list(
            name=name, resource_group_name=c["resource_group"], workspace_name=c["workspace"]
        )
        return sorted(str(v.name) for v in found)
    try:
        return sorted(str(v.version) for v in getattr(ml, kind).list(name=name))
    except ResourceNotFoundError:
        return []


@pytest.mark.long
def test_a_scoring_script_deploys_then_changes_only_what_changed(app: App) -> None:
    scoring_app(app)
    config = "seed/deploy.yml"
    first = app.outputs(config=config)
    assert score(app, first) == ANSWER
    assert first["image"] == "" and first["digest"] == ""
    model, code, environment = first["model"], first["code"], first["environment"]
    assert model.startswith("azureml:seed:") and code.startswith("azureml:seed:")
    assert environment.startswith("azureml:seed:")
    assert json.loads(first["traffic"]) == {"blue": 100}
    registered = {kind: versions(app, kind, "seed") for kind in ("models", "codes", "environments")}
    assert all(len(found) == 1 for found in registered.values()), registered

    # Unchanged: nothing to upload, nothing to register, nothing to change.
    again = app.run("plan", config=config)
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout + again.stderr
    since = app.emulator.last_request()
    rerun = app.deploy(config=config)
    assert rerun.returncode == 0, rerun.stderr
    assert "registering" not in rerun.stdout + rerun.stderr
    assert mutating_arm_calls(app, since) == []
    assert {k: versions(app, k, "seed") for k in registered} == registered

    # score.py alone: only the code is registered, and a new deployment rolls out.
    script = app.root / "seed" / "onlinescoring" / "score.py"
    script.write_text(
        script.read_text().replace("return prediction.tolist()", "return (prediction * 2).tolist()")
    )
    app.commit("double the answer")
    plan = app.run("plan", config=config)
    assert "register the code\n" in plan.stdout + plan.stderr
    second = app.outputs(config=config)
    assert score(app, second) == [2 * value for value in ANSWER]
    assert (second["model"], second["environment"]) == (model, environment)
    assert second["code"] != code
    assert json.loads(second["traffic"]) == {"green": 100}
    assert versions(app, "models", "seed") == registered["models"]
    assert versions(app, "environments", "seed") == registered["environments"]
    assert len(versions(app, "codes", "seed")) == 2


def test_code_uploads_honour_ignore_files_and_never_carry_git(app: App) -> None:
    scoring_app(app, name="ignored")
    code = app.root / "seed" / "onlinescoring"
    (code / ".git").mkdir()
    (code / ".git" / "config").write_text("[credential]\n\thelper = store\n")
    (code / "notes.tmp").write_text("scratch\n")
    (code / ".amlignore").write_text("*.tmp\n")
    app.commit("scratch files")
    outputs = app.outputs(config="seed/deploy.yml")
    files = app.emulator.asset_files(_arm_id(app, outputs["code"], "codes"))
    uploaded = sorted(p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file())
    assert uploaded == ["onlinescoring/.amlignore", "onlinescoring/score.py"]


def test_a_registered_model_by_label_is_recorded_by_version(app: App) -> None:
    ml = app.emulator.ml_client()
    for _ in range(2):
        ml.models.create_or_update(Model(name="linear", path=str(SEED / "model")))
    scoring_app(app, name="labelled", model="azureml:linear@latest")
    outputs = app.outputs(config="seed/deploy.yml")
    assert outputs["model"] == "azureml:linear:2"
    assert score(app, outputs) == ANSWER
    assert versions(app, "models", "labelled") == []  # nothing registered of its own

    ml.models.create_or_update(Model(name="linear", path=str(SEED / "model")))
    plan = app.run("plan", config="seed/deploy.yml")
    assert "create deployment green" in plan.stdout + plan.stderr
    assert app.outputs(config="seed/deploy.yml")["model"] == "azureml:linear:3"


def test_a_registry_model_with_a_curated_environment(app: App) -> None:
    registry = app.emulator["ml_registry"]
    app.emulator.ml_client(registry_name=registry).models.create_or_update(
        Model(name="linear-shared", version="4", path=str(SEED / "model"))
    )
    scoring_app(
        app,
        name="shared",
        model=f"azureml://registries/{registry}/models/linear-shared/versions/4",
        environment="azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
    )
    outputs = app.outputs(config="seed/deploy.yml")
    assert outputs["model"] == f"azureml://registries/{registry}/models/linear-shared/versions/4"
    assert outputs["environment"].startswith(
        "azureml://registries/azureml/environments/sklearn-1.5/versions/"
    )
    assert score(app, outputs) == ANSWER


def test_a_missing_model_is_refused_before_anything_changes(app: App) -> None:
    scoring_app(app, name="missing", model="azureml:no-such-model:1")
    result = app.deploy(config="seed/deploy.yml")
    assert result.returncode == 1, result.stderr
    assert "model azureml:no-such-model:1 was not found in the workspace" in result.stderr
    assert "az ml model list --name no-such-model" in result.stderr
    assert "Traceback" not in result.stderr
    assert app.endpoint("missing") is None


def test_a_pull_request_registers_only_names_of_its_own(app: App, tmp_path: Path) -> None:
    scoring_app(app, name="trusted")
    production = app.outputs(config="seed/deploy.yml")
    ml = app.emulator.ml_client()
    latest = ml.models.get("trusted", label="latest").version

    model = app.root / "seed" / "model" / "linear.json"
    model.write_text(model.read_text().replace("0.5", "1.5"))
    app.commit("a new intercept")
    run = app.in_a_job(
        "deploy",
        tmp_path / "job",
        "--environment",
        "preview",
        pull_request=9,
        config="seed/deploy.yml",
    )
    assert run.result.returncode == 0, run.result.stderr
    preview = run.outputs()
    assert preview["model"].startswith("azureml:trusted-pr9:")
    assert score(app, {**preview, "primary-key": preview["primary-key"]}) == [15.5, 33.5]
    # production's names: no new version, no label moved
    assert versions(app, "models", "trusted") == [production["model"].rsplit(":", 1)[1]]
    assert ml.models.get("trusted", label="latest").version == latest

    # the preview's delete archives its model and environment, and nothing of production's
    closed = app.in_a_job(
        "delete",
        tmp_path / "close",
        "--environment",
        "preview",
        pull_request=9,
        config="seed/deploy.yml",
    )
    assert closed.result.returncode == 0, closed.result.stderr
    assert "archived the preview's model trusted-pr9:" in closed.result.stdout
    assert versions(app, "models", "trusted-pr9") == []
    assert versions(app, "environments", "trusted-pr9") == []
    assert versions(app, "models", "trusted") == [production["model"].rsplit(":", 1)[1]]


# Azure's documented payload for an MLflow model with a column signature (pandas "split").
SPLIT = {"columns": ["a", "b", "c"], "index": [0], "data": [[1, 1, 1]]}


def test_a_no_code_mlflow_model(app: App) -> None:
    folder = app.root / "mlflow"
    shutil.copytree(MLFLOW / "model", folder / "model")
    (folder / "request.json").write_text(json.dumps({"input_data": SPLIT}))
    (folder / "deploy.yml").write_text(
        "version: 1\n"
        "endpoint: {name: no-code}\n"
        "deployment:\n"
        "  instance_type: Standard_DS3_v2\n"
        "  model: {path: model, type: mlflow_model}\n"
        # Azure installs nothing here, but the server still loads MLflow at start: as long
        # as the asset tests' scoring scripts get on a loaded machine.
        "  readiness_probe: {initial_delay: 1, period: 1, failure_threshold: 30}\n"
        "smoke_test: {request: request.json}\n"
    )
    app.commit("an MLflow model")
    outputs = app.outputs(config="mlflow/deploy.yml")
    assert outputs["environment"] == ""
    assert outputs["model"].startswith("azureml:no-code:")
    response = requests.post(
        outputs["scoring-uri"],
        json={"input_data": SPLIT},
        headers={"Authorization": f"Bearer {outputs['primary-key']}"},
        verify=app.emulator["ca_bundle"],
        timeout=30,
    )
    assert response.json() == pytest.approx([6.5])


def test_a_scoring_script_deploys_with_no_docker_on_the_runner(app: App) -> None:
    """Azure ML builds the environment: the runner needs no Docker for this shape."""
    scoring_app(app, name="dockerless")
    outputs = app.outputs(
        config="seed/deploy.yml", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    )
    assert score(app, outputs) == ANSWER


def test_init_raising_fails_with_its_traceback_and_production_keeps_serving(app: App) -> None:
    scoring_app(app, name="init-fails", readiness_failures=5)
    first = app.outputs(config="seed/deploy.yml")
    script = app.root / "seed" / "onlinescoring" / "score.py"
    script.write_text(
        "def init():\n    raise RuntimeError('the model file is corrupt')\n\n"
        "def run(raw_data):\n    return raw_data\n"
    )
    app.commit("a broken scoring script")
    result = app.deploy(config="seed/deploy.yml")
    assert result.returncode == 1
    # the scoring script's traceback, from the container's log, then what failed
    log, _, failure = result.stderr.partition("azureml-deploy: ")
    assert 'File "/var/azureml-app/onlinescoring/score.py", line 2, in init' in log
    assert "RuntimeError: the model file is corrupt" in failure
    assert "Traceback" not in failure
    assert score(app, first) == ANSWER
    endpoint = app.endpoint("init-fails")
    assert endpoint is not None and endpoint["properties"]["traffic"] == {"blue": 100}


def test_a_custom_container_serves_the_model_it_mounts(app: App) -> None:
    """`image` with `deployment.model`: the model registered from the workspace and mounted
    where the deploy file says (model_mount_path), as TF Serving or Triton would read it."""
    shutil.copytree(SEED / "model", app.root / "server" / "model")
    deploy_file = app.root / "server" / "deploy.yml"
    deploy_file.write_text(
        deploy_file.read_text().replace(
            "  instance_count: 1\n",
            "  instance_count: 1\n  model: model/\n  model_mount_path: /var/models\n",
        )
    )
    app.commit("mount the model")
    outputs = app.outputs()
    assert outputs["digest"].startswith("sha256:")
    assert outputs["model"].startswith("azureml:models:")
    answer = app.score(outputs).json()
    assert answer["model_dir"] == "/var/models"
    assert "model/linear.json" in answer["model_files"]
    again = app.run("plan")
    assert "nothing to do" in again.stdout + again.stderr


def test_a_build_context_environment(app: App) -> None:
    build_context_app(app, name="context", environment="{build: {path: docker}}")
    outputs = app.outputs(config="seed/deploy.yml")
    assert outputs["environment"].startswith("azureml:context:")
    assert score(app, outputs) == ANSWER


def test_an_environment_build_that_fails_shows_its_log_and_the_fix(app: App) -> None:
    scoring_app(app, name="build-fails")
    (app.root / "seed" / "environment" / "conda.yaml").write_text(
        "name: broken\ndependencies:\n  - pip\n  - pip:\n"
        "    - azureml-inference-server-http==1.5.1\n"
        "    - this-package-does-not-exist-anywhere==0.0.1\n"
    )
    app.commit("a package that does not exist")
    result = app.deploy(config="seed/deploy.yml")
    assert result.returncode == 1
    log, _, failure = result.stderr.partition("azureml-deploy: ")
    assert "Azure ML builds the new environment's image while it creates the deployment" in log
    # the build log's end, read from the workspace's storage, names the package
    assert "Build log of the environment's image" in log
    assert "this-package-does-not-exist-anywhere" in log
    assert failure.startswith("provisioning deployment blue failed: Image build failed")
    assert "fix deployment.environment (its conda file or Dockerfile)" in failure


def test_a_registry_the_run_may_not_read_says_which_role_to_grant(app: App) -> None:
    registry = app.emulator["ml_registry"]
    app.emulator.admin("POST", "/registries", {"name": registry, "principals": []})
    scoring_app(
        app, name="denied", model=f"azureml://registries/{registry}/models/linear/versions/1"
    )
    result = app.deploy(config="seed/deploy.yml")
    assert result.returncode == 1
    assert "not allowed to access registry" in result.stderr
    assert "grant the AzureML Registry User role on registry" in result.stderr
    assert f"--assignee {app.emulator['client_id']}" in result.stderr
    assert app.endpoint("denied") is None


@pytest.mark.long
def test_rollback_restores_exactly_the_assets_that_served(app: App) -> None:
    deploy_file = scoring_app(app, name="rollback")
    without_previews = deploy_file.read_text().partition("environments:")[0]
    deploy_file.write_text(
        without_previews.replace(
            "rollout: {strategy: blue-green, timeout_minutes: 5}",
            "rollout: {strategy: blue-green, keep_previous: true, timeout_minutes: 5}",
        )
    )
    app.commit("keep the previous deployment")
    first = app.outputs(config="seed/deploy.yml")
    script = app.root / "seed" / "onlinescoring" / "score.py"
    script.write_text(
        script.read_text().replace("return prediction.tolist()", "return (prediction * 2).tolist()")
    )
    app.commit("double the answer")
    result = app.deploy(config="seed/deploy.yml")
    assert result.returncode == 0, result.stderr
    assert app.endpoint("rollback")["properties"]["traffic"] == {"green": 100}
    assert score(app, first) == [2 * value for value in ANSWER]

    rolled = app.run("rollback", config="seed/deploy.yml")
    assert rolled.returncode == 0, rolled.stderr
    assert app.endpoint("rollback")["properties"]["traffic"] == {"blue": 100}
    assert score(app, first) == ANSWER
    # the next deploy compares exact ids: the file still names the doubled script
    plan = app.run("plan", config="seed/deploy.yml")
    assert "nothing to do" not in plan.stdout + plan.stderr


def test_an_environment_built_on_the_runner(app: App) -> None:
    """build_on: runner: the action builds the build context with its BuildKit path, pushes
    it to the workspace's registry, and registers the environment with the image by digest."""
    build_context_app(
        app, name="on-runner", environment="{build: {path: docker}, build_on: runner}"
    )
    result = app.deploy(config="seed/deploy.yml")
    assert result.returncode == 0, result.stderr
    assert "an image built on the runner from seed/docker" in result.stderr
    outputs = app.outputs(config="seed/deploy.yml")
    assert score(app, outputs) == ANSWER
    _, name, version = outputs["environment"].split(":")
    image = app.emulator.ml_client().environments.get(name, version=version).image
    assert image.startswith(app.emulator["registry"] + "/azureml-deploy/on-runner-environment@")


@pytest.mark.long
def test_a_run_killed_after_any_call_is_finished_by_the_next(app: App) -> None:
    """SIGKILL after each mutating call of a score.py change up to its deployment's creation
    (the lease, the code's upload and registration: what this shape adds; the rollout's later
    steps are the image shape's, killed at each in tests/reliability/test_crashes.py), then the
    same deploy again: it converges, registering nothing twice."""
    config = "seed/deploy.yml"
    scoring_app(app, name="killed")
    app.outputs(config=config)
    script = app.root / "seed" / "onlinescoring" / "score.py"
    original = script.read_text()

    def change(factor: int) -> None:
        script.write_text(
            original.replace(
                "return prediction.tolist()", f"return (prediction * {factor}).tolist()"
            )
        )
        app.commit(f"times {factor}")

    change(2)
    since = app.emulator.last_request()
    assert app.deploy(config=config).returncode == 0
    made = mutating_arm_calls(app, since)
    calls = 1 + next(
        index
        for index, call in enumerate(made)
        if call.startswith("PUT ") and "/deployments/" in call
    )
    assert calls >= 3, made  # the lease, the code's upload and version, the deployment
    for kill in range(1, calls + 1):
        change(kill + 2)
        since = app.emulator.last_request()
        process = app.start("deploy", config=config)
        while process.poll() is None and len(mutating_arm_calls(app, since)) < kill:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=120)
        app.record(f"deploy (killed after call {kill})", stdout, stderr)
        outputs = app.outputs(config=config)
        assert score(app, outputs) == [(kill + 2) * value for value in ANSWER], kill
        endpoint = app.endpoint("killed")
        assert endpoint is not None
        serving = [name for name, share in endpoint["properties"]["traffic"].items() if share]
        assert [d["name"] for d in endpoint["deployments"]] == serving, kill
        assert "azureml-deploy.lease-holder" not in endpoint["tags"], kill
    assert len(versions(app, "models", "killed")) == 1
    assert len(versions(app, "codes", "killed")) == calls + 2


def test_a_version_someone_else_registered_under_the_same_id_is_not_trusted(
    app: App, tmp_path: Path
) -> None:
    from deployer.assets.snapshot import snapshot

    scoring_app(app, name="squatted")
    version = snapshot(app.root / "seed" / "model", app.root).version
    other = tmp_path / "model"
    other.mkdir()
    (other / "linear.json").write_text('{"coefficients": [0, 0, 0], "intercept": 666}')
    app.emulator.ml_client().models.create_or_update(
        Model(name="squatted", version=version, path=str(other))
    )
    result = app.deploy(config="seed/deploy.yml")
    assert result.returncode == 1
    assert (
        f"model azureml:squatted:{version} exists, but was not registered by azureml-deploy"
        in result.stderr
    )
    assert app.endpoint("squatted") is None
