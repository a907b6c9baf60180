from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from emulator.client import Emulator
from tools import engines
from tools.emulators import Bundle, run_cli, start
from tools.engines import Engine, fresh_engine
from tools.images import base_image, model_server_image

# CI replays the same examples every run (a red build must be reproducible); a developer's
# run explores new ones. `HYPOTHESIS_PROFILE=thorough` explores many more.
settings.register_profile(
    "ci", derandomize=True, max_examples=300, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=150, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bundle]:
    previous = {name: os.environ.get(name) for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")}
    yield Bundle(tmp_path_factory.mktemp("trust") / "ca-bundle.pem")
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def session_emulator(
    tmp_path_factory: pytest.TempPathFactory, ca_bundle: Bundle
) -> Iterator[Emulator]:
    """One real emulator (fast profile, Docker data plane) for the whole test session."""
    state_dir = tmp_path_factory.mktemp("emulator-fast")
    emulator = start(state_dir, "--profile", "fast")
    ca_bundle.trust(emulator)
    yield emulator
    run_cli("down", state_dir=state_dir)


@pytest.fixture(scope="session")
def control_plane_emulator(
    tmp_path_factory: pytest.TempPathFactory, ca_bundle: Bundle
) -> Iterator[Emulator]:
    """One emulator without a data plane (fast profile): Entra, ARM, GitHub, the admin API.
    Deployments provision without running anything; no Docker engine, no registry."""
    state_dir = tmp_path_factory.mktemp("emulator-control-plane")
    emulator = start(state_dir, "--profile", "fast", "--data-plane", "none")
    ca_bundle.trust(emulator)
    yield emulator
    run_cli("down", state_dir=state_dir)


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Emulator:
    """The session's emulator, reset to a fresh state for this test: the one without a data
    plane for a test marked `control_plane`, else the one with Docker's."""
    which = (
        "control_plane_emulator"
        if request.node.get_closest_marker("control_plane")
        else "session_emulator"
    )
    session: Emulator = request.getfixturevalue(which)
    session.reset()
    return session


@pytest.fixture(scope="session")
def azure_emulator(
    tmp_path_factory: pytest.TempPathFactory, ca_bundle: Bundle
) -> Iterator[Emulator]:
    """The `azure` profile (no Retry-After, `Updating`), provisioning 50x faster than Azure;
    the control plane alone (its tests time ARM's operations, not containers)."""
    state_dir = tmp_path_factory.mktemp("emulator-azure")
    emulator = start(
        state_dir, "--profile", "azure", "--time-scale", "0.02", "--data-plane", "none"
    )
    ca_bundle.trust(emulator)
    yield emulator
    run_cli("down", state_dir=state_dir)


@pytest.fixture(scope="session")
def image(session_emulator: Emulator) -> str:
    """The test model server, pushed to the session emulator's registry: its digest reference.
    Pushed from a reset emulator: an earlier test may have left its registry refusing the app."""
    session_emulator.reset()
    return session_emulator.push(model_server_image(), "model-server")


@pytest.fixture
def fresh_runner(session_emulator: Emulator) -> Iterator[Engine]:
    """A second, empty Docker engine playing a fresh GitHub-hosted runner (tools/engines.py),
    with the base image preinstalled, trusting the emulator's registry; stopped by pid when
    the test ends."""
    registry = session_emulator["registry"]
    with fresh_engine(preinstalled=[base_image()], registries=[registry]) as engine:
        yield engine


class _LongestFirst:
    """Starts the tests marked `long` first. pytest-xdist's worksteal hands each worker an
    equal, contiguous share of the collection and steals from the tails of the shares: a
    test of minutes collected late ends the run alone. Each share here begins with its part of
    the long tests (the shares computed as the scheduler computes them)."""

    @pytest.hookimpl(trylast=True)  # after `-m` deselected what this run leaves out
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
        long = [item for item in items if item.get_closest_marker("long")]
        if workers < 2 or not long:
            return
        rest = iter([item for item in items if not item.get_closest_marker("long")])
        shares: list[list[pytest.Item]] = [long[index::workers] for index in range(workers)]
        remaining = len(items)
        for index, share in enumerate(shares):
            size = remaining // (workers - index)  # xdist's WorkStealingScheduling
            remaining -= size
            share.extend(itertools.islice(rest, max(0, size - len(share))))
        items[:] = [item for share in shares for item in share] + list(rest)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_LongestFirst(), "longest-first")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Any fresh engine a test killed by its timeout did not stop (only this process's own)."""
    engines.sweep()


# Fixtures that need the Docker engine (and so the emulator's data plane, or an image build).
_DOCKER_FIXTURES = {"session_emulator", "harness", "fresh_runner"}
# Fixtures of an emulator without a data plane.
_CONTROL_PLANE_FIXTURES = {"control_plane_emulator", "azure_emulator"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks every test that needs Docker (`docker`), or only an emulator's control plane
    (`control_plane`), and the emulator (`emulator`), from the fixtures it uses and its marks;
    `make unit` runs the others. `emulator` is the control plane's in a test marked so."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        control_plane = bool(item.get_closest_marker("control_plane"))
        needs_docker = bool(fixtures & _DOCKER_FIXTURES) or (
            "emulator" in fixtures and not control_plane
        )
        if needs_docker or item.get_closest_marker("docker"):
            item.add_marker(pytest.mark.docker)
            item.add_marker(pytest.mark.emulator)
        elif control_plane or fixtures & _CONTROL_PLANE_FIXTURES:
            item.add_marker(pytest.mark.control_plane)
            item.add_marker(pytest.mark.emulator)
