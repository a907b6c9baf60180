"""Azure ML's inference images, built locally under their real names: layout, user, entry
point, and the inference server answering on port 5001 with the model and the code where Azure
puts them."""

from __future__ import annotations

import json

import docker
import pytest

from emulator.inference_images import (
    MINIMAL_PY311,
    MINIMAL_PY312,
    OPENMPI_UBUNTU2204,
    SKLEARN_1_5,
)
from tests.emulator.inference import app_files, ask, running, wait_for_log

pytestmark = pytest.mark.docker


def test_the_images_have_azure_names_user_and_entry_point(images: tuple[str, ...]) -> None:
    assert {MINIMAL_PY312, MINIMAL_PY311, OPENMPI_UBUNTU2204, SKLEARN_1_5} <= set(images)
    client = docker.from_env()
    minimal = client.images.get(MINIMAL_PY312).attrs["Config"]
    assert minimal["User"] == "dockeruser"
    assert minimal["Cmd"] == ["runsvdir", "/var/runit"]
    assert "5001/tcp" in minimal["ExposedPorts"]
    variables = dict(line.split("=", 1) for line in minimal["Env"])
    assert variables["AML_APP_ROOT"] == "/var/azureml-app"
    assert variables["AZUREML_CONDA_ENVIRONMENT_PATH"] == "/azureml-envs/minimal"
    assert variables["PATH"].startswith("/azureml-envs/minimal/bin:")
    assert client.images.get(OPENMPI_UBUNTU2204).attrs["Config"]["User"] in ("", "root")
    assert client.images.get(MINIMAL_PY311).id == client.images.get(MINIMAL_PY312).id


def test_the_minimal_image_scores_with_the_mounted_model(images: tuple[str, ...]) -> None:
    with running(MINIMAL_PY312, app_files()) as container:
        assert ask(container, "GET", "/") == (200, "Healthy")
        status, answer = ask(container, "POST", "/score", {"data": [[1, 1, 1], [0, 0, 2]]})
        log = container.logs().decode()
    assert status == 200, log
    assert json.loads(answer) == [6.5, 6.5]  # 1+2+3 + 0.5 and 2*3 + 0.5, from linear.json
    assert "Starting AzureML Inference Server HTTP." in log
    assert "Entry Script Name: /var/azureml-app/onlinescoring/score.py" in log
    assert "Model Directory: /var/azureml-app/azureml-models/linear/1" in log


def test_an_init_that_raises_shows_its_traceback_in_the_log(images: tuple[str, ...]) -> None:
    broken = b"def init():\n    raise RuntimeError('no model at all')\n\ndef run(data):\n    pass\n"
    with running(MINIMAL_PY312, app_files(score=broken)) as container:
        log = wait_for_log(container, "RuntimeError: no model at all")
    assert "Traceback (most recent call last):" in log
    assert "RuntimeError: no model at all" in log
