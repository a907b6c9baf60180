"""No-code MLflow deployment as Azure ML does it: the environment generated from the model's own
conda file on the mlflow-py312-inference image, built like any environment, and the image's
scoring script serving a real MLflow scikit-learn model (tests/images/mlflow-sklearn-model)
with Azure's documented `input_data` payloads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import docker
import pytest

from emulator.envbuild import (
    EnvironmentBuildFailed,
    RegistryTarget,
    build_environment,
    no_code_mlflow,
)
from emulator.inference_images import (
    CURATED_ENVIRONMENTS,
    MLFLOW_PY312,
)
from tests.emulator.inference import APP_ROOT, ask, running

pytestmark = pytest.mark.docker

MODEL = Path(__file__).resolve().parents[1] / "images" / "mlflow-sklearn-model" / "model"
# Where Azure mounts a registered model (AZUREML_MODEL_DIR); the MLflow folder is under it.
MODEL_DIR = f"{APP_ROOT}/azureml-models/sklearn-linear/1"


def model_files(folder: Path) -> dict[str, bytes]:
    return {
        f"{MODEL_DIR}/{folder.name}/{path.name}": path.read_bytes()
        for path in folder.iterdir()
        if path.is_file()
    }


def test_the_mlflow_image_has_azure_names_and_the_scoring_script(
    images: tuple[str, ...],
) -> None:
    assert MLFLOW_PY312 in images
    assert CURATED_ENVIRONMENTS["mlflow-py312-inference"] == MLFLOW_PY312
    config = docker.from_env().images.get(MLFLOW_PY312).attrs["Config"]
    variables = dict(line.split("=", 1) for line in config["Env"])
    assert variables["AML_APP_ROOT"] == "/var/mlflow_resources"
    assert variables["AZUREML_ENTRY_SCRIPT"] == "mlflow_score_script.py"
    assert variables["PATH"].startswith("/azureml-envs/mlflow/bin:")
    assert (config["User"], config["Cmd"]) == ("dockeruser", ["runsvdir", "/var/runit"])
    probe = docker.from_env().containers.run(
        MLFLOW_PY312,
        ["python", "-c", "import mlflow; print(mlflow.__version__)"],
        network_mode="none",
        remove=True,
    )
    assert probe.decode().strip() == "3.18.0"


@pytest.mark.long
def test_the_generated_environment_serves_the_model(registry: RegistryTarget) -> None:
    generated = no_code_mlflow(MODEL)
    built = build_environment(generated.environment, registry)
    if built.built:  # the first time on this machine
        assert built.log is not None and "scikit-learn==1.9.1" in built.log
    again = build_environment(generated.environment, registry)
    assert (again.built, again.digest) == (False, built.digest)

    docker.from_env().images.pull(built.image, auth_config=dict(registry.auth_config))
    variables = {**generated.variables(), "AZUREML_MODEL_DIR": MODEL_DIR}
    with running(built.image, model_files(MODEL), variables) as container:
        split = {"columns": ["a", "b", "c"], "index": [7, 8], "data": [[1, 1, 1], [1, 0, 0]]}
        status, answer = ask(container, "POST", "/score", {"input_data": split})
        log = container.logs().decode()
        assert status == 200, log
        assert json.loads(answer) == pytest.approx([6.5, 1.5])  # a + 2b + 3c + 0.5
        # Named tensors (a dict of lists) are numpy arrays by name, which mlflow maps onto the
        # signature's columns.
        named = {"a": [1, 0], "b": [0, 0], "c": [1, 0]}
        status, answer = ask(container, "POST", "/score", {"input_data": named})
        assert (status, json.loads(answer)) == (200, pytest.approx([4.5, 0.5]))
        # A tensor (a list) is one numpy array: against the columns of this model's signature
        # the invocation fails, as Azure documents for inputs the signature does not admit.
        status, answer = ask(container, "POST", "/score", {"input_data": [[0, 1, 0]]})
        assert status == 500
        assert "Failed to enforce schema" in container.logs().decode()
        # The server asks for the parameter the script's run() declares.
        status, answer = ask(container, "POST", "/score", {"data": [[0, 1, 0]]})
        assert status == 400
        assert "'input_data'" in answer
        log = container.logs().decode()
    assert "Entry Script Name: /var/mlflow_resources/mlflow_score_script.py" in log
    assert f"Model Directory: {MODEL_DIR}" in log


def test_a_package_that_does_not_exist_fails_the_build(
    registry: RegistryTarget, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(MODEL, model)
    conda = (model / "conda.yaml").read_text()
    (model / "conda.yaml").write_text(
        conda.replace("  - scikit-learn==1.9.1\n", "  - azureml-deploy-no-such-package-0\n")
    )
    generated = no_code_mlflow(model)
    with pytest.raises(EnvironmentBuildFailed) as failure:
        build_environment(generated.environment, registry)
    error = failure.value
    assert "azureml-deploy-no-such-package-0" in error.log_tail
    assert "Installing pip dependencies: ...working..." in error.log
    image_id = generated.environment.image_name().split("/")[1]
    assert error.location.path == f"ImageLogs/{image_id}/build.log"
