"""Azure ML's image builds for environments: an image with a conda file, or a build context,
built on the emulator's Docker engine into the workspace's registry, reused by content hash;
a failed build raises with its log."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from emulator.envbuild import (
    EnvironmentBuildFailed,
    EnvironmentDefinition,
    RegistryTarget,
    build_environment,
)
from emulator.inference_images import MINIMAL_PY312
from tests.emulator.inference import MODEL_FILES, app_files, ask, running

CONDA_FILE = (MODEL_FILES / "environment" / "conda.yaml").read_text()


def docker_events(since: float) -> list[dict[str, object]]:
    """What the engine did to images since `since` (a time.time()): tags, pushes, imports."""
    events = docker.from_env().events(
        since=int(since), until=int(time.time()) + 1, decode=True, filters={"type": ["image"]}
    )
    return [
        event
        for event in events
        if int(str(event.get("timeNano", 0))) >= since * 1e9
        and event.get("Action") in ("tag", "push", "import")
    ]


def test_image_and_conda_file_build_once_and_are_reused(registry: RegistryTarget) -> None:
    # The seed's environment (test_deployments_with_assets.py): one build serves both.
    definition = EnvironmentDefinition(image=MINIMAL_PY312, conda_file=CONDA_FILE)
    first = build_environment(definition, registry)
    assert first.repository == definition.image_name()
    assert first.repository.startswith("azureml/azureml_") and len(first.repository) == 48
    assert first.image == f"{registry.login_server}/{first.repository}@{first.digest}"
    if first.built:  # the first time on this machine
        assert first.log is not None and "Installing pip dependencies" in first.log
    since = time.time()
    again = build_environment(definition, registry)
    assert (again.built, again.log, again.digest) == (False, None, first.digest)
    repository = f"{registry.login_server}/{first.repository}"
    assert [e for e in docker_events(since) if repository in str(e.get("id"))] == []
    # Pulled by digest, as a deployment pulls it, the image serves the model with the server
    # the conda file installed.
    docker.from_env().images.pull(first.image, auth_config=dict(registry.auth_config))
    with running(first.image, app_files()) as container:
        status, answer = ask(container, "POST", "/score", {"data": [[1, 0, 0]]})
    assert (status, answer) == (200, "[1.5]")


@pytest.fixture
def context(tmp_path: Path) -> Iterator[Path]:
    """A build context in the layout of a registered environment's, with the Dockerfile under
    docker/ and a file no earlier build had, so that it is really built."""
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text(
        f"FROM {MINIMAL_PY312}\nCOPY nonce.txt /var/nonce.txt\nRUN cat /var/nonce.txt\n"
    )
    (tmp_path / "nonce.txt").write_text(uuid.uuid4().hex)
    yield tmp_path


def test_a_build_context_is_built_and_pushed(registry: RegistryTarget, context: Path) -> None:
    definition = EnvironmentDefinition(context=context, dockerfile_path="docker/Dockerfile")
    built = build_environment(definition, registry)
    assert built.built and built.log is not None
    assert f"FROM {MINIMAL_PY312}" in built.log
    assert (context / "nonce.txt").read_text() in built.log
    assert built.log_location.container == "azureml"
    assert built.log_location.path == f"ImageLogs/{built.repository.split('/')[1]}/build.log"
    pushed = docker.from_env().images.get_registry_data(
        f"{registry.login_server}/{built.repository}:latest", auth_config=dict(registry.auth_config)
    )
    assert pushed.id == built.digest
    docker.from_env().images.remove(f"{built.repository}:latest")  # built for this test alone


def test_a_pip_package_that_does_not_exist_fails_the_build(registry: RegistryTarget) -> None:
    conda = "dependencies:\n- python=3.11\n- pip:\n  - azureml-deploy-no-such-package-0\n"
    definition = EnvironmentDefinition(image=MINIMAL_PY312, conda_file=conda)
    with pytest.raises(EnvironmentBuildFailed) as failure:
        build_environment(definition, registry)
    error = failure.value
    assert "azureml-deploy-no-such-package-0" in error.log_tail
    assert "Installing pip dependencies: ...working..." in error.log
    image_id = definition.image_name().split("/")[1]
    assert error.location.path == f"ImageLogs/{image_id}/build.log"
    message = error.azure_message("contosostorage")
    assert (
        "the build log under the storage account 'contosostorage' in the container 'azureml' "
        f"at the path 'ImageLogs/{image_id}/build.log'"
    ) in message


def test_a_bad_dockerfile_fails_the_build(registry: RegistryTarget, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {MINIMAL_PY312}\nRUN exit 3\n")
    with pytest.raises(EnvironmentBuildFailed) as failure:
        build_environment(EnvironmentDefinition(context=tmp_path), registry)
    assert "returned a non-zero code: 3" in failure.value.log_tail
    assert "RUN exit 3" in failure.value.log
