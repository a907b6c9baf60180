"""The emulator's own tests use the session emulator from tests/conftest.py."""

from __future__ import annotations

import pytest

from emulator.acr import NULL_GUID
from emulator.client import Emulator
from emulator.envbuild import RegistryTarget
from emulator.inference_images import ensure_inference_images


@pytest.fixture(scope="module")
def images() -> tuple[str, ...]:
    """Azure ML's local inference images, built once per machine."""
    return ensure_inference_images()


@pytest.fixture
def registry(emulator: Emulator, images: tuple[str, ...]) -> RegistryTarget:
    """The emulator's workspace registry, as environment builds push to it."""
    auth = {"username": NULL_GUID, "password": emulator.acr_refresh_token()}
    return RegistryTarget(emulator["registry"], auth, emulator["ca_cert"])
