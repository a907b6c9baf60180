"""Images for the tests, built on the local base image (public images cannot be pulled here)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
TEST_SERVER = ROOT / "tests" / "images" / "model-server"


@functools.cache
def base_image() -> str:
    """The local stand-in for python:3.12-slim (scripts/base-image.sh builds it once)."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "base-image.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/base-image.sh failed:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def build(context: Path, tag: str, **build_args: str) -> str:
    client = docker.from_env()
    client.images.build(
        path=str(context),
        tag=tag,
        buildargs={"BASE_IMAGE": base_image(), **build_args},
        network_mode="host",
        rm=True,
    )
    return tag


@functools.cache
def model_server_image() -> str:
    return build(TEST_SERVER, "azureml-deploy-tests/model-server:latest")
