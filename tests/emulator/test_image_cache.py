"""An environment image pushed once on this machine goes into the next registry from the
machine's cache of its compressed layers, not compressed again by the engine: the registry
holds the same image, which the engine pulls by digest and runs as its own."""

from __future__ import annotations

import time
from pathlib import Path

import certifi
import docker
import pytest
from docker.models.images import Image

from emulator.envbuild import RegistryTarget, build, image_cache
from tests.emulator.test_environment_builds import docker_events
from tools.images import model_server_image


def _pushes(since: float, repository: str) -> list[dict[str, object]]:
    return [
        event
        for event in docker_events(since)
        if event.get("Action") == "push" and repository in str(event.get("id"))
    ]


def test_a_pushed_image_reaches_the_next_repository_from_the_cache(
    registry: RegistryTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(image_cache, "ROOT", tmp_path / "cache")  # this test's own, empty
    # The emulator inherits the environment it was started from: a CA bundle without its own
    # CA must not decide how it reaches its own registry.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    engine = docker.from_env()
    local = engine.images.get(model_server_image())
    first, second = (f"azureml/azureml_cache{n}{time.time_ns()}" for n in (1, 2))
    for repository in (first, second):
        local.tag(repository, build.TAG)
    try:
        _first_by_engine_then_from_the_cache(engine, local, first, second, registry)
    finally:
        for repository in (first, second):
            engine.images.remove(f"{repository}:{build.TAG}", noprune=True)


def _first_by_engine_then_from_the_cache(
    engine: docker.DockerClient,
    local: Image,
    first: str,
    second: str,
    registry: RegistryTarget,
) -> None:
    since = time.time()
    digest, error = build._push(engine, first, registry)
    assert error is None and digest.startswith("sha256:")
    assert _pushes(since, first)  # the engine pushed it: nothing was cached
    assert (image_cache.entry(str(local.id)) / "manifest.json").is_file()

    since = time.time()
    again, error = build._push(engine, second, registry)
    assert (again, error) == (digest, None)  # the same manifest, so the same digest
    assert _pushes(since, second) == []  # uploaded from the cache, not by the engine
    reference = f"{registry.login_server}/{second}@{again}"
    pulled = engine.images.pull(reference, auth_config=dict(registry.auth_config))
    assert pulled.id == local.id


def test_a_cache_that_is_not_the_users_own_is_not_used(
    registry: RegistryTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # anyone on the machine could have put an image in it
    monkeypatch.setattr(image_cache, "ROOT", shared)
    engine = docker.from_env()
    local = engine.images.get(model_server_image())
    repository = f"azureml/azureml_shared{time.time_ns()}"
    local.tag(repository, build.TAG)
    since = time.time()
    try:
        digest, error = build._push(engine, repository, registry)
    finally:
        engine.images.remove(f"{repository}:{build.TAG}", noprune=True)
    assert error is None and digest.startswith("sha256:")
    assert _pushes(since, repository)  # by the engine
    assert not image_cache.entry(str(local.id)).exists()  # and nothing kept there
