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
import json
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deployer.assets.deployed import DeployedAssets, what_runs
from deployer.assets.snapshot import Snapshot, snapshot
from deployer.azure.assets import AzureAssets
from deployer.azure.entities import inference_config
from deployer.azure.pull import PullAccess
from deployer.egress import check_environment_image
from deployer.errors import DeployerError, ImageError, PolicyError
from deployer.github.runner import Runner
from deployer.image.resolve import Images
from deployer.session import Session
from deployer.spec.model import (
    INFERENCE_SERVER_ROUTES,
    BuildSpec,
    CodeSpec,
    EnvironmentSpec,
    ImageSpec,
    InferenceConfig,
    ModelSpec,
)
from deployer.spec.references import parse_reference
from deployer.tags import Ownership
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
    built_by_azure: bool = False  # an environment whose image Azure ML builds on first use

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
        phases: Phases,
        staging: str | None = None,
    ) -> None:
        self.assets, self.local, self.runner, self.phases = assets, local, runner, phases
        self.staging = staging  # where to stage uploads (the runner's temp, which it clears)
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
        with tempfile.TemporaryDirectory(
            prefix="azureml-deploy-assets-", dir=self.staging
        ) as staging:
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
        if any(asset.built_by_azure and not asset.present for asset in self.local):
            self.runner.info(
                "Azure ML builds the new environment's image while it creates the deployment: "
                "that deployment takes minutes longer; a build that fails shows its log"
            )
        return self.reference

    def describe(self) -> list[tuple[str, str]]:
        missing = {asset.id for asset in self.local if not asset.present}
        return [
            (label, value + (" (to register)" if value.split(" ")[0] in missing else ""))
            for label, value in what_runs(self.assets.text())
        ]

    def outputs(self) -> dict[str, str]:
        return self.assets.outputs()


def resolve_assets(session: Session, phases: Phases) -> AzureMLAssets:
    """The exact ids of what the deployment runs; nothing is uploaded or registered here."""
    client_id = session.options.client_id or session.cloud.app_registration_defaults()[1]
    resolver = _Resolver(
        AzureAssets(session.azure, client_id),
        session.endpoint_name,
        session.options.root,
        _runner_build(session, phases),
        _pinned(session),
        # whose versions they are: a preview's are archived with its endpoint (retire.py)
        session.owner.tags(),
    )
    deployment = session.spec.deployment
    code = deployment.code_configuration
    if deployment.inference_config != INFERENCE_SERVER_ROUTES:
        resolver.routes = deployment.inference_config
    assets = DeployedAssets(
        model=resolver.model(deployment.model),
        code=resolver.code(code),
        scoring_script=code.scoring_script if code is not None else None,
        environment=resolver.environment(deployment.environment),
        model_mount_path=deployment.model_mount_path,
    )
    image = resolver.azure.images_as_is.get(assets.environment or "")
    if image is not None:
        check_environment_image(session, image, f"environment {assets.environment} runs the image")
    staging = session.environ.get("RUNNER_TEMP") or None
    return AzureMLAssets(assets, resolver.local, session.runner, phases, staging)


@dataclass
class _Resolver:
    """Each asset by exact id; the local ones also as what registering them takes."""

    azure: AzureAssets
    name: str  # what local assets are registered as: the endpoint's name
    workspace: Path
    runner_build: Callable[[EnvironmentSpec], str]
    pin: Callable[[str], str]  # an image by tag → by digest
    tags: Mapping[str, str]
    routes: InferenceConfig | None = None  # the deploy file's inference_config, if its own
    local: list[LocalAsset] = field(default_factory=list)

    def model(self, spec: ModelSpec | None) -> str | None:
        if spec is None:
            return None
        if spec.reference is not None:
            return str(self.azure.exact(parse_reference(spec.reference, "models")))
        assert spec.path is not None  # a ModelSpec names a path or a reference
        files = snapshot(spec.path, self.workspace)
        model_type, name = str(spec.type), self.name

        def register(folder: Path) -> str:
            return self.azure.register_model(
                name, files.version, files.stage(folder), model_type, self.tags
            )

        return self._local("models", files.version, self._describe(files), register)

    def code(self, spec: CodeSpec | None) -> str | None:
        if spec is None:
            return None
        files = snapshot(spec.code, self.workspace)
        _check_script_uploaded(files, spec.scoring_script)
        name = self.name

        def register(folder: Path) -> str:
            return self.azure.register_code(name, files.version, files.stage(folder), self.tags)

        return self._local("codes", files.version, self._describe(files), register)

    def environment(self, spec: EnvironmentSpec | None) -> str | None:
        if spec is None:
            return None
        if spec.reference is not None:
            return str(self.azure.exact(parse_reference(spec.reference, "environments")))
        azure, name, context, tags = self.azure, self.name, spec.build_context, self.tags
        routes = self.routes
        shown_routes = json.dumps(inference_config(routes), sort_keys=True) if routes else ""
        register: Callable[[Path], str]
        if context is not None and spec.build_on == "runner":
            files = snapshot(context, self.workspace)
            version = _digest(
                files.digest, spec.dockerfile_path, "built on the runner", shown_routes
            )
            described = f"an image built on the runner from {self._describe(files)}"
            build = self.runner_build

            def register(folder: Path) -> str:
                return azure.register_environment(
                    name, version, tags=tags, image=build(spec), routes=routes
                )

        elif context is not None:
            files = snapshot(context, self.workspace)
            dockerfile = spec.dockerfile_path
            version = _digest(files.digest, dockerfile, shown_routes)
            described = f"a build context, {self._describe(files)}"

            def register(folder: Path) -> str:
                return azure.register_environment(
                    name,
                    version,
                    tags=tags,
                    build_context=files.stage(folder),
                    dockerfile_path=dockerfile,
                    routes=routes,
                )

        else:
            image, conda = self.pin(str(spec.image)), spec.conda_file
            conda_text = conda.read_bytes().decode("utf-8", "replace") if conda else ""
            version = _digest(str(image), conda_text, shown_routes)
            described = str(image)
            if conda is not None:
                described += f" + {conda.relative_to(self.workspace.resolve()).as_posix()}"

            def register(folder: Path) -> str:
                return azure.register_environment(
                    name, version, tags=tags, image=image, conda_file=conda, routes=routes
                )

        built_by_azure = spec.build_on != "runner" and (
            context is not None or spec.conda_file is not None
        )
        return self._local("environments", version, described, register, built_by_azure)

    def _local(
        self,
        kind: str,
        version: str,
        described: str,
        register: Callable[[Path], str],
        built_by_azure: bool = False,
    ) -> str:
        found = self.azure.tags_of(kind, self.name, version)
        asset = LocalAsset(
            kind, self.name, version, described, register, found is not None, built_by_azure
        )
        # azure-ai-ml drops a code version's tags (CodeVersionDetails has none): only models'
        # and environments' say who registered them.
        if found is not None and kind != "codes":
            _check_registered_by_us(asset, found, self.tags)
        self.local.append(asset)
        return asset.id

    def _describe(self, files: Snapshot) -> str:
        where = files.root.relative_to(self.workspace.resolve()).as_posix()
        count = len(files.files)
        return f"{where} ({count} file{'s' * (count != 1)}, {_size(files.size)})"


def _runner_build(session: Session, phases: Phases) -> Callable[[EnvironmentSpec], str]:
    """An environment's build context built by the action (BuildKit, the registry cache) and
    pushed to the workspace's registry, where Azure ML pulls environment images from; the
    image by digest."""

    def build(environment: EnvironmentSpec) -> str:
        assert environment.build_context is not None
        facts = session.azure.workspace_registry()
        if facts is None:
            raise DeployerError(
                "build_on: runner pushes the environment's image to the workspace's container "
                "registry, and this workspace has none",
                hint="remove build_on (Azure ML then builds the image), or attach a registry "
                "to the workspace",
            )
        server = facts.login_server or f"{facts.name}.{session.cloud.registry_suffix}"
        spec = ImageSpec(
            registry=server,
            repository=f"azureml-deploy/{session.endpoint_name}-environment",
            build=BuildSpec(
                context=environment.build_context,
                dockerfile=(environment.build_context / environment.dockerfile_path).resolve(),
            ),
        )
        images = Images(session, spec)
        lookup = images.lookup()
        resolved = lookup.resolved or images.build_and_push(lookup, phases)
        return resolved.reference

    return build


def _pinned(session: Session) -> Callable[[str], str]:
    """An environment's image by digest (its registry's own token flow: Azure Container
    Registry's exchange, or a public registry's anonymous tokens), so that the environment
    registered is the image this run saw, and a tag moved later registers a new version.

    An image in Azure Container Registry that the run's identity may not read keeps its tag:
    Azure ML pulls it with its own identity, so the run needs no role to deploy it, as before.
    """

    def pin(image: str) -> str:
        if "@sha256:" in image or not session.cloud.pins_environment_image(image):
            return image
        images = Images(session, ImageSpec(ref=image))
        try:
            return images.pinned(image, f"the environment's image {image}")
        except ImageError as exc:
            if images.public:
                raise
            session.runner.info(
                f"{image} is registered by its tag: its digest could not be read ({exc.message})"
            )
            return image

    return pin


def _check_registered_by_us(
    asset: LocalAsset, found: Mapping[str, str], ours: Mapping[str, str]
) -> None:
    """A version named by this content is reused only if this repository registered it: one
    made another way under the same name and version may hold other files."""
    owner, wanted = Ownership.of(found), Ownership.of(ours)
    if owner.managed and owner.repository == wanted.repository:
        return
    raise PolicyError(
        f"{asset.kind[:-1]} {asset.id} exists, but was not registered by azureml-deploy for "
        f"this repository ({owner.describe()}): its files may not be {asset.describe}",
        hint=f"archive or delete that version, or deploy under another endpoint name "
        f"(local assets are registered under the endpoint's name, {asset.name})",
    )


def _check_script_uploaded(files: Snapshot, script: str) -> None:
    if script not in {relative for _, relative in files.files}:
        raise DeployerError(
            f"the scoring script {script} would not be uploaded with "
            f"{files.root.name}/: an ignore file (.amlignore or .gitignore) excludes it",
            hint=f"remove the pattern that matches {script} from the code folder's ignore file",
        )


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


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
