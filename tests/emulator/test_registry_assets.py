"""Azure ML registries with the real azure-ai-ml: discovery, their own storage, the role check
and the curated `azureml` registry's environments."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.ai.ml.entities import Environment, Model
from azure.core.exceptions import HttpResponseError

from emulator.client import Emulator


def test_registry_model_uploads_to_its_own_storage(emulator: Emulator, tmp_path: Path) -> None:
    registry = emulator["ml_registry"]
    ml = emulator.ml_client(registry_name=registry)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"shared" * 1000)

    model = ml.models.create_or_update(Model(name="shared", version="1", path=folder))
    assert model.id == f"azureml://registries/{registry}/models/shared/versions/1"
    fetched = ml.models.get("shared", "1")
    assert fetched.path == model.path
    # Its files are in the registry's account, not the workspace's.
    blobstore = emulator.ml_client().datastores.get_default()
    assert blobstore.account_name not in str(fetched.path)

    ml.models.download("shared", "1", download_path=tmp_path / "out")
    downloaded = next((tmp_path / "out").rglob("weights.bin"))
    assert downloaded.read_bytes() == (folder / "weights.bin").read_bytes()
    mounted = emulator.asset_files(model.id) / "model" / "weights.bin"
    assert mounted.read_bytes() == downloaded.read_bytes()


def test_curated_environment(emulator: Emulator) -> None:
    ml = emulator.ml_client(registry_name="azureml")
    environment = ml.environments.get("sklearn-1.5", label="latest")
    assert environment.image.startswith("mcr.microsoft.com/azureml/curated/sklearn-1.5")
    assert environment.id == "azureml://registries/azureml/environments/sklearn-1.5/versions/1"


def test_principal_without_a_role_is_refused(emulator: Emulator) -> None:
    registry = emulator["ml_registry"]
    emulator.admin("POST", "/registries", {"name": registry, "principals": []})
    # MLClient asks the registry discovery first: the refusal comes from there.
    with pytest.raises(HttpResponseError, match="not allowed to access registry") as refused:
        emulator.ml_client(registry_name=registry)
    assert refused.value.status_code == 403


def test_registry_environment(emulator: Emulator, tmp_path: Path) -> None:
    registry = emulator["ml_registry"]
    ml = emulator.ml_client(registry_name=registry)
    conda = tmp_path / "conda.yaml"
    conda.write_text("name: shared\ndependencies:\n  - python=3.12\n")
    created = ml.environments.create_or_update(
        Environment(name="shared-env", version="1", image="registry.local/base:1", conda_file=conda)
    )
    assert created.id == f"azureml://registries/{registry}/environments/shared-env/versions/1"
    assert ml.environments.get("shared-env", label="latest").version == "1"
