"""Which docker CLI builds: the first on PATH that can build with BuildKit. The candidates
here are small scripts that answer as those clients do (`docker --version`, and
`docker buildx version` only where the plugin is installed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployer.errors import ImageError
from deployer.image.docker_cli import find_buildkit_cli


def client(folder: Path, version: str, *, buildx: bool) -> Path:
    folder.mkdir(parents=True)
    script = folder / "docker"
    plugin = 'echo "github.com/docker/buildx v0.26.1"; exit 0' if buildx else "exit 1"
    script.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = --version ] && echo "Docker version {version}, build 1a2b3c4" && exit 0\n'
        f'if [ "$1" = buildx ]; then {plugin}; fi\n'
        "exit 1\n"
    )
    script.chmod(0o755)
    return folder


def test_a_new_client_without_buildx_is_passed_over_for_one_that_can(tmp_path: Path) -> None:
    new = client(tmp_path / "new", "28.2.2", buildx=False)
    old = client(tmp_path / "old", "20.10.24+dfsg1", buildx=False)
    cli = find_buildkit_cli(f"{new}:{old}")
    assert cli.path == old / "docker"
    assert not cli.buildx
    assert cli.build_command() == [str(old / "docker"), "build"]
    assert cli.environment() == {"DOCKER_BUILDKIT": "1"}


def test_a_client_with_buildx_builds_with_buildx(tmp_path: Path) -> None:
    runner = client(tmp_path / "runner", "28.0.4", buildx=True)
    cli = find_buildkit_cli(str(runner))
    assert cli.buildx
    assert cli.build_command() == [str(runner / "docker"), "buildx", "build"]
    assert cli.environment() == {}
    assert cli.describe() == "docker 28.0.4 (buildx)"


def test_no_client_that_can_says_how_to_get_one(tmp_path: Path) -> None:
    new = client(tmp_path / "new", "27.5.1", buildx=False)
    ancient = client(tmp_path / "ancient", "18.06.3-ce", buildx=False)
    with pytest.raises(ImageError) as refused:
        find_buildkit_cli(f"{new}:{ancient}")
    assert "no docker CLI on PATH can build with BuildKit" in refused.value.message
    assert refused.value.hint is not None and "buildx plugin" in refused.value.hint


def test_no_docker_at_all(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as refused:
        find_buildkit_cli(str(tmp_path))
    assert refused.value.message.startswith("no docker command on PATH")
