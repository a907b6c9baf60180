"""Models, code and environments with the real azure-ai-ml, their files through Azurite."""

from __future__ import annotations

import filecmp
import socket
from pathlib import Path

import pytest
from azure.ai.ml.entities import (
    AzureBlobDatastore,
    BuildContext,
    CodeConfiguration,
    Environment,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
    SasTokenConfiguration,
)
from azure.ai.ml.entities._assets import Code
from azure.core.exceptions import HttpResponseError

from emulator.client import Emulator
from tests.emulator.arm import ROUTES

MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.7
  sklearn:
    pickled_model: model.pkl
    sklearn_version: 1.5.1
mlflow_version: 2.16.0
"""


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def _same_tree(left: Path, right: Path) -> bool:
    comparison = filecmp.dircmp(left, right)
    if comparison.left_only or comparison.right_only or comparison.diff_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, comparison.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(_same_tree(left / d, right / d) for d in comparison.common_dirs)


def test_model_folder_uploads_registers_and_downloads(emulator: Emulator, tmp_path: Path) -> None:
    ml = emulator.ml_client()
    folder = _tree(
        tmp_path / "model",
        {"weights.bin": bytes(range(256)) * 64, "config/labels.json": b'["no", "yes"]'},
    )
    model = ml.models.create_or_update(Model(name="credit", path=folder, type="custom_model"))
    assert model.version == "1"
    assert "/datastores/workspaceblobstore/paths/LocalUpload/" in str(model.path)

    ml.models.download("credit", "1", download_path=tmp_path / "out")
    assert _same_tree(folder, tmp_path / "out" / "credit" / "model")
    # What a deployment mounts: the same files, read by the emulator from storage.
    assert _same_tree(folder, emulator.asset_files(model.id) / "model")

    # A second version through the container's nextVersion; `@latest` and the label name it.
    _tree(folder, {"weights.bin": b"retrained"})
    second = ml.models.create_or_update(Model(name="credit", path=folder))
    assert second.version == "2"
    assert ml.models.get("credit", label="latest").version == "2"
    assert [m.version for m in ml.models.list("credit")] == ["2", "1"]


def test_model_file_and_mlflow_folder(emulator: Emulator, tmp_path: Path) -> None:
    ml = emulator.ml_client()
    weights = tmp_path / "weights.onnx"
    weights.write_bytes(b"onnx" * 100)
    single = ml.models.create_or_update(Model(name="onnx", version="3", path=weights))
    assert str(single.path).endswith("/weights.onnx")
    ml.models.download("onnx", "3", download_path=tmp_path / "single")
    assert (tmp_path / "single" / "onnx" / "weights.onnx").read_bytes() == weights.read_bytes()
    mounted = emulator.asset_files(single.id)
    assert [p.name for p in mounted.iterdir()] == ["weights.onnx"]

    mlflow = _tree(tmp_path / "mlflow", {"MLmodel": MLMODEL.encode(), "model.pkl": b"pickle"})
    model = ml.models.create_or_update(Model(name="flow", path=mlflow, type="mlflow_model"))
    assert model.type == "mlflow_model"
    assert ml.models.get("flow", "1").type == "mlflow_model"


def test_versions_are_immutable_and_archived(emulator: Emulator, tmp_path: Path) -> None:
    ml = emulator.ml_client()
    folder = _tree(tmp_path / "m", {"a.txt": b"one"})
    ml.models.create_or_update(Model(name="fixed", version="1", path=folder))
    # Same content again: the same version, no error.
    assert ml.models.create_or_update(Model(name="fixed", version="1", path=folder)).version == "1"

    _tree(folder, {"a.txt": b"two"})
    with pytest.raises(HttpResponseError, match="Asset paths cannot be updated"):
        ml.models.create_or_update(Model(name="fixed", version="1", path=folder))

    ml.models.create_or_update(Model(name="fixed", version="2", path=folder))
    ml.models.archive("fixed", "2")
    assert [m.version for m in ml.models.list("fixed")] == ["1"]
    assert ml.models.get("fixed", label="latest").version == "1"
    ml.models.restore("fixed", "2")
    assert [m.version for m in ml.models.list("fixed")] == ["2", "1"]


def test_code_and_environments(emulator: Emulator, tmp_path: Path) -> None:
    ml = emulator.ml_client()
    source = _tree(tmp_path / "src", {"score.py": b"def init():\n    pass\n"})
    # MLClient keeps code operations private; deployments register code through them.
    code = ml._code.create_or_update(Code(name="scoring", version="1", path=source))
    assert str(code.path).endswith("/src")
    assert (emulator.asset_files(code.id) / "src" / "score.py").read_bytes().startswith(b"def init")

    conda = tmp_path / "conda.yaml"
    conda.write_text("name: env\ndependencies:\n  - python=3.11\n  - pip:\n    - numpy\n")
    environment = ml.environments.create_or_update(
        Environment(
            name="scoring-env",
            version="1",
            image="mcr.microsoft.com/azureml/minimal-py312-inference:latest",
            conda_file=conda,
        )
    )
    assert environment.conda_file["dependencies"][0] == "python=3.11"
    assert ml.environments.get("scoring-env", "1").image.endswith("minimal-py312-inference:latest")

    context = _tree(tmp_path / "ctx", {"Dockerfile": b"FROM scratch\n", "app/x.txt": b"x"})
    built = ml.environments.create_or_update(
        Environment(name="built", version="1", build=BuildContext(path=context))
    )
    assert built.build.path.startswith("https://") or "datastores" in built.build.path
    assert ml.environments.get("built", label="latest").version == "1"
    assert (emulator.asset_files(built.id) / "ctx" / "Dockerfile").exists()


def test_a_deployments_inline_code_is_an_anonymous_code_version(
    emulator: Emulator, image: str, tmp_path: Path
) -> None:
    ml = emulator.ml_client()
    source = _tree(tmp_path / "app", {"score.py": b"def init():\n    pass\n"})
    ml.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="with-code")).result()
    since = emulator.last_request()
    ml.online_deployments.begin_create_or_update(
        ManagedOnlineDeployment(
            name="blue",
            endpoint_name="with-code",
            environment=Environment(image=image, inference_config=ROUTES),
            code_configuration=CodeConfiguration(code=str(source), scoring_script="score.py"),
            instance_type="Standard_DS3_v2",
            instance_count=1,
        )
    ).result()
    registered = [
        entry["path"]
        for entry in emulator.requests_since(since, part="arm")
        if entry["method"] == "PUT" and "/codes/" in entry["path"]
    ]
    assert len(registered) == 1
    name, version = registered[0].split("/codes/")[1].split("/versions/")
    code = ml._code.get(name, version)
    assert code._is_anonymous
    assert (emulator.asset_files(code.id) / "app" / "score.py").exists()


def test_datastores_and_the_workspace_storage_account(emulator: Emulator) -> None:
    ml = emulator.ml_client()
    default = ml.datastores.get_default()
    assert default.name == "workspaceblobstore"
    assert default.type == "AzureBlob" and default.protocol == "https"
    assert default.container_name.startswith("azureml-blobstore-")
    assert [d.name for d in ml.datastores.list()] == ["workspaceblobstore"]
    # The SDK asks for an expirable secret: a SAS, not the account key.
    with_secret = ml.datastores.get("workspaceblobstore", include_secrets=True)
    assert "se=" in with_secret.credentials.sas_token
    other = AzureBlobDatastore(
        name="shared",
        account_name=default.account_name,
        container_name="shared",
        credentials=SasTokenConfiguration(sas_token="sv=2024-01-01&sig=given"),
    )
    ml.datastores.create_or_update(other)
    assert ml.datastores.get("shared", include_secrets=True).credentials.sas_token == (
        "sv=2024-01-01&sig=given"
    )
    assert not ml.datastores.get("shared").credentials.sas_token
    workspace = ml.workspaces.get(emulator["workspace"])
    assert workspace.storage_account.endswith(
        f"/providers/Microsoft.Storage/storageAccounts/{default.account_name}"
    )


def test_triton_model_and_environment_with_inference_config(
    emulator: Emulator, tmp_path: Path
) -> None:
    ml = emulator.ml_client()
    repository = _tree(
        tmp_path / "models", {"densenet/1/model.onnx": b"onnx", "densenet/config.pbtxt": b"x"}
    )
    triton = ml.models.create_or_update(Model(name="triton", path=repository, type="triton_model"))
    assert triton.type == "triton_model"

    environment = ml.environments.create_or_update(
        Environment(
            name="served", version="7", image="registry.local/app:1", inference_config=ROUTES
        )
    )
    assert environment.inference_config.scoring_route.path == "/score"
    with pytest.raises(HttpResponseError, match="already exists with other content"):
        ml.environments.create_or_update(
            Environment(
                name="served", version="7", image="registry.local/app:2", inference_config=ROUTES
            )
        )


def test_the_storage_proxy_refuses_other_names(emulator: Emulator) -> None:
    host, port = emulator["storage_proxy"].removeprefix("http://").split(":")
    for target in ("example.com:443", "127.0.0.1:22", "acct.blob.core.windows.net:443"):
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            assert connection.recv(100).startswith(b"HTTP/1.1 403 ")
