"""Deployments of a registered model, a scoring script and an environment Azure ML builds — the
way most Azure ML users deploy (Azure/azureml-examples cli/endpoints/online/model-1) — with the
real azure-ai-ml against the emulator: the model and code mounted where Azure mounts them, the
environment built into the workspace's registry, Azure ML's inference server answering."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from azure.ai.ml import MLClient
from azure.ai.ml.entities import (
    BuildContext,
    CodeConfiguration,
    Environment,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
    ProbeSettings,
)
from azure.core.exceptions import HttpResponseError

from emulator.client import Emulator
from emulator.inference_images import MINIMAL_PY312

SEED = Path(__file__).resolve().parents[1] / "images" / "azureml-model"
ROWS = {"data": [[1, 2, 3], [4, 5, 6]]}
# linear.json: coefficients [1, 2, 3], intercept 0.5
ANSWER = [14.5, 32.5]


def _deploy(ml: MLClient, endpoint: str, **assets: object) -> ManagedOnlineDeployment:
    """A new key endpoint and its deployment `blue` of `assets`."""
    ml.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name=endpoint, auth_mode="key")
    ).result()
    deployment = ManagedOnlineDeployment(
        name="blue",
        endpoint_name=endpoint,
        instance_type="Standard_DS3_v2",
        instance_count=1,
        **assets,  # type: ignore[arg-type]
    )
    result: ManagedOnlineDeployment = ml.online_deployments.begin_create_or_update(
        deployment
    ).result()
    return result


def _deploy_seed(ml: MLClient, endpoint: str, **assets: object) -> ManagedOnlineDeployment:
    """`_deploy` with the seed's parts for what `assets` does not name: the model folder
    inline, the conda environment, the scoring code."""
    defaults: dict[str, object] = {
        "model": Model(path=str(SEED / "model")),
        "code_configuration": _code(),
    }
    if "environment" not in assets:
        defaults["environment"] = _conda_environment(ml)
    return _deploy(ml, endpoint, **{**defaults, **assets})


def _invoke(ml: MLClient, endpoint: str, tmp_path: Path) -> object:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(ROWS))
    return json.loads(
        ml.online_endpoints.invoke(endpoint, request_file=str(request), deployment_name="blue")
    )


def _code() -> CodeConfiguration:
    return CodeConfiguration(code=str(SEED / "onlinescoring"), scoring_script="score.py")


def _conda_environment(ml: MLClient, name: str = "model-env") -> Environment:
    created: Environment = ml.environments.create_or_update(
        Environment(
            name=name,
            image=MINIMAL_PY312,
            conda_file=str(SEED / "environment" / "conda.yaml"),
        )
    )
    return created


def test_the_seeds_flow_answers_from_the_mounted_model(emulator: Emulator, tmp_path: Path) -> None:
    ml = emulator.ml_client()
    model = ml.models.create_or_update(
        Model(name="linear", path=str(SEED / "model"), type="custom_model")
    )
    environment = _conda_environment(ml)
    deployment = _deploy(
        ml,
        "seed-flow",
        model=f"azureml:{model.name}:{model.version}",
        environment=f"azureml:{environment.name}:{environment.version}",
        code_configuration=_code(),
    )
    assert deployment.provisioning_state == "Succeeded"
    assert _invoke(ml, "seed-flow", tmp_path) == ANSWER
    storage = ml.online_deployments.get_logs(
        "blue", "seed-flow", lines=100, container_type="storage-initializer"
    )
    assert f"models/{model.name}/versions/{model.version}" in storage
    server = ml.online_deployments.get_logs("blue", "seed-flow", lines=200)
    assert "/var/azureml-app/onlinescoring/score.py" in server


def test_an_inline_model_and_the_latest_label(emulator: Emulator, tmp_path: Path) -> None:
    ml = emulator.ml_client()
    # An inline model (a local path) is registered as an anonymous version by the SDK.
    inline = _deploy_seed(ml, "inline-model")
    assert inline.provisioning_state == "Succeeded"
    assert _invoke(ml, "inline-model", tmp_path) == ANSWER

    ml.models.create_or_update(Model(name="linear", path=str(SEED / "model")))
    latest = ml.models.get("linear", label="latest")
    # The SDK resolves name@label (written without the azureml: prefix).
    by_label = _deploy_seed(ml, "latest-model", model="linear@latest")
    assert by_label.model.endswith(f"/models/linear/versions/{latest.version}")
    assert _invoke(ml, "latest-model", tmp_path) == ANSWER


def test_a_registry_model(emulator: Emulator, tmp_path: Path) -> None:
    registry = emulator["ml_registry"]
    shared = emulator.ml_client(registry_name=registry).models.create_or_update(
        Model(name="linear-shared", version="3", path=str(SEED / "model"))
    )
    ml = emulator.ml_client()
    deployment = _deploy_seed(ml, "registry-model", model=shared.id)
    assert deployment.model == shared.id
    assert _invoke(ml, "registry-model", tmp_path) == ANSWER


def test_a_build_context_environment(emulator: Emulator, tmp_path: Path) -> None:
    context = tmp_path / "environment"
    context.mkdir()
    (context / "Dockerfile").write_text(
        f"FROM {MINIMAL_PY312}\n"
        "# the minimal image already carries the inference server and numpy\n"
        "ENV EXTRA=from-the-build-context\n"
    )
    ml = emulator.ml_client()
    environment = ml.environments.create_or_update(
        Environment(name="context-env", build=BuildContext(path=str(context)))
    )
    deployment = _deploy_seed(ml, "build-context", environment=environment)
    assert deployment.provisioning_state == "Succeeded"
    assert _invoke(ml, "build-context", tmp_path) == ANSWER


def test_a_scoring_script_that_raises_in_init_shows_its_traceback(
    emulator: Emulator, tmp_path: Path
) -> None:
    code = tmp_path / "broken"
    shutil.copytree(SEED / "onlinescoring", code)
    (code / "score.py").write_text(
        "def init():\n    raise RuntimeError('the model file is corrupt')\n\n"
        "def run(raw_data):\n    return raw_data\n"
    )
    ml = emulator.ml_client()
    with pytest.raises(HttpResponseError) as failure:
        _deploy_seed(
            ml,
            "init-fails",
            code_configuration=CodeConfiguration(code=str(code), scoring_script="score.py"),
            # The server keeps restarting its worker; the probe gives up after 5 tries.
            readiness_probe=ProbeSettings(failure_threshold=5, period=1, initial_delay=1),
        )
    assert "ResourceNotReady" in str(failure.value)
    assert "RuntimeError: the model file is corrupt" in str(failure.value)
    logs = ml.online_deployments.get_logs("blue", "init-fails", lines=200)
    assert "Traceback" in logs
    assert "RuntimeError: the model file is corrupt" in logs


def test_an_environment_build_that_fails_points_at_its_log(
    emulator: Emulator, tmp_path: Path
) -> None:
    conda = tmp_path / "conda.yaml"
    conda.write_text(
        "name: broken\ndependencies:\n  - pip\n  - pip:\n"
        "    - azureml-inference-server-http==1.5.1\n"
        "    - this-package-does-not-exist-anywhere==0.0.1\n"
    )
    ml = emulator.ml_client()
    environment = ml.environments.create_or_update(
        Environment(name="broken-env", image=MINIMAL_PY312, conda_file=str(conda))
    )
    with pytest.raises(HttpResponseError) as failure:
        _deploy_seed(ml, "build-fails", environment=environment)
    message = str(failure.value)
    assert "ImageBuildFailure" in message
    assert "in the container 'azureml' at the path 'ImageLogs/azureml_" in message
    path = message.split("at the path '", 1)[1].split("'", 1)[0]
    account = ml.datastores.get_default().account_name
    assert f"storage account '{account}'" in message
    log = emulator.storage_blob(account, "azureml", path)
    assert "this-package-does-not-exist-anywhere" in log


MLFLOW_MODEL = Path(__file__).resolve().parents[1] / "images" / "mlflow-sklearn-model" / "model"


@pytest.mark.long
def test_a_no_code_mlflow_model(emulator: Emulator, tmp_path: Path) -> None:
    """No environment, no scoring script: Azure ML generates both (how-to-deploy-mlflow-
    models.md); the answer is the scikit-learn model's, y = a + 2b + 3c + 0.5."""
    ml = emulator.ml_client()
    model = ml.models.create_or_update(
        Model(name="sklearn-mlflow", path=str(MLFLOW_MODEL), type="mlflow_model")
    )
    deployment = _deploy(ml, "no-code-mlflow", model=model)
    assert deployment.provisioning_state == "Succeeded"
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps({"input_data": {"columns": ["a", "b", "c"], "index": [0], "data": [[1, 1, 1]]}})
    )
    answer = ml.online_endpoints.invoke(
        "no-code-mlflow", request_file=str(request), deployment_name="blue"
    )
    assert json.loads(answer) == pytest.approx([6.5])


def test_a_curated_environment_of_the_azureml_registry(emulator: Emulator, tmp_path: Path) -> None:
    """The way azureml-examples deploy with Azure ML's own environments: by the registry's
    label, the image Azure ML publishes for it, no build."""
    ml = emulator.ml_client()
    deployment = _deploy_seed(
        ml,
        "curated-env",
        environment="azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
    )
    assert deployment.provisioning_state == "Succeeded"
    assert _invoke(ml, "curated-env", tmp_path) == ANSWER
    storage = ml.online_deployments.get_logs(
        "blue", "curated-env", lines=100, container_type="storage-initializer"
    )
    assert "mcr.microsoft.com/azureml/curated/sklearn-1.5:latest" in storage
    assert "Building image" not in storage
