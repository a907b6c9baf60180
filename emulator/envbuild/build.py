"""Azure ML's image builds for environments (what ACR Tasks does on Azure), on the emulator's
Docker engine: an environment with a conda file or a build context is built once, pushed to the
workspace's registry as `azureml/azureml_<hash>:latest`, and reused by that hash.

    build_environment(definition, registry) -> BuiltImage  (raises EnvironmentBuildFailed)

The build uses the host network (the engine has no default bridge: pip must reach the package
index) and the classic builder of the Docker SDK, whose step-by-step output is the build log.
"""

from __future__ import annotations

import contextlib
import fcntl
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.models.images
import requests

from emulator.envbuild import image_cache
from emulator.envbuild.conda import CondaFileInvalid, pip_install
from emulator.envbuild.definition import DefinitionInvalid, EnvironmentDefinition
from emulator.envbuild.errors import BuildLogLocation, EnvironmentBuildFailed

TAG = "latest"
LABEL = "azureml-deploy.environment-image"
SETUP = "azureml-environment-setup"

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class RegistryTarget:
    """The workspace's registry: its login server and the docker credentials that may push
    (ACR's null-GUID username and a refresh token as password)."""

    login_server: str
    auth_config: Mapping[str, str]
    # The registry's CA: with it, an image pushed before on this machine is uploaded from the
    # machine's cache of compressed layers (emulator/envbuild/image_cache.py).
    ca_cert: str | None = None


@dataclass(frozen=True)
class BuiltImage:
    image: str  # what a deployment pulls: registry/azureml/azureml_<hash>@sha256:...
    repository: str  # azureml/azureml_<hash>
    digest: str
    built: bool  # false: the registry or the engine already had it
    log: str | None  # the build log when this call built it, to store at log_location
    log_location: BuildLogLocation


def build_environment(
    definition: EnvironmentDefinition,
    registry: RegistryTarget,
    client: docker.DockerClient | None = None,
) -> BuiltImage:
    """The environment's image in `registry`, built only when neither the registry nor the
    engine has it. Blocks for the build (run it in a thread from async code). An environment
    with an image alone is not built (`definition.needs_build` is false): its image is used as
    it is."""
    if not definition.needs_build:
        raise DefinitionInvalid("an environment with an image alone is used as it is, not built")
    engine = client or docker.from_env(timeout=1800)
    repository = definition.image_name()
    image_id = repository.split("/")[-1]
    location = BuildLogLocation.of(image_id)
    remote = f"{registry.login_server}/{repository}"
    with _lock(repository):
        digest = _registry_digest(engine, f"{remote}:{TAG}", registry.auth_config)
        if digest:
            return BuiltImage(f"{remote}@{digest}", repository, digest, False, None, location)
        log: str | None = None
        # The push too: emulators that wait for the first then upload its compressed layers.
        with _machine_lock(repository):
            if not _local_image(engine, repository):
                log = _build(engine, definition, repository, location)
            digest, error = _push(engine, repository, registry)
        if error is not None:
            reason = f"pushing to the workspace's container registry failed: {error}"
            raise EnvironmentBuildFailed(reason, f"{log or ''}\n{reason}\n", location)
        return BuiltImage(f"{remote}@{digest}", repository, digest, log is not None, log, location)


def _lock(repository: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(repository, threading.Lock())


@contextlib.contextmanager
def _machine_lock(repository: str) -> Iterator[None]:
    """One build of an image at a time on this machine: another process (another emulator, a
    test) waits, then finds the image the first one built in the engine and only pushes it."""
    path = Path(tempfile.gettempdir()) / f"azureml-emulator-{repository.replace('/', '-')}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _registry_digest(
    engine: docker.DockerClient, reference: str, auth: Mapping[str, str]
) -> str | None:
    try:
        data = engine.images.get_registry_data(reference, auth_config=dict(auth))
    except docker.errors.APIError:
        return None  # not there (or not readable, which the push then reports)
    return str(data.id)


def _local_image(engine: docker.DockerClient, repository: str) -> bool:
    try:
        image = engine.images.get(f"{repository}:{TAG}")
    except docker.errors.ImageNotFound:
        return False
    return LABEL in (image.labels or {})


def _build(
    engine: docker.DockerClient,
    definition: EnvironmentDefinition,
    repository: str,
    location: BuildLogLocation,
) -> str:
    lines: list[str] = []
    try:
        with _context(definition, repository, lines) as (context, dockerfile):
            stream = engine.api.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=f"{repository}:{TAG}",
                labels={LABEL: repository},
                network_mode="host",
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
            )
            error = _follow(stream, lines)
    except (CondaFileInvalid, docker.errors.APIError, OSError) as exc:
        error = str(exc)
    log = "".join(lines)
    if error is not None:
        log += f"\n{error}\n"
        raise EnvironmentBuildFailed(error.strip().splitlines()[-1], log, location)
    return log


def _follow(stream: Iterator[dict[str, Any]], lines: list[str]) -> str | None:
    """Collects the builder's output; its error, if the build failed."""
    for chunk in stream:
        if "stream" in chunk:
            lines.append(str(chunk["stream"]))
        elif "error" in chunk:
            return str(chunk["error"])
    return None


@contextlib.contextmanager
def _context(
    definition: EnvironmentDefinition, repository: str, lines: list[str]
) -> Iterator[tuple[Path, str]]:
    """The build context and the Dockerfile in it: the environment's own, or the one Azure ML
    generates for an image and a conda file."""
    if definition.context is not None:
        context = definition.context.resolve()
        dockerfile = (context / definition.dockerfile_path).resolve()
        if not dockerfile.is_relative_to(context) or not dockerfile.is_file():
            raise OSError(
                f"dockerfilePath {definition.dockerfile_path!r} is not a file in the build context"
            )
        yield context, dockerfile.relative_to(context).as_posix()
        return
    assert definition.image is not None and definition.conda_file is not None
    install = pip_install(definition.conda_file)
    with tempfile.TemporaryDirectory(prefix="azureml-environment-") as folder:
        setup = Path(folder) / SETUP
        setup.mkdir()
        (setup / "conda_dependencies.yml").write_text(definition.conda_file)
        (setup / "requirements.txt").write_text("".join(f"{r}\n" for r in install.requirements))
        (Path(folder) / "Dockerfile").write_text(_conda_dockerfile(definition.image, repository))
        lines.extend(f"{note}\n" for note in install.notes)
        if install.python:
            lines.append(
                f"python={install.python} requested: the image's own Python is used "
                "(conda cannot be reached here)\n"
            )
        yield Path(folder), "Dockerfile"


def _conda_dockerfile(image: str, repository: str) -> str:
    """Azure ML's generated Dockerfile (the cheatsheet above) with a venv and pip in place of
    `conda env create`: the environment at /azureml-envs/azureml_<hash>, first on PATH. The
    image's own pip installs into it (`--python`): a venv seeded with pip of its own takes
    many seconds more."""
    env = f"/azureml-envs/{repository.rsplit('/', maxsplit=1)[-1]}"
    return (
        f"FROM {image}\n"
        "USER root\n"
        "WORKDIR /\n"
        f"COPY {SETUP}/ /{SETUP}/\n"
        f"RUN python3 -m venv --without-pip {env} \\\n"
        '    && echo "Installing pip dependencies: ...working..." \\\n'
        f"    && python3 -m pip --python {env}/bin/python install --no-cache-dir \\\n"
        f"        --disable-pip-version-check -r /{SETUP}/requirements.txt\n"
        f"ENV PATH={env}/bin:$PATH \\\n"
        f"    AZUREML_CONDA_ENVIRONMENT_PATH={env} \\\n"
        f"    LD_LIBRARY_PATH={env}/lib:$LD_LIBRARY_PATH \\\n"
        "    AZUREML_ENVIRONMENT_IMAGE=True\n"
    )


def _push(
    engine: docker.DockerClient, repository: str, registry: RegistryTarget
) -> tuple[str, str | None]:
    """The pushed image's digest, or why the push failed: from the machine's cache when it
    has the image, else by the engine (and then kept in the cache)."""
    local = engine.images.get(f"{repository}:{TAG}")
    cache: image_cache.Target | None = None
    if registry.ca_cert is not None:
        cache = image_cache.Target(
            registry.login_server, repository, TAG, registry.auth_config, registry.ca_cert
        )
        with contextlib.suppress(image_cache.CacheMiss, requests.RequestException):
            return image_cache.push_cached(str(local.id), cache), None
    remote = f"{registry.login_server}/{repository}"
    digest, error = _push_by_engine(engine, local, remote, registry.auth_config)
    if cache is not None and error is None:
        image_cache.keep(str(local.id), cache, digest)
    return digest, error


def _push_by_engine(
    engine: docker.DockerClient,
    local: docker.models.images.Image,
    remote: str,
    auth: Mapping[str, str],
) -> tuple[str, str | None]:
    local.tag(remote, TAG)
    digest: str | None = None
    error: str | None = None
    try:
        for chunk in engine.images.push(
            remote, tag=TAG, auth_config=dict(auth), stream=True, decode=True
        ):
            error = error or chunk.get("error")
            digest = (chunk.get("aux") or {}).get("Digest") or digest
    except docker.errors.APIError as exc:
        error = str(exc)
    with contextlib.suppress(docker.errors.APIError):  # the engine keeps azureml/azureml_<hash>
        engine.images.remove(f"{remote}:{TAG}", noprune=True)
    if error or not digest:
        return "", error or "the registry returned no digest"
    return digest, None
