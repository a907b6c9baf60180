"""A git repository with the example model server and the test server, deployed with the real
`azureml-deploy` command line to the session emulator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from emulator.client import Emulator
from tests.support.images import ROOT, base_image

CLI = str(Path(sys.executable).parent / "azureml-deploy")

SERVER_DEPLOY = """\
version: 1
endpoint: {{name: {name}}}
image:
  registry: contosoml.azurecr.io
  repository: model-server
  build: {{context: ., args: {{MODE: {mode}}}}}
deployment:
  instance_type: Standard_DS2_v2
  instance_count: 1
  environment_variables: {{COLOR: {color}, SCORE_STATUS: "{score_status}"}}
  inference_config:
    liveness_route: {{port: 5001, path: /health}}
    readiness_route: {{port: 5001, path: /ready}}
    scoring_route: {{port: 5001, path: /score}}
  readiness_probe: {{initial_delay: 1, period: 1, failure_threshold: 3}}
  liveness_probe: {{initial_delay: 1, period: 1}}
rollout: {{strategy: blue-green, timeout_minutes: 5}}
smoke_test:
  request: request.json
  expect_status: 200
  attempts: 2
  timeout_seconds: 5
environments:
  preview:
    endpoint: {{name: "pr{{pr}}-{name}"}}
    rollout: {{strategy: replace}}
    ttl_hours: 1
  production:
    rollout: {{strategy: canary, canary_steps: [50, 100], step_wait_seconds: 1}}
"""


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@dataclass
class App:
    """A repository to deploy from, and how to run the CLI in it."""

    root: Path
    emulator: Emulator

    def server_deploy_file(
        self,
        name: str = "models",
        mode: str = "serve",
        color: str = "one",
        score_status: int = 200,
    ) -> None:
        text = SERVER_DEPLOY.format(name=name, mode=mode, color=color, score_status=score_status)
        (self.root / "server" / "deploy.yml").write_text(text)
        self.commit(f"{name} {mode} {color} {score_status}")

    def commit(self, message: str) -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.root, "rev-parse", "HEAD")

    def run(
        self,
        command: str,
        *args: str,
        config: str = "server/deploy.yml",
        env: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "ACTIONS_", "RUNNER_"))
        }
        environ["AZUREML_EMULATOR_DIR"] = str(self.emulator.state_dir)
        environ.update(env or {})
        extra = (
            ["--build-arg", f"BASE_IMAGE={base_image()}"] if command in ("deploy", "plan") else []
        )
        return subprocess.run(
            [CLI, command, "--cloud", "local", "--config", config, *extra, *args],
            cwd=self.root,
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(
        self, command: str, *args: str, config: str = "server/deploy.yml"
    ) -> subprocess.Popen[str]:
        """The CLI in the background, e.g. to cancel it."""
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "ACTIONS_", "RUNNER_"))
        }
        environ["AZUREML_EMULATOR_DIR"] = str(self.emulator.state_dir)
        return subprocess.Popen(
            [
                CLI,
                command,
                "--cloud",
                "local",
                "--config",
                config,
                "--build-arg",
                f"BASE_IMAGE={base_image()}",
                *args,
            ],
            cwd=self.root,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def deploy(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.run("deploy", *args, **kwargs)

    def outputs(self, *args: str, **kwargs: Any) -> dict[str, str]:
        path = self.root / "outputs.json"
        path.unlink(missing_ok=True)
        result = self.deploy("--output-json", str(path), *args, **kwargs)
        assert result.returncode == 0, result.stderr
        return dict(json.loads(path.read_text()))

    def score(self, outputs: dict[str, str], **headers: str) -> requests.Response:
        return requests.post(
            outputs["scoring-uri"],
            data=(self.root / "server" / "request.json").read_bytes(),
            headers={
                "Authorization": f"Bearer {outputs['primary-key']}",
                "Content-Type": "application/json",
                **headers,
            },
            verify=self.emulator["ca_bundle"],
            timeout=30,
        )

    def endpoint(self, name: str) -> dict[str, Any] | None:
        state = self.emulator.admin("GET", "/state")
        return next((e for e in state["endpoints"] if e["name"] == name), None)


@pytest.fixture
def app(emulator: Emulator, tmp_path: Path) -> Iterator[App]:
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "examples" / "credit-risk", root / "credit-risk")
    shutil.copytree(ROOT / "tests" / "images" / "model-server", root / "server")
    (root / "server" / "request.json").write_text('{"rows": [1, 2, 3]}\n')
    git(root, "init", "-q")
    app = App(root, emulator)
    app.server_deploy_file()
    yield app
