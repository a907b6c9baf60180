"""Azure ML's environment image builds (build.py) and the environment it generates for no-code
MLflow deployments (mlflow.py)."""

from emulator.envbuild.build import BuiltImage, RegistryTarget, build_environment
from emulator.envbuild.definition import DefinitionInvalid, EnvironmentDefinition
from emulator.envbuild.errors import BuildLogLocation, EnvironmentBuildFailed
from emulator.envbuild.mlflow import MlflowModelInvalid, NoCodeMlflow, no_code_mlflow

__all__ = [
    "BuildLogLocation",
    "BuiltImage",
    "DefinitionInvalid",
    "EnvironmentBuildFailed",
    "EnvironmentDefinition",
    "MlflowModelInvalid",
    "NoCodeMlflow",
    "RegistryTarget",
    "build_environment",
    "no_code_mlflow",
]
