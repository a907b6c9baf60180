"""Which docker CLI builds the image: the first one on PATH that can build with BuildKit.

Builds go through the docker CLI because BuildKit's features (`RUN --mount`, build secrets,
`# syntax=` frontends, parallel stages, cache import from a registry) need the client side of a
BuildKit session, which the Docker SDK for Python does not have: its `build` is the classic
builder only. Two kinds of CLI can: one with the buildx plugin (`docker buildx build`; Docker 23.0
made `docker build` an alias of it, moby/moby v23.0.0 release notes), and the clients from 18.09
up to 22.x, which have BuildKit built in behind DOCKER_BUILDKIT=1. A 23.0-or-later client without
buildx has only the deprecated classic builder, so it is passed over.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deployer.errors import ImageError

_VERSION = re.compile(r"version (\d+)\.(\d+)")
_FIRST_BUILTIN = (18, 9)  # BuildKit behind DOCKER_BUILDKIT=1 (Docker 18.09 release notes)
_FIRST_WITHOUT_BUILTIN = (23, 0)


@dataclass(frozen=True)
class DockerCli:
    path: Path
    version: str
    buildx: bool

    def build_command(self) -> list[str]:
        if self.buildx:
            # The docker driver loads the result into the engine's image store by itself.
            return [str(self.path), "buildx", "build"]
        return [str(self.path), "build"]

    def environment(self) -> dict[str, str]:
        return {} if self.buildx else {"DOCKER_BUILDKIT": "1"}

    def describe(self) -> str:
        kind = "buildx" if self.buildx else "built-in BuildKit client"
        return f"docker {self.version} ({kind})"


def _run(command: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def _candidates(path_variable: str) -> list[Path]:
    seen: set[Path] = set()
    found: list[Path] = []
    for folder in path_variable.split(os.pathsep):
        candidate = Path(folder or ".") / "docker"
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        real = candidate.resolve()
        if real not in seen:
            seen.add(real)
            found.append(candidate)
    return found


def probe(executable: Path) -> DockerCli | None:
    """The CLI at `executable` if it can build with BuildKit, else None."""
    result = _run([str(executable), "--version"])
    if result is None or result.returncode != 0:
        return None
    match = _VERSION.search(result.stdout)
    if match is None:
        return None
    version = result.stdout.split("version", 1)[1].split(",")[0].strip()
    buildx = _run([str(executable), "buildx", "version"])
    if buildx is not None and buildx.returncode == 0:
        return DockerCli(executable, version, buildx=True)
    major_minor = (int(match.group(1)), int(match.group(2)))
    if _FIRST_BUILTIN <= major_minor < _FIRST_WITHOUT_BUILTIN:
        return DockerCli(executable, version, buildx=False)
    return None


def find_buildkit_cli(path_variable: str | None = None) -> DockerCli:
    """The first docker CLI on PATH that can build with BuildKit."""
    candidates = _candidates(path_variable if path_variable is not None else os.environ["PATH"])
    for candidate in candidates:
        cli = probe(candidate)
        if cli is not None:
            return cli
    if not candidates:
        raise ImageError(
            "no docker command on PATH: the image is built with the docker CLI",
            hint="run on a runner with Docker (ubuntu-latest has it), or deploy a prebuilt "
            "image with the `image` input or image.ref",
        )
    raise ImageError(
        "no docker CLI on PATH can build with BuildKit: "
        + ", ".join(str(candidate) for candidate in candidates)
        + " lack(s) the buildx plugin",
        hint="install Docker's buildx plugin (package docker-buildx-plugin, as GitHub's runners "
        "have it), or deploy a prebuilt image with the `image` input",
    )
