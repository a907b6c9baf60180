from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployer.cloud import PUBLIC, select_cloud
from deployer.errors import UsageError


@pytest.mark.parametrize("name", ["AzureCloud", "AzureUSGovernment", "AzureChinaCloud"])
def test_public_clouds(name: str) -> None:
    cloud = select_cloud(name, {})
    assert cloud is PUBLIC[name]
    assert cloud.arm_scope.startswith("https://management.") and cloud.arm_scope.endswith(
        "/.default"
    )
    assert not cloud.is_local


def test_unknown_cloud_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown cloud 'Mars'"):
        select_cloud("Mars", {})


def test_local_without_an_emulator(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs the local emulator") as caught:
        select_cloud("local", {"AZUREML_EMULATOR_DIR": str(tmp_path)})
    assert "python -m emulator up" in (caught.value.hint or "")


def test_local_reads_the_connection_file(tmp_path: Path) -> None:
    (tmp_path / "connection.json").write_text(
        json.dumps(
            {
                "arm_url": "https://127.0.0.1:1234",
                "authority_url": "https://127.0.0.1:1235",
                "admin_url": "https://127.0.0.1:1236",
                "ca_bundle": "/x/ca.pem",
                "cloud_metadata": {"resource_manager": "https://127.0.0.1:1234/"},
                "subscription_id": "sub",
                "resource_group": "rg",
                "workspace": "ws",
                "tenant_id": "tenant",
                "client_id": "client",
                "registry": "127.0.0.1:5000",
                "oidc": {"request_url": "https://127.0.0.1:1237/token?x=1", "request_token": "t"},
            }
        )
    )
    cloud = select_cloud("local", {"AZUREML_EMULATOR_DIR": str(tmp_path)})
    assert cloud.is_local and cloud.name == "AzureMLEmulator1234"
    assert cloud.arm_scope == "https://127.0.0.1:1234/.default"
    assert cloud.ca_bundle == "/x/ca.pem"
    assert cloud.local is not None and cloud.local.registry == "127.0.0.1:5000"
    # Azure ML's own images are the emulator's local builds, in no registry: kept by tag
    assert not cloud.pins_environment_image("mcr.microsoft.com/azureml/minimal-py312-inference")
    assert cloud.pins_environment_image("contoso.azurecr.io/scoring:v1")


def test_azure_pins_every_environment_image() -> None:
    cloud = PUBLIC["AzureCloud"]
    assert cloud.pins_environment_image("mcr.microsoft.com/azureml/minimal-py312-inference:latest")
    assert cloud.pins_environment_image("docker.io/tensorflow/serving:latest")


def test_a_connection_file_that_lacks_a_value_says_so(tmp_path: Path) -> None:
    (tmp_path / "connection.json").write_text(json.dumps({"arm_url": "https://127.0.0.1:1"}))
    with pytest.raises(UsageError, match="lacks 'subscription_id'"):
        select_cloud("local", {"AZUREML_EMULATOR_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    ("name", "scope"),
    [
        ("AzureCloud", "https://containerregistry.azure.net/.default"),
        ("AzureUSGovernment", "https://containerregistry.azure.us/.default"),
        ("AzureChinaCloud", "https://containerregistry.azure.cn/.default"),
    ],
)
def test_the_registry_is_signed_in_to_with_its_own_audience(name: str, scope: str) -> None:
    assert PUBLIC[name].registry_scope == scope
