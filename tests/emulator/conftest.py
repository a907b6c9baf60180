"""A real emulator for the session, started and stopped with its own CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.client import Emulator
from tests.support.images import model_server_image

ROOT = Path(__file__).resolve().parents[2]


class Bundle:
    """One CA bundle trusted by the whole test process, holding every emulator's CA."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started: list[Path] = []

    def trust(self, emulator: Emulator) -> None:
        if not self.path.exists():
            self.path.write_bytes(Path(emulator["ca_bundle"]).read_bytes())
        else:
            with self.path.open("ab") as handle:
                handle.write(Path(emulator["ca_cert"]).read_bytes())
        os.environ["REQUESTS_CA_BUNDLE"] = str(self.path)


def run_cli(*args: str, state_dir: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args, "--state-dir", str(state_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(state_dir: Path, *extra: str) -> Emulator:
    result = run_cli("up", *extra, state_dir=state_dir)
    assert result.returncode == 0, result.stderr
    return Emulator.at(state_dir)


@pytest.fixture(scope="session")
def ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bundle]:
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    yield Bundle(tmp_path_factory.mktemp("trust") / "ca-bundle.pem")
    if previous is None:
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
    else:
        os.environ["REQUESTS_CA_BUNDLE"] = previous


@pytest.fixture(scope="session")
def session_emulator(
    tmp_path_factory: pytest.TempPathFactory, ca_bundle: Bundle
) -> Iterator[Emulator]:
    state_dir = tmp_path_factory.mktemp("emulator-fast")
    emulator = start(state_dir, "--profile", "fast")
    ca_bundle.trust(emulator)
    yield emulator
    run_cli("down", state_dir=state_dir)


@pytest.fixture
def emulator(session_emulator: Emulator) -> Emulator:
    """The session's emulator, reset to a fresh state for this test."""
    session_emulator.reset()
    return session_emulator


@pytest.fixture(scope="session")
def image(session_emulator: Emulator) -> str:
    """The test model server, pushed to the session emulator's registry: its digest reference."""
    return session_emulator.push(model_server_image(), "model-server")


@pytest.fixture(scope="session")
def azure_emulator(
    tmp_path_factory: pytest.TempPathFactory, ca_bundle: Bundle
) -> Iterator[Emulator]:
    """The `azure` profile (no Retry-After, `Updating`), provisioning 50x faster than Azure."""
    state_dir = tmp_path_factory.mktemp("emulator-azure")
    emulator = start(state_dir, "--profile", "azure", "--time-scale", "0.02")
    ca_bundle.trust(emulator)
    yield emulator
    run_cli("down", state_dir=state_dir)
