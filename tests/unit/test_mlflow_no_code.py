"""The environment Azure ML generates for a no-code MLflow deployment, from the model folder
alone (the build and the scoring: tests/emulator/test_mlflow_no_code.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from emulator.envbuild import MlflowModelInvalid, no_code_mlflow
from emulator.envbuild.conda import pip_install
from emulator.envbuild.mlflow import SERVER
from emulator.inference_images import MLFLOW_PY312

MODEL = Path(__file__).resolve().parents[1] / "images" / "mlflow-sklearn-model" / "model"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(MODEL, folder)
    return folder


def pip_list(conda_file: str | None) -> list[str]:
    assert conda_file is not None
    return list(pip_install(conda_file).requirements)


def test_the_models_conda_file_with_the_servers_packages() -> None:
    generated = no_code_mlflow(MODEL)
    assert generated.environment.image == MLFLOW_PY312
    assert pip_list(generated.environment.conda_file) == [
        "mlflow-skinny==3.18.0",  # the model's pins are kept as they are
        "cloudpickle==3.1.3",
        "pandas==3.1.1",
        "scikit-learn==1.9.1",
        SERVER,
        "numpy",  # the scoring script reads input with it; the model did not name it
    ]
    assert pip_install(generated.environment.conda_file or "").python == "3.11.7"
    assert generated.variables() == {
        "AML_APP_ROOT": "/var/mlflow_resources",
        "AZUREML_ENTRY_SCRIPT": "mlflow_score_script.py",
        "MLFLOW_MODEL_FOLDER": "model",
    }


def test_the_same_model_names_the_same_image(model: Path) -> None:
    assert no_code_mlflow(model).environment.image_name() == (
        no_code_mlflow(MODEL).environment.image_name()
    )
    conda = model / "conda.yaml"
    conda.write_text(conda.read_text().replace("pandas==3.1.1", "pandas==3.1.0"))
    assert no_code_mlflow(model).environment.image_name() != (
        no_code_mlflow(MODEL).environment.image_name()
    )


def test_requirements_txt_when_there_is_no_conda_file(model: Path) -> None:
    (model / "conda.yaml").unlink()
    (model / "requirements.txt").write_text("mlflow==2.22.0  # full mlflow\n\nscikit-learn\n")
    conda = no_code_mlflow(model).environment.conda_file
    assert pip_install(conda or "").python == "3.11.7"  # the flavor's python_version
    # mlflow is named: mlflow-skinny is not added beside it.
    assert pip_list(conda) == ["mlflow==2.22.0", "scikit-learn", SERVER, "pandas", "numpy"]


def test_mlflow_1_names_its_conda_file_as_a_string(model: Path) -> None:
    spec = yaml.safe_load((model / "MLmodel").read_text())
    spec["flavors"]["python_function"]["env"] = "env.yaml"
    (model / "MLmodel").write_text(yaml.safe_dump(spec))
    (model / "env.yaml").write_text("dependencies:\n- python=3.11\n- numpy=1.26\n")
    conda = no_code_mlflow(model).environment.conda_file
    assert pip_list(conda) == ["numpy==1.26.*", SERVER, "mlflow-skinny", "pandas"]


def test_a_model_without_mlmodel_is_refused(model: Path) -> None:
    (model / "MLmodel").unlink()
    with pytest.raises(MlflowModelInvalid, match='Could not find an "MLmodel" configuration'):
        no_code_mlflow(model)


@pytest.mark.parametrize(
    "mlmodel",
    ["flavors: [unclosed", "just text", "flavors:\n  sklearn:\n    pickled_model: model.pkl\n"],
)
def test_an_unreadable_mlmodel_or_no_pyfunc_flavor_is_refused(model: Path, mlmodel: str) -> None:
    (model / "MLmodel").write_text(mlmodel)
    with pytest.raises(MlflowModelInvalid):
        no_code_mlflow(model)


def test_a_conda_file_outside_the_model_is_refused(model: Path) -> None:
    spec = yaml.safe_load((model / "MLmodel").read_text())
    spec["flavors"]["python_function"]["env"] = {"conda": "../../etc/conda.yaml"}
    (model / "MLmodel").write_text(yaml.safe_dump(spec))
    with pytest.raises(MlflowModelInvalid, match="outside the model"):
        no_code_mlflow(model)


def test_a_conda_file_that_is_no_specification_is_refused(model: Path) -> None:
    (model / "conda.yaml").write_text("dependencies: 3\n")
    with pytest.raises(MlflowModelInvalid, match="dependencies"):
        no_code_mlflow(model)
