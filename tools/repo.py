"""A git repository with the example model server and the test server, deployed with the real
`azureml-deploy` command line to an emulator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from emulator.client import Emulator
from tools import launcher
from tools.images import ROOT, base_image
from tools.runner.job import Event, StepPaths, job_environment, without_job_variables

CLI = launcher.SCRIPT

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
  environment_variables:
    COLOR: {color}
    SCORE_STATUS: "{score_status}"
    SCORE_DELAY: "{score_delay}"
    FAIL_INPUT: "{fail_input}"
    PREDICT: "{predict}"
  # Headroom for the load tests on a busy machine: Azure ML answers 429 past twice this many
  # requests in flight per instance, which would count a slow test host as a dropped request
  # (at 20 requests/s, 4 let a 0.4 s stall of a CI machine running four workers fail requests).
  request_settings: {{max_concurrent_requests_per_instance: 16}}
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
    rollout:
      {{strategy: canary, canary_steps: {canary_steps}, step_wait_seconds: {step_wait}{rollout}}}
"""


# The engine here has no default bridge (DESIGN.md): BuildKit's RUN steps get no network, as
# none of the test images needs one. A GitHub runner's engine has the bridge.
BUILD_NETWORK = "none"


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
    # every finished run's stdout and stderr, for the secret scan
    transcript: dict[str, str] = field(default_factory=dict)

    def server_deploy_file(
        self,
        *,
        name: str = "models",
        mode: str = "serve",
        color: str = "one",
        score_status: int = 200,
        canary_steps: str = "[50, 100]",
        step_wait: int = 1,
        score_delay: float = 0,
        fail_input: str = "",
        rollout: str = "",
        predict: str = "",
    ) -> None:
        """`rollout`: more of production's rollout mapping, e.g. `, bake_minutes: 1`;
        `predict`: the server's PREDICT mode (tests/images/model-server/server.py)."""
        text = SERVER_DEPLOY.format(
            score_delay=score_delay,
            fail_input=fail_input,
            predict=predict,
            rollout=rollout,
            name=name,
            mode=mode,
            color=color,
            score_status=score_status,
            canary_steps=canary_steps,
            step_wait=step_wait,
        )
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
        result = launcher.run(
            self._command(command, args, config),
            cwd=self.root,
            env=self._environ(env),
            timeout=timeout,
        )
        self.record(f"{command} {' '.join(args)}".strip(), result.stdout, result.stderr)
        return result

    def record(self, name: str, stdout: str, stderr: str) -> None:
        run = f"run {len(self.transcript) // 2 + 1}: {name}"
        self.transcript[f"{run} (stdout)"] = stdout or ""
        self.transcript[f"{run} (stderr)"] = stderr or ""

    def start(
        self,
        command: str,
        *args: str,
        config: str = "server/deploy.yml",
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[str]:
        """The CLI in the background, e.g. to cancel it; record() its output when done."""
        return launcher.popen(
            self._command(command, args, config),
            cwd=self.root,
            env=self._environ(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def _command(self, command: str, args: tuple[str, ...], config: str) -> list[str]:
        if command == "import":  # offline, and its files are its arguments
            return [CLI, command, *args]
        build = (
            ["--build-arg", f"BASE_IMAGE={base_image()}"] if command in ("deploy", "plan") else []
        )
        cloud = [] if command == "validate" else ["--cloud", "local"]  # validate is offline
        return [CLI, command, *cloud, "--config", config, *build, *args]

    def _environ(self, extra: dict[str, str] | None) -> dict[str, str]:
        """This process's environment without the runner's variables (tests set those
        explicitly), pointed at this app's emulator."""
        environ = without_job_variables(dict(os.environ))
        environ["AZUREML_EMULATOR_DIR"] = str(self.emulator.state_dir)
        environ.setdefault("AZUREML_DEPLOY_BUILD_NETWORK", BUILD_NETWORK)
        return {**environ, **(extra or {})}

    def deploy_in_a_job(self, folder: Path, **env: str) -> JobRun:
        return self.in_a_job("deploy", folder, env=env)

    def in_a_job(
        self,
        command: str,
        folder: Path,
        *args: str,
        pull_request: int | None = None,
        head_ref: str = "feature/scoring",
        config: str = "server/deploy.yml",
        env: Mapping[str, str] | None = None,
        event: Event | None = None,
    ) -> JobRun:
        """A command as the action runs it in a GitHub job: OIDC sign-in with the job's token
        service, outputs and summary as file commands, HOME and DOCKER_CONFIG in `folder`;
        `event`, else a push to main, or a `pull_request` event for `pull_request`."""
        run = JobRun(
            result=subprocess.CompletedProcess([], 0),
            output=folder / "github-output",
            summary=folder / "github-summary",
            home=folder / "home",
        )
        run.home.mkdir(parents=True, exist_ok=True)
        (folder / "temp").mkdir(exist_ok=True)
        for path in (run.output, run.summary, folder / "github-env", folder / "github-path"):
            path.touch()
        if event is None:
            event = (
                Event.pull_request(pull_request, head_ref=head_ref)
                if pull_request is not None
                else Event.push()
            )
        (folder / "event.json").write_text(json.dumps(event.payload))
        paths = StepPaths(
            workspace=str(self.root),
            event=str(folder / "event.json"),
            home=str(run.home),
            temp=str(folder / "temp"),
            output=str(run.output),
            summary=str(run.summary),
            env=str(folder / "github-env"),
            path=str(folder / "github-path"),
        )
        oidc = self.emulator["oidc"]
        azure = [
            "--tenant-id",
            self.emulator["tenant_id"],
            "--client-id",
            self.emulator["client_id"],
        ]
        run.result = self.run(
            command,
            *(azure if command != "validate" else []),
            *args,
            config=config,
            env={
                **job_environment(event, paths, oidc=(oidc["request_url"], oidc["request_token"])),
                "DOCKER_CONFIG": str(run.home / ".docker"),
                **(env or {}),
            },
        )
        self.record("step summary", run.summary.read_text(), "")
        return run

    def deploy(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.run("deploy", *args, **kwargs)

    def outputs(self, *args: str, **kwargs: Any) -> dict[str, str]:
        # outside the workspace: the keys are in it by request, the workspace is scanned for them
        path = self.root.parent / f"{self.root.name}-outputs.json"
        path.unlink(missing_ok=True)
        result = self.deploy("--output-json", str(path), *args, **kwargs)
        assert result.returncode == 0, result.stderr
        return dict(json.loads(path.read_text()))

    def score(
        self, outputs: dict[str, str], request: str = "server/request.json", **headers: str
    ) -> requests.Response:
        """A scoring request (`request`, a file in the repository) to the deployed endpoint."""
        return requests.post(
            outputs["scoring-uri"],
            data=(self.root / request).read_bytes(),
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


@dataclass
class JobRun:
    result: subprocess.CompletedProcess[str]
    output: Path  # GITHUB_OUTPUT
    summary: Path  # GITHUB_STEP_SUMMARY
    home: Path

    def outputs(self) -> dict[str, str]:
        from tools.runner.action import parse_file_commands

        return parse_file_commands(self.output.read_text())


def make_app(emulator: Emulator, root: Path) -> App:
    shutil.copytree(ROOT / "examples" / "credit-risk", root / "credit-risk")
    shutil.copytree(ROOT / "tests" / "images" / "model-server", root / "server")
    (root / "server" / "request.json").write_text('{"rows": [1, 2, 3]}\n')
    git(root, "init", "-q")
    app = App(root, emulator)
    app.server_deploy_file()
    return app
