"""What the benchmark reads off the emulator about storage and assets: the storage proxy's
count of what it relayed, the asset versions in the admin API's state, and an emulator whose
storage keeps its blobs in memory (`up --storage memory`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from azure.ai.ml.entities import Model

from emulator.client import Emulator
from tools.emulators import Bundle, run_cli, start

pytestmark = pytest.mark.control_plane


def _model(folder: Path, size: int) -> Path:
    folder.mkdir(parents=True)
    (folder / "weights.bin").write_bytes(os.urandom(size))
    return folder


def test_an_upload_shows_in_the_proxys_count_and_its_version_in_the_state(
    emulator: Emulator, tmp_path: Path
) -> None:
    before = emulator.storage_relayed()
    versions = set(emulator.asset_versions())
    assert all("/versions/" in version for version in versions)

    model = emulator.ml_client().models.create_or_update(
        Model(name="counted", version="1", path=str(_model(tmp_path / "model", 300_000)))
    )
    after = emulator.storage_relayed()
    assert after["tunnels"] > before["tunnels"]
    # the file, and the requests' headers and TLS around it
    sent = after["client_to_storage"] - before["client_to_storage"]
    assert 300_000 < sent < 400_000
    assert after["storage_to_client"] > before["storage_to_client"]
    assert set(emulator.asset_versions()) - versions == {model.id}

    # registering the same version again uploads nothing: the SDK finds the confirmed blobs
    emulator.ml_client().models.create_or_update(
        Model(name="counted", version="1", path=str(tmp_path / "model"))
    )
    again = emulator.storage_relayed()
    assert again["client_to_storage"] - after["client_to_storage"] < 20_000


def test_storage_in_memory_writes_no_blobs_to_the_state_dir(
    tmp_path: Path, ca_bundle: Bundle
) -> None:
    state = tmp_path / "emu"
    emulator = start(state, "--profile", "fast", "--data-plane", "none", "--storage", "memory")
    try:
        ca_bundle.trust(emulator)
        assert emulator["storage"] == "memory"
        folder = _model(tmp_path / "model", 100_000)
        model = emulator.ml_client().models.create_or_update(
            Model(name="kept", version="1", path=str(folder))
        )
        files = emulator.asset_files(model.id)
        assert (files / "model" / "weights.bin").read_bytes() == (
            folder / "weights.bin"
        ).read_bytes()
        assert not (state / "azurite").exists()
    finally:
        run_cli("down", state_dir=state)
