"""Running Azure ML's local inference images as a deployment runs them: the model and the code
copied where Azure mounts them, the server asked from inside the container (no network)."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
from docker.models.containers import Container

MODEL_FILES = Path(__file__).resolve().parents[1] / "images" / "azureml-model"
APP_ROOT = "/var/azureml-app"
# Where Azure mounts a registered model: /var/azureml-app/azureml-models/<name>/<version>.
MODEL_DIR = f"{APP_ROOT}/azureml-models/linear/1"
LABEL = "azureml-deploy.tests.inference"


def archive(files: dict[str, bytes]) -> bytes:
    """A tar of `files` (path → content), read-only for every user, as Azure's mounts are."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mode = len(content), 0o444
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def app_files(score: bytes | None = None) -> dict[str, bytes]:
    """The model under AZUREML_MODEL_DIR and the code under the app root."""
    return {
        f"{MODEL_DIR}/model/linear.json": (MODEL_FILES / "model" / "linear.json").read_bytes(),
        f"{APP_ROOT}/onlinescoring/score.py": score
        or (MODEL_FILES / "onlinescoring" / "score.py").read_bytes(),
    }


def deployment_variables() -> dict[str, str]:
    return {
        "AML_APP_ROOT": f"{APP_ROOT}/onlinescoring",
        "AZUREML_ENTRY_SCRIPT": "score.py",
        "AZUREML_MODEL_DIR": MODEL_DIR,
    }


@contextmanager
def running(
    image: str, files: dict[str, bytes], variables: dict[str, str] | None = None
) -> Iterator[Container]:
    """A container of `image` with no network, `files` in place before it starts, and the
    deployment's variables (`deployment_variables()` unless given)."""
    client = docker.from_env()
    environment = deployment_variables() if variables is None else variables
    container = client.containers.create(
        image, network_mode="none", environment=environment, labels=[LABEL]
    )
    try:
        container.put_archive("/", archive(files))
        container.start()
        yield container
    finally:
        container.remove(force=True)


_ASK = """
import sys, time, urllib.request, urllib.error
method, path, body = sys.argv[1], sys.argv[2], sys.argv[3].encode() or None
request = urllib.request.Request("http://127.0.0.1:5001" + path, data=body, method=method,
                                 headers={"Content-Type": "application/json"})
for _ in range(300):
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            print(answer.status, answer.read().decode()); break
    except urllib.error.HTTPError as error:
        print(error.code, error.read().decode()); break
    except OSError:
        time.sleep(0.1)
else:
    print(0, "the server never answered")
"""


def ask(container: Container, method: str, path: str, body: object = None) -> tuple[int, str]:
    """The server's answer on its documented port, from inside the container."""
    payload = "" if body is None else json.dumps(body)
    result = container.exec_run(["python3", "-c", _ASK, method, path, payload])
    status, _, text = result.output.decode().strip().partition(" ")
    return int(status), text


def wait_for_log(container: Container, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        log = str(container.logs().decode(errors="replace"))
        if text in log or time.monotonic() > deadline:
            return log
        time.sleep(0.2)
