"""Azure ML CLI (az ml) files from Azure/azureml-examples (tests/azml-examples), deployed
unchanged with the real command line against the emulator: the sample endpoint's scoring
script with its conda environment, then the same with registered assets, then a custom
container (an environment's image and its inference_config). The deploy file `import` writes
for them plans nothing new: it says the same deployment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from azure.ai.ml.entities import Environment, Model

from emulator.inference_images import SKLEARN_1_5, ensure_inference_images
from tests.e2e.conftest import App

EXAMPLES = Path(__file__).resolve().parents[1] / "azml-examples"
ONLINE = "cli/endpoints/online"
SAMPLE = f"{ONLINE}/managed/sample"
# What the sample's README shows model-1 answering for its sample-request.json.
ANSWER = [11055.977245525679, 4503.079536107787]


def deploy(app: App, *files: str) -> dict[str, str]:
    """`deploy` of az ml files alone (no deploy file at --config); its outputs."""
    args: list[str] = []
    for file in files:
        what = "endpoint" if file.endswith("endpoint.yml") else "deployment"
        args += [f"--{what}-file", file]
    return app.outputs(*args, config=f"{ONLINE}/no-deploy-file.yml")


def answer(app: App, outputs: dict[str, str], request: str) -> object:
    response = app.score(outputs, request)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.long  # an environment built from a conda file: started first (tests/conftest.py)
def test_azureml_examples_files_deploy_as_they_are(app: App) -> None:
    shutil.copytree(EXAMPLES / "cli", app.root / "cli")
    app.commit("azureml-examples' online endpoint files")
    endpoint = f"{SAMPLE}/endpoint.yml"

    # 1. A scoring script in a conda environment Azure ML builds (model-1, as the sample has it)
    first = deploy(app, endpoint, f"{SAMPLE}/blue-deployment.yml")
    assert first["endpoint-name"] == "my-endpoint"
    assert first["deployment-name"] == "blue"  # the rollout's name: the file's is only noted
    assert answer(app, first, f"{ONLINE}/model-1/sample-request.json") == ANSWER

    # `import` of the same files: the deploy file it writes plans nothing new
    written = f"{SAMPLE}/deploy.yml"
    imported = app.run("import", endpoint, f"{SAMPLE}/blue-deployment.yml", "--output", written)
    assert imported.returncode == 0, imported.stderr
    plan = app.run("plan", config=written)
    assert plan.returncode == 0, plan.stderr
    assert "plan for my-endpoint: nothing to do" in plan.stdout + plan.stderr

    # 2. Registered assets: registered first, as the sample's README does with az ml
    ml_client = app.emulator.ml_client()
    ml_client.models.create_or_update(
        Model(name="my-model", version="1", path=app.root / ONLINE / "model-1" / "model")
    )
    ml_client.environments.create_or_update(
        Environment(
            name="my-env",
            version="1",
            image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
            conda_file=app.root / ONLINE / "model-1" / "environment" / "conda.yaml",
        )
    )
    second = deploy(app, endpoint, f"{SAMPLE}/blue-deployment-with-registered-assets.yml")
    assert (second["model"], second["environment"]) == ("azureml:my-model:1", "azureml:my-env:1")
    assert second["deployment-name"] == "green"
    assert answer(app, second, f"{ONLINE}/model-1/sample-request.json") == ANSWER

    # 3. A custom container: the environment's image (in Azure Container Registry, pushed as
    # the sample's `az acr build` does) with its inference_config, no endpoint file
    ensure_inference_images()
    pushed = app.emulator.push(SKLEARN_1_5, "repo/img", "v1")
    third = deploy(app, f"{ONLINE}/managed/vnet/sample/blue-deployment-vnet.yml")
    assert third["endpoint-name"] == "placeholder-name"  # its endpoint_name
    name, version = third["environment"].removeprefix("azureml:").split(":")
    # registered by digest: the image this run saw, whatever the tag says later
    assert ml_client.environments.get(name, version).image == pushed
    request = f"{ONLINE}/managed/vnet/sample/sample-request.json"
    assert answer(app, third, request) == ANSWER
    assert json.loads((app.root / request).read_text())["data"]  # the sample's own request
