"""`validate` of the deploy file's Azure ML assets, offline: what runs, references, and the
files beside the deploy file (model, code, scoring script, conda file, build context)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deployer.spec import load_deploy_spec
from deployer.spec.model import INFERENCE_SERVER_ROUTES, ModelType
from tests.unit.deployfiles import Workspace

SEED = Path(__file__).resolve().parents[1] / "images" / "azureml-model"

SCORING_SCRIPT = """\
version: 1
endpoint: {name: credit-risk}
deployment:
  instance_type: Standard_DS3_v2
  model: model/
  code_configuration: {code: onlinescoring, scoring_script: score.py}
  environment:
    image: mcr.microsoft.com/azureml/minimal-py312-inference:latest
    conda_file: environment/conda.yaml
"""
IMAGE = (
    "image: {ref: contosoml.azurecr.io/credit-risk@sha256:"
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}\n"
)


def before(text: str, marker: str) -> str:
    return text[: text.index(marker)]


@pytest.fixture
def seed(workspace: Workspace) -> Workspace:
    """The seed's files (Azure/azureml-examples model-1's layout) in the workspace."""
    for path in SEED.rglob("*"):
        if path.is_file():
            workspace.write(path.relative_to(SEED).as_posix(), path.read_bytes())
    return workspace


def test_the_seeds_scoring_script_deployment_is_valid_and_read(seed: Workspace) -> None:
    report = seed.validate(SCORING_SCRIPT)
    assert not report.problems, report.problems
    spec = load_deploy_spec(seed.root / "deploy.yml", None, workspace=seed.root)
    deployment = spec.deployment
    assert not spec.image.given
    assert deployment.model is not None and deployment.model.path == seed.root / "model"
    assert deployment.code_configuration is not None
    assert deployment.code_configuration.code == seed.root / "onlinescoring"
    assert deployment.environment is not None
    assert deployment.environment.conda_file == seed.root / "environment" / "conda.yaml"
    # Azure ML's inference server's own routes, without inference_config
    assert deployment.inference_config == INFERENCE_SERVER_ROUTES


def test_an_mlflow_model_deploys_alone_and_references_are_read(seed: Workspace) -> None:
    mlflow = before(SCORING_SCRIPT, "  model:") + "  model: {path: model, type: mlflow_model}\n"
    assert seed.errors(mlflow) == []
    spec = load_deploy_spec(seed.root / "deploy.yml", None, workspace=seed.root)
    assert spec.deployment.model is not None
    assert spec.deployment.model.type is ModelType.MLFLOW

    registered = (
        SCORING_SCRIPT.replace("model: model/", "model: azureml:credit-risk@latest").split(
            "  environment:"
        )[0]
        + "  environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest\n"
    )
    assert seed.errors(registered) == []
    spec = load_deploy_spec(seed.root / "deploy.yml", None, workspace=seed.root)
    assert spec.deployment.model is not None
    assert spec.deployment.model.reference == "azureml:credit-risk@latest"


def test_a_deployment_that_runs_nothing_says_what_it_could_run(seed: Workspace) -> None:
    text = before(SCORING_SCRIPT, "  code_configuration")  # a custom model alone
    [(line, column, message)] = seed.errors(text)
    assert (line, column) == (3, 1)
    assert message.startswith("deployment says nothing about what runs; give `image`")
    assert "type: mlflow_model" in message


def test_image_and_environment_are_exclusive_and_image_needs_routes(seed: Workspace) -> None:
    errors = seed.errors(SCORING_SCRIPT + IMAGE)
    messages = [message for _, _, message in errors]
    assert any(
        m.startswith("deployment.environment and `image` both say what runs") for m in messages
    )
    assert any(
        m.startswith("deployment.inference_config is required with `image`") for m in messages
    )


def test_code_needs_an_environment_and_mount_path_needs_a_custom_container(
    seed: Workspace,
) -> None:
    text = before(SCORING_SCRIPT, "  environment:") + "  model_mount_path: /var/models\n"
    messages = {message.split(" ", 1)[0]: message for _, _, message in seed.errors(text)}
    assert "needs `deployment.environment`" in messages["deployment.code_configuration"]
    assert "only applies to a custom container" in messages["deployment.model_mount_path"]


def test_a_scoring_script_outside_its_code_folder_is_refused(seed: Workspace) -> None:
    text = SCORING_SCRIPT.replace(
        "scoring_script: score.py", "scoring_script: ../model/linear.json"
    )
    [(line, _, message)] = seed.errors(text)
    assert line == 6
    assert "outside onlinescoring/, the folder uploaded with it" in message
    # a symlink out of the code folder is the same thing
    os.symlink(seed.root / "model" / "linear.json", seed.root / "onlinescoring" / "link.py")
    text = SCORING_SCRIPT.replace("scoring_script: score.py", "scoring_script: link.py")
    [(_, _, message)] = seed.errors(text)
    assert "outside onlinescoring/" in message


def test_paths_stay_in_the_workspace_and_must_exist(seed: Workspace) -> None:
    text = SCORING_SCRIPT.replace("model: model/", "model: ../../etc").replace(
        "code: onlinescoring", "code: missing"
    )
    messages = [message for _, _, message in seed.errors(text)]
    assert "deployment.model points outside the workspace (../../etc)" in messages
    assert (
        "deployment.code_configuration.code names missing, but missing does not exist" in messages
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("name: env\ndependencies: [python=3.12\n", "is not valid YAML at its line 3"),
        ("name: env\nchannels: [conda-forge]\n", "has no `dependencies` list"),
        ("- numpy\n", "is not a conda environment file"),
        ("dependencies:\n  - pip: numpy\n", "has a `pip` entry that is not a list"),
    ],
)
def test_a_conda_file_conda_would_refuse_is_named_at_its_line(
    seed: Workspace, content: str, reason: str
) -> None:
    seed.write("environment/conda.yaml", content)
    [(line, column, message)] = seed.errors(SCORING_SCRIPT)
    assert (line, column) == (9, 17)
    assert message.startswith("deployment.environment.conda_file names environment/conda.yaml")
    assert reason in message


@pytest.mark.parametrize(
    ("model", "environment", "expected"),
    [
        ("azureml:credit-risk", None, "deployment.model is not a reference the action reads"),
        ("azureml:credit-risk:7", "sklearn-env:3", "deployment.environment is not a reference"),
        (
            "azureml://registries/shared/environments/x/versions/1",
            None,
            "deployment.model names registry environments, not models",
        ),
    ],
)
def test_references_are_checked_offline(
    seed: Workspace, model: str, environment: str | None, expected: str
) -> None:
    text = SCORING_SCRIPT.replace("model: model/", f"model: {model}")
    if environment is not None:
        text = text.split("  environment:")[0] + f"  environment: {environment}\n"
    messages = [message for _, _, message in seed.errors(text)]
    assert any(m.startswith(expected) for m in messages), messages


def test_an_environment_build_context_is_checked(seed: Workspace) -> None:
    build = before(SCORING_SCRIPT, "  environment:") + "  environment: {build: {path: docker}}\n"
    seed.write("docker/requirements.txt", "numpy\n")
    [(_, _, message)] = seed.errors(build)
    assert message == (
        "deployment.environment.build.dockerfile_path names Dockerfile (the default), but "
        "docker/Dockerfile does not exist"
    )
    seed.write("docker/Dockerfile", "FROM scratch\n")
    assert seed.errors(build) == []
    both = build.replace("{build: {path: docker}}", "{build: {path: docker}, image: x}")
    [(_, _, message)] = seed.errors(both)
    assert message.startswith("deployment.environment.build and `image` are alternatives")


def test_an_overlay_switches_the_environment_from_image_to_build(seed: Workspace) -> None:
    seed.write("docker/Dockerfile", "FROM scratch\n")
    text = SCORING_SCRIPT.replace("    conda_file: environment/conda.yaml\n", "") + (
        "environments:\n  gpu:\n    deployment: {environment: {build: {path: docker}}}\n"
    )
    assert seed.errors(text, "gpu") == []
    spec = load_deploy_spec(seed.root / "deploy.yml", "gpu", workspace=seed.root)
    assert spec.deployment.environment is not None
    assert spec.deployment.environment.image is None
    assert spec.deployment.environment.build_context == seed.root / "docker"


def test_build_on_runner_builds_a_build_context_only(seed: Workspace) -> None:
    text = SCORING_SCRIPT.replace(
        "    conda_file: environment/conda.yaml\n",
        "    conda_file: environment/conda.yaml\n    build_on: runner\n",
    )
    [(line, _, message)] = seed.errors(text)
    assert line == 10
    assert message.startswith("deployment.environment.build_on runner builds a build context")
    seed.write("docker/Dockerfile", "FROM scratch\n")
    context = before(SCORING_SCRIPT, "  environment:") + (
        "  environment: {build: {path: docker}, build_on: runner}\n"
    )
    assert seed.errors(context) == []
    spec = load_deploy_spec(seed.root / "deploy.yml", None, workspace=seed.root)
    assert spec.deployment.environment is not None
    assert spec.deployment.environment.build_on == "runner"


def test_routes_apply_to_an_environment_the_deploy_file_describes(seed: Workspace) -> None:
    routes = (
        "  inference_config:\n"
        "    liveness_route: {port: 8080, path: /live}\n"
        "    readiness_route: {port: 8080, path: /ready}\n"
        "    scoring_route: {port: 8080, path: /predict}\n"
    )
    assert seed.errors(SCORING_SCRIPT + routes) == []
    referenced = before(SCORING_SCRIPT, "  environment:") + (
        "  environment: azureml:sklearn-env:3\n" + routes
    )
    [(line, _, message)] = seed.errors(referenced)
    assert line == 8
    assert message.startswith("deployment.inference_config does not apply to a registered")


def test_an_mlflow_model_alone_is_refused_where_the_deployment_has_no_egress(
    seed: Workspace,
) -> None:
    """Azure ML installs a no-code MLflow model's packages when it starts: without egress it
    cannot (Learn, how-to-deploy-mlflow-models)."""
    mlflow = before(SCORING_SCRIPT, "  model:") + "  model: {path: model, type: mlflow_model}\n"
    locked = mlflow + "  egress_public_network_access: disabled\n"
    ((line, _, message),) = seed.errors(locked)
    assert line == 6  # at the setting
    assert "egress_public_network_access" in message and "needs egress" in message
    assert "deployment.environment" in message  # the fix
    registered = locked.replace("{path: model, type: mlflow_model}", "azureml:credit-risk:3")
    assert len(seed.errors(registered)) == 1
    # with an environment Azure ML builds into the workspace's registry, it is fine
    assert seed.errors(SCORING_SCRIPT + "  egress_public_network_access: disabled\n") == []
