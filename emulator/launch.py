"""What a deployment's containers run, resolved before any of them starts (emulator/dataplane.py
starts them):

- **the image**: the environment's `image` as it is; or the image Azure ML builds for an
  environment with a conda file or a build context (emulator/envbuild: once per content, into
  the workspace's registry, its log written to the workspace's storage); Azure ML's own public
  images (`mcr.microsoft.com/azureml/...`) are the local stand-ins of emulator/inference_images;
- **the model**, downloaded once from storage (emulator/asset_files.py) and mounted read-only
  at `/var/azureml-app/azureml-models/{name}/{version}`, which `AZUREML_MODEL_DIR` names ("the
  path to the model folder", how-to-deploy-online-endpoints.md; the model's own folder or file
  is inside it, as azureml-examples' model-1 score.py reads
  `os.path.join(os.getenv("AZUREML_MODEL_DIR"), "model/sklearn_regression_model.pkl")`), or at
  the deployment's `modelMountPath` ("The path to mount the model in a custom container",
  reference-yaml-deployment-managed-online.md);
- **the code**, mounted read-only at `/var/azureml-app/{folder}` with the inference server's
  `AML_APP_ROOT` and `AZUREML_ENTRY_SCRIPT` (how-to-inference-server-http.md);
- **the routes**: the environment's `inferenceConfig`, else Azure ML's inference server's own
  (port 5001: liveness and readiness `GET /`, scoring `POST /score`).

Failures are the deployment failures how-to-troubleshoot-online-endpoints.md documents:
`ImageBuildFailure` (with the build log's place in storage) and `BadArgument` "Unable to
download user model" / code artifacts (ERR_1300), the reason in the storage initializer's log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from emulator.asset_files import AssetFiles, AssetFilesError
from emulator.envbuild import (
    BuildLogLocation,
    BuiltImage,
    EnvironmentBuildFailed,
    EnvironmentDefinition,
    MlflowModelInvalid,
    no_code_mlflow,
)
from emulator.resources.assets import AssetVersion

APP_ROOT = "/var/azureml-app"
MODELS_ROOT = f"{APP_ROOT}/azureml-models"
SERVER_PORT = 5001
SERVER_ROUTES = {
    "livenessRoute": (SERVER_PORT, "/"),
    "readinessRoute": (SERVER_PORT, "/"),
    "scoringRoute": (SERVER_PORT, "/score"),
}


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str  # always read-only: Azure mounts the model and code from storage


@dataclass(frozen=True)
class Launch:
    image: str
    # Pulled from the workspace's registry as the endpoint's identity; False for Azure ML's
    # public images, which the engine holds as local stand-ins.
    from_registry: bool
    environment: Mapping[str, str]
    mounts: tuple[Mount, ...]
    routes: Mapping[str, tuple[int, str]]


class LaunchFailed(Exception):
    """The deployment cannot start: Azure's failure code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Launcher:
    asset_of: Callable[[str], AssetVersion | None]
    files: AssetFiles | None  # None: no storage (the control plane alone)
    build: Callable[[EnvironmentDefinition], BuiltImage]
    keep_build_log: Callable[[BuildLogLocation, str], None]
    storage_account: Callable[[], str]
    # Azure ML's public images (`mcr.microsoft.com/azureml/...`): the local stand-in's name
    # (emulator/inference_images builds them once per machine), None for any other image.
    public_image: Callable[[str], str | None]

    def resolve(self, properties: Mapping[str, Any], log: list[str]) -> Launch:
        """Blocking (downloads, builds): call it in a thread."""
        model_id = str(properties.get("model") or "")
        code = properties.get("codeConfiguration") or {}
        environment_id = str(properties.get("environmentId") or "")
        if model_id and not environment_id and not code:
            return self._no_code_mlflow(model_id, log)
        environment = self._environment(environment_id)
        image, from_registry = self._image(environment, log)
        variables: dict[str, str] = {}
        mounts: list[Mount] = []
        if model_id:
            mount = self._model(model_id, str(properties.get("modelMountPath") or ""), log)
            mounts.append(mount)
            variables["AZUREML_MODEL_DIR"] = mount.target
        if isinstance(code, dict) and code.get("codeId"):
            mount = self._code(str(code["codeId"]), log)
            mounts.append(mount)
            variables["AML_APP_ROOT"] = mount.target
            variables["AZUREML_ENTRY_SCRIPT"] = str(code.get("scoringScript") or "")
        return Launch(image, from_registry, variables, tuple(mounts), _routes(environment))

    def _no_code_mlflow(self, model_id: str, log: list[str]) -> Launch:
        """An MLflow model deployed with neither environment nor code: the environment Azure ML
        generates from the model's own dependencies and its scoring script
        (how-to-deploy-mlflow-models.md, "No-code deployment"; emulator/envbuild/mlflow.py)."""
        mount = self._model(model_id, "", log)
        folders = [entry for entry in mount.source.iterdir() if entry.is_dir()]
        try:
            if len(folders) != 1:
                raise MlflowModelInvalid("the MLflow model is not one folder holding MLmodel")
            generated = no_code_mlflow(folders[0])
        except MlflowModelInvalid as invalid:
            raise LaunchFailed(
                "BadArgument", f"Invalid MLflow model {model_id}: {invalid}"
            ) from None
        image = self._built(generated.environment, model_id, log)
        variables = {**generated.variables(), "AZUREML_MODEL_DIR": mount.target}
        return Launch(image, True, variables, (mount,), dict(SERVER_ROUTES))

    def _environment(self, environment_id: str) -> AssetVersion:
        environment = self.asset_of(environment_id) if environment_id else None
        if environment is None:
            raise LaunchFailed(
                "BadArgument", f"the deployment's environment {environment_id!r} does not exist"
            )
        return environment

    def _image(self, environment: AssetVersion, log: list[str]) -> tuple[str, bool]:
        properties = environment.properties
        build = properties.get("build")
        conda = properties.get("condaFile")
        if not build and not conda:
            local = self.public_image(environment.image)
            return (environment.image, True) if local is None else (local, False)
        if build:
            context = self._folder(environment.id, "environment build context", log)
            definition = EnvironmentDefinition(
                context=context,
                dockerfile_path=str((build or {}).get("dockerfilePath") or "Dockerfile"),
            )
        else:
            definition = EnvironmentDefinition(image=environment.image, conda_file=str(conda))
        return self._built(definition, environment.id, log), True

    def _built(self, definition: EnvironmentDefinition, for_id: str, log: list[str]) -> str:
        log.append(f"Building image {definition.image_name()} for {for_id}")
        try:
            built = self.build(definition)
        except EnvironmentBuildFailed as failure:
            self.keep_build_log(failure.location, failure.log)
            raise LaunchFailed(
                failure.code, failure.azure_message(self.storage_account())
            ) from failure
        if built.log is not None:
            self.keep_build_log(built.log_location, built.log)
        log.append(f"Image {built.image} {'built' if built.built else 'reused'}")
        return built.image

    def _model(self, model_id: str, mount_path: str, log: list[str]) -> Mount:
        version = self.asset_of(model_id)
        if version is None:
            raise LaunchFailed(
                "BadArgument", f"Unable to download user model: {model_id} not found"
            )
        source = self._download(version.id, "model", log)
        target = mount_path or f"{MODELS_ROOT}/{version.name}/{version.version}"
        return Mount(source, target)

    def _code(self, code_id: str, log: list[str]) -> Mount:
        folder = self._folder(code_id, "code", log)
        return Mount(folder, f"{APP_ROOT}/{folder.name}")

    def _folder(self, asset_id: str, what: str, log: list[str]) -> Path:
        """The version's uploaded folder itself (its files are downloaded into a directory
        holding that folder)."""
        holder = self._download(asset_id, what, log)
        entries = list(holder.iterdir())
        return entries[0] if len(entries) == 1 and entries[0].is_dir() else holder

    def _download(self, asset_id: str, what: str, log: list[str]) -> Path:
        if self.files is None:
            raise LaunchFailed("BadArgument", f"Unable to download user {what}: no storage")
        try:
            path = self.files.files(asset_id)
        except AssetFilesError as exc:
            log.append(f"Failed to download {what} {asset_id}: {exc}")
            raise LaunchFailed(
                "BadArgument",
                f"Unable to download user {what} artifacts of {asset_id}: {exc}. Check the "
                "storage-initializer log.",
            ) from exc
        log.append(f"Downloaded {what} {PurePosixPath(asset_id).as_posix()}")
        return path


def _routes(environment: AssetVersion) -> dict[str, tuple[int, str]]:
    config = environment.properties.get("inferenceConfig") or {}
    routes = {}
    for name, (port, path) in SERVER_ROUTES.items():
        route = config.get(name) or {}
        routes[name] = (int(route.get("port", port)), str(route.get("path", path)))
    return routes
