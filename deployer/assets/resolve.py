"""Azure ML's assets as what is deployed: a model, a scoring script's code and an environment.

Local files are registered by their content: the version is a hash of what would be uploaded
(`snapshot.py`), so the exact ids are known before anything is uploaded, an unchanged folder
maps to the version already there, and only what is missing is registered, by the plan's
BuildImage step. References (`azureml:…`) are resolved to exact versions while the run
observes; a label (`@latest`) is never recorded, only the version it named.

Names: a local asset is registered under the endpoint's name (a preview's carries its pull
request, `credit-risk-pr7`), so a pull request's run creates versions only of names no other
run resolves and moves no label of production's (the trust model, DESIGN.md).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deployer.assets.deployed import DeployedAssets
from deployer.assets.snapshot import Snapshot, snapshot
from deployer.azure.assets import AzureAssets
from deployer.azure.pull import PullAccess
from deployer.errors import UsageError
from deployer.github.runner import Runner
from deployer.session import Session
from deployer.spec.model import DeploymentSpec, EnvironmentSpec, ModelSpec
from deployer.spec.references import parse_reference
from deployer.timing import Phases


@dataclass(frozen=True)
class LocalAsset:
    """A version of a local model, code or environment, registered if Azure lacks it."""

    kind: str  # models, codes, environments
    name: str
    version: str
    describe: str  # "model/ (12 files, 3.4 MB)"
    register: Callable[[Path], str]  # given a staging folder, registers; its id
    present: bool

    @property
    def id(self) -> str:
        return f"azureml:{self.name}:{self.version}"


class AzureMLAssets:
    """The model, code and environment a deployment runs, by exact id."""

    tag = ""
    pull: PullAccess | None = None  # Azure ML pulls the environment's image itself

    def __init__(
        self,
        assets: DeployedAssets,
        local: list[LocalAsset],
        runner: Runner,
        phases: Phases | None = None,
    ) -> None:
        self.assets, self.local, self.runner = assets, local, runner
        self.phases = phases or Phases()
        self.work = ""
        self.reference = "" if self.pending else assets.text()
        missing = [asset.kind for asset in local if not asset.present]
        words = {"models": "model", "codes": "code", "environments": "environment"}
        self.making = "register the " + _and([words[kind] for kind in missing])

    @property
    def pending(self) -> bool:
        return any(not asset.present for asset in self.local)

    def build(self) -> str:
        registered = []
        with tempfile.TemporaryDirectory(prefix="azureml-deploy-assets-") as staging:
            for asset in self.local:
                if asset.present:
                    continue
                self.runner.info(f"registering {asset.id}: {asset.describe}")
                folder = Path(staging) / asset.kind
                folder.mkdir()
                # its own phase of the timing line ("register model"): the upload is in it
                with self.phases(f"register {asset.kind[:-1]}"):
                    asset.register(folder)
                shutil.rmtree(folder, ignore_errors=True)
                registered.append(f"{asset.kind[:-1]} {asset.id}")
        self.work = ", ".join(registered)
        self.reference = self.assets.text()
        return self.reference

    def outputs(self) -> dict[str, str]:
        return {
            "model": self.assets.model or "",
            "code": self.assets.code or "",
            "environment": self.assets.environment or "",
        }


def resolve_assets(session: Session, phases: Phases | None = None) -> AzureMLAssets:
    """The exact ids of what the deployment runs; nothing is uploaded or registered here."""
    azure = AzureAssets(session.azure)
    deployment = session.spec.deployment
    name = session.endpoint_name
    workspace = session.options.root
    local: list[LocalAsset] = []
    model = _model(azure, deployment.model, name, workspace, local)
    code = None
    if deployment.code_configuration is not None:
        configuration = deployment.code_configuration
        files = snapshot(configuration.code, workspace)
        _check_script_uploaded(files, configuration.scoring_script)
        local.append(
            LocalAsset(
                "codes",
                name,
                files.version,
                _describe(files, workspace),
                lambda folder: azure.register_code(name, files.version, files.stage(folder)),
                azure.has("codes", name, files.version),
            )
        )
        code = local[-1].id
    environment = _environment(azure, deployment, name, workspace, local)
    scoring_script = (
        deployment.code_configuration.scoring_script if deployment.code_configuration else None
    )
    assets = DeployedAssets(model, code, scoring_script, environment)
    return AzureMLAssets(assets, local, session.runner, phases)


def _model(
    azure: AzureAssets,
    spec: ModelSpec | None,
    name: str,
    workspace: Path,
    local: list[LocalAsset],
) -> str | None:
    if spec is None:
        return None
    if spec.reference is not None:
        return str(azure.exact(parse_reference(spec.reference, "models")))
    assert spec.path is not None  # a ModelSpec names a path or a reference
    files = snapshot(spec.path, workspace)
    model_type = str(spec.type)
    local.append(
        LocalAsset(
            "models",
            name,
            files.version,
            _describe(files, workspace),
            lambda folder: azure.register_model(
                name, files.version, files.stage(folder), model_type
            ),
            azure.has("models", name, files.version),
        )
    )
    return local[-1].id


def _environment(
    azure: AzureAssets,
    deployment: DeploymentSpec,
    name: str,
    workspace: Path,
    local: list[LocalAsset],
) -> str | None:
    spec: EnvironmentSpec | None = deployment.environment
    if spec is None:
        return None
    if spec.reference is not None:
        return str(azure.exact(parse_reference(spec.reference, "environments")))
    if spec.build_context is not None:
        files = snapshot(spec.build_context, workspace)
        dockerfile = spec.dockerfile_path
        version = _digest(files.digest, dockerfile)
        described = f"a build context, {_describe(files, workspace)}"

        def register(folder: Path) -> str:
            return azure.register_environment(
                name, version, build_context=files.stage(folder), dockerfile_path=dockerfile
            )

    else:
        image, conda = spec.image, spec.conda_file
        conda_bytes = conda.read_bytes() if conda is not None else b""
        version = _digest(str(image), conda_bytes.decode("utf-8", "replace"))
        described = f"{image}" + (
            f" + {conda.relative_to(workspace.resolve()).as_posix()}" if conda else ""
        )

        def register(folder: Path) -> str:
            return azure.register_environment(name, version, image=image, conda_file=conda)

    local.append(
        LocalAsset(
            "environments",
            name,
            version,
            described,
            register,
            azure.has("environments", name, version),
        )
    )
    return local[-1].id


def _check_script_uploaded(files: Snapshot, script: str) -> None:
    if script not in {relative for _, relative in files.files}:
        raise UsageError(
            f"the scoring script {script} would not be uploaded with "
            f"{files.root.name}/: an ignore file (.amlignore or .gitignore) excludes it",
            hint=f"remove the pattern that matches {script} from the code folder's ignore file",
        )


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _describe(files: Snapshot, workspace: Path) -> str:
    where = files.root.relative_to(workspace.resolve()).as_posix()
    count = len(files.files)
    return f"{where} ({count} file{'s' * (count != 1)}, {_size(files.size)})"


def _size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    return f"{size} bytes"


def _and(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
