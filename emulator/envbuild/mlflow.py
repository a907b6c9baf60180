"""What Azure ML generates for a no-code MLflow deployment: an `mlflow_model` deployed with no
environment and no scoring script.

Azure ML "reads the Conda dependencies that are specified in the MLflow model and adds any
packages that are required to run the inferencing server", on "an MLflow base image or curated
environment" holding mlflow-skinny and a scoring script (how-to-deploy-mlflow-models.md, "No-code
deployment"). The curated image is mlflow-py312-inference (Azure/azureml-assets assets/inference/
environments/mlflow-py312-inference): AML_APP_ROOT=/var/mlflow_resources,
AZUREML_ENTRY_SCRIPT=mlflow_score_script.py, and the script loads the model at
AZUREML_MODEL_DIR/MLFLOW_MODEL_FOLDER. The conda file is the one the model's MLmodel names for
its python_function flavor (`env.conda`, conda.yaml), the file Azure's MLflow image reads too
(assets/training/model_management/environments/mlflow-model-inference/context/runit/gunicorn/run:
`${AZUREML_MODEL_DIR}/${MLFLOW_MODEL_FOLDER}/conda.yaml`); a model with requirements.txt alone
gets a conda file made of it.

    no_code_mlflow(model_folder) -> NoCodeMlflow  (raises MlflowModelInvalid)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from emulator.envbuild.definition import EnvironmentDefinition
from emulator.inference_images import MLFLOW_PY312

APP_ROOT = "/var/mlflow_resources"
ENTRY_SCRIPT = "mlflow_score_script.py"
# What the scoring script needs besides the model's own packages: the server (the version of
# the local inference images), mlflow-skinny, and pandas and numpy, which it reads input with.
SERVER = "azureml-inference-server-http==1.5.1"
_NEEDED = {"mlflow-skinny": "mlflow-skinny", "pandas": "pandas", "numpy": "numpy"}
_MLFLOW = {"mlflow", "mlflow-skinny"}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class MlflowModelInvalid(ValueError):
    """The model folder is not an MLflow model the scoring script can load as a pyfunc."""


@dataclass(frozen=True)
class NoCodeMlflow:
    """What the deployment runs: the environment to build (`build_environment`), and the
    variables that point the image's server at the script and the script at the model. The
    deployment sets AZUREML_MODEL_DIR as for any model; the model folder is under it."""

    environment: EnvironmentDefinition
    model_folder: str  # MLFLOW_MODEL_FOLDER: the folder's name under AZUREML_MODEL_DIR
    app_root: str = APP_ROOT
    entry_script: str = ENTRY_SCRIPT

    def variables(self) -> dict[str, str]:
        return {
            "AML_APP_ROOT": self.app_root,
            "AZUREML_ENTRY_SCRIPT": self.entry_script,
            "MLFLOW_MODEL_FOLDER": self.model_folder,
        }


def no_code_mlflow(model_folder: Path) -> NoCodeMlflow:
    """The generated environment and entry point for the downloaded MLflow model `model_folder`
    (the folder holding MLmodel, mounted under AZUREML_MODEL_DIR with the same name)."""
    flavor = _pyfunc_flavor(model_folder)
    conda = _conda_spec(model_folder, flavor)
    environment = EnvironmentDefinition(image=MLFLOW_PY312, conda_file=_with_server(conda))
    return NoCodeMlflow(environment, model_folder.name)


def _pyfunc_flavor(folder: Path) -> dict[str, Any]:
    mlmodel = folder / "MLmodel"
    if not mlmodel.is_file():
        # mlflow's own words when it finds no MLmodel (mlflow.pyfunc.load_model).
        where = f"{folder.name}/MLmodel"
        raise MlflowModelInvalid(f'Could not find an "MLmodel" configuration file at "{where}"')
    try:
        spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MlflowModelInvalid(f"the MLmodel file is not valid YAML: {exc}") from None
    flavors = spec.get("flavors") if isinstance(spec, dict) else None
    flavor = flavors.get("python_function") if isinstance(flavors, dict) else None
    if not isinstance(flavor, dict):
        raise MlflowModelInvalid('Model does not have the "python_function" flavor')
    return flavor


def _conda_spec(folder: Path, flavor: dict[str, Any]) -> dict[str, Any]:
    env = flavor.get("env")
    name = env.get("conda") if isinstance(env, dict) else env  # MLflow < 2: `env: conda.yaml`
    conda = _inside(folder, str(name or "conda.yaml"))
    if conda.is_file():
        try:
            spec = yaml.safe_load(conda.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise MlflowModelInvalid(f"{conda.name} is not valid YAML: {exc}") from None
        if not isinstance(spec, dict) or not isinstance(spec.get("dependencies", []), list):
            raise MlflowModelInvalid(f"{conda.name} needs a `dependencies:` list")
        return spec
    requirements = folder / "requirements.txt"
    pip = _requirement_lines(requirements) if requirements.is_file() else []
    python = flavor.get("python_version")
    return {"dependencies": [*([f"python={python}"] if python else []), "pip", {"pip": pip}]}


def _inside(folder: Path, name: str) -> Path:
    path = (folder / name).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise MlflowModelInvalid(f"the MLmodel names a conda file outside the model: {name!r}")
    return path


def _requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _with_server(spec: dict[str, Any]) -> str:
    """The conda file's text with the scoring script's packages added to its pip list (those
    the model already names are left as the model pins them)."""
    dependencies: list[Any] = list(spec.get("dependencies") or [])
    pip = next((d for d in dependencies if isinstance(d, dict) and "pip" in d), None)
    if pip is None:
        pip = {"pip": []}
        dependencies.append(pip)
    pip_list = [str(line) for line in pip.get("pip") or []]
    named = {_name(str(d)) for d in dependencies if not isinstance(d, dict)}
    named |= {_name(line) for line in pip_list}
    added = [SERVER] if _name(SERVER) not in named else []
    added += [
        requirement
        for name, requirement in _NEEDED.items()
        if name not in named and not (name in _MLFLOW and named & _MLFLOW)
    ]
    dependencies[dependencies.index(pip)] = {**pip, "pip": pip_list + added}
    return yaml.safe_dump({**spec, "dependencies": dependencies}, sort_keys=False)


def _name(requirement: str) -> str:
    """A requirement's or a conda match spec's package name, normalized (PEP 503)."""
    match = _NAME.match(requirement.split("::", 1)[-1])
    return re.sub(r"[-_.]+", "-", match[1]).lower() if match else ""
