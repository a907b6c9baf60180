"""A runner-faithful harness for this repository's Docker action.

It does what the GitHub Actions runner does for `runs: using: docker` (see the runner contract):
`docker build -t <label>:<id> -f Dockerfile <dir>`, then `docker run` with the runner's flags,
mounts, working directory, `-e NAME` environment passing (values travel in the docker CLI's own
environment), INPUT_* from the step's `with:` plus action.yml defaults (hyphens kept), GITHUB_*
for the event, the OIDC variables only for jobs with `id-token: write`; afterwards it parses the
file commands (GITHUB_OUTPUT heredocs, GITHUB_STEP_SUMMARY) and the workflow commands on stdout
and stderr with the runner's rules, and applies the runner's secret masker.

Deliberate differences, all needed because GitHub is not reachable here:
- `--network host`, so the container reaches the emulator on 127.0.0.1 (the runner uses the
  default bridge, where localhost is the container itself);
- the image is built with `--build-arg BASE_IMAGE=<local base>` on the host network (public
  images cannot be pulled, and pip needs the network);
- the emulator's state directory is mounted read-only at its own path, and `cloud: local` is
  passed, so the action talks to the emulator instead of Azure.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tools.runner.expressions import interpolate
from tools.runner.job import UNREACHABLE_API, Event, StepPaths, job_environment
from tools.runner.log import Command, foreign_commands, replay_streams

ROOT = Path(__file__).resolve().parents[2]


# --- file commands (FileCommandManager.cs) --------------------------------------------------


def parse_file_commands(text: str) -> dict[str, str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    values: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line:
            index += 1
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals != -1 and (heredoc == -1 or equals < heredoc):
            name, _, value = line.partition("=")
            values[name] = value
            index += 1
            continue
        if heredoc == -1:
            raise ValueError(f"Invalid format '{line}'")
        name, delimiter = line[:heredoc], line[heredoc + 2 :]
        if not name or not delimiter:
            raise ValueError(f"Invalid format '{line}'")
        try:
            end = lines.index(delimiter, index + 1)
        except ValueError:
            raise ValueError(f"Matching delimiter not found '{delimiter}'") from None
        values[name] = "\n".join(lines[index + 1 : end])
        index = end + 1
    return values


# --- the run ---------------------------------------------------------------------------------


@dataclass
class StepResult:
    exit_code: int
    log: list[str]  # as the runner shows it: commands consumed, secrets masked
    commands: list[Command]
    outputs: dict[str, str]
    summary: str
    leaks: list[str]  # secrets seen in a log line before (or without) their add-mask
    masked: set[str] = field(default_factory=set)
    job_outputs_dropped: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # commands the action did not write
    stderr: str = ""

    def annotations(self, kind: str = "error") -> list[Command]:
        return [command for command in self.commands if command.name == kind]

    @property
    def text(self) -> str:
        return "\n".join(self.log)


# What Dockerfile copies into the action's image (.dockerignore keeps everything else out).
IMAGE_SOURCES = (
    "Dockerfile",
    ".dockerignore",
    "requirements.lock",
    "entrypoint.py",
    "deployer",
    "schema",
)


def context_digest(base_image: str) -> str:
    """A digest of the action image's inputs: the base image's id and every file of the build
    context that .dockerignore lets in (compiled Python left out), by path and content."""
    inspected = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", base_image],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    digest = hashlib.sha256(f"{base_image}\0{inspected.stdout.strip()}\0".encode())
    for name in IMAGE_SOURCES:
        top = ROOT / name
        paths = [top] if top.is_file() else sorted(top.rglob("*"))
        for path in paths:
            if "__pycache__" in path.parts or path.suffix == ".pyc" or path.is_dir():
                continue
            digest.update(f"{path.relative_to(ROOT)}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:32]


def image_exists(tag: str) -> bool:
    inspected = subprocess.run(
        ["docker", "image", "inspect", tag], capture_output=True, check=False, timeout=60
    )
    return inspected.returncode == 0


class ActionHarness:
    """Builds this repository's action like the runner and runs it like the runner."""

    def __init__(self, base_image: str, repository: str = "octo-org/octo-repo") -> None:
        self.base_image = base_image
        self.repository = repository
        self.label = hashlib.sha256(b"harness-runner").hexdigest()[:6]
        self.action = yaml.safe_load((ROOT / "action.yml").read_text())
        self.image = ""

    def build(self, *, reuse: bool = True) -> str:
        """`docker build` as the runner does it. With `reuse`, the image is tagged by what goes
        into it (the base image and the build context) and built once per machine, as
        scripts/base-image.sh builds the base image: every test worker and session with the
        same sources runs the same image. `reuse=False` always builds (a benchmark of the
        build)."""
        tag = f"{self.label}:{uuid.uuid4().hex}"
        if reuse:
            tag = f"{self.label}:{context_digest(self.base_image)}"
            if image_exists(tag):
                self.image = tag
                return tag
        subprocess.run(
            [
                "docker",
                "build",
                "-t",
                tag,
                "-f",
                str(ROOT / "Dockerfile"),
                "--build-arg",
                f"BASE_IMAGE={self.base_image}",
                "--network",
                "host",
                str(ROOT),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
        self.image = tag
        return tag

    def inputs(self, given: dict[str, str], github_token: str = "") -> dict[str, str]:
        """INPUT_<NAME>: the step's `with:` over action.yml defaults; `required` not enforced.
        A default may be an expression: the runner evaluates it (`${{ github.token }}`)."""
        values = {}
        context = {"github": {"token": github_token}}
        for name, spec in (self.action.get("inputs") or {}).items():
            default = str((spec or {}).get("default", ""))
            if "${{" in default:
                default = interpolate(default, context)
            values[name] = str(given.get(name, default))
        for name, value in given.items():
            values.setdefault(name, str(value))  # unexpected inputs are passed (with a warning)
        return {f"INPUT_{name.replace(' ', '_').upper()}": value for name, value in values.items()}

    def run(
        self,
        *,
        workspace: Path,
        temp: Path,
        with_: dict[str, str],
        event: Event,
        oidc: tuple[str, str] | None,
        run_id: str | None = None,
        env: dict[str, str] | None = None,
        mounts: list[str] | None = None,
        issued_secrets: Callable[[], list[str]] | None = None,
        timeout: float = 600,
        github_token: str = "",
        api_url: str = UNREACHABLE_API,
    ) -> StepResult:
        assert self.image, "build() first"
        for folder in ("_github_home", "_github_workflow", "_runner_file_commands"):
            (temp / folder).mkdir(parents=True, exist_ok=True)
        (temp / "_github_workflow" / "event.json").write_text(json.dumps(event.payload))
        guid = uuid.uuid4()
        files = {
            name: temp / "_runner_file_commands" / f"{name}_{guid}"
            for name in ("set_output", "set_env", "add_path", "save_state", "step_summary")
        }
        for path in files.values():
            path.write_text("")

        def inside(path: Path) -> str:
            return f"/github/file_commands/{path.name}"

        paths = StepPaths(
            workspace="/github/workspace",
            event="/github/workflow/event.json",
            home="/github/home",
            temp="/github/runner_temp",
            output=inside(files["set_output"]),
            summary=inside(files["step_summary"]),
            env=inside(files["set_env"]),
            path=inside(files["add_path"]),
            state=inside(files["save_state"]),
        )
        variables = {
            **self.inputs(with_, github_token),
            **job_environment(
                event,
                paths,
                oidc=oidc,
                repository=self.repository,
                run_id=run_id,
                api_url=api_url,
            ),
            **(env or {}),
        }
        # the runner sets these two on the docker command line itself
        variables.pop("GITHUB_ACTIONS")
        variables.pop("CI")
        name = re.sub(r"[^a-z0-9]", "", self.image.split(":")[0]) + "_" + secrets.token_hex(3)
        command = [
            "docker",
            "run",
            "--name",
            name,
            "--label",
            self.label,
            "--workdir",
            "/github/workspace",
            "--rm",
        ]
        for variable in variables:
            command += ["-e", variable]
        command += ["-e", "GITHUB_ACTIONS=true", "-e", "CI=true"]
        entrypoint = self.action["runs"].get("entrypoint")
        if entrypoint:
            command += ["--entrypoint", entrypoint]
        command += ["--network", "host"]  # deliberate: reach the emulator on 127.0.0.1
        command += [
            "-v",
            "/var/run/docker.sock:/var/run/docker.sock",
            "-v",
            f"{temp}:/github/runner_temp",
            "-v",
            f"{temp / '_github_home'}:/github/home",
            "-v",
            f"{temp / '_github_workflow'}:/github/workflow",
            "-v",
            f"{temp / '_runner_file_commands'}:/github/file_commands",
            "-v",
            f"{workspace}:/github/workspace",
        ]
        for mount in mounts or []:
            command += ["-v", mount]
        command.append(self.image)
        # The values travel in the docker CLI's own environment, never on its command line.
        cli_environment = {**os.environ, **variables}
        # Two pipes, as the runner reads them; it may handle a batch's stderr lines before
        # its stdout lines, and the reading below assumes it does.
        completed = subprocess.run(
            command,
            env=cli_environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        issued = issued_secrets() if issued_secrets is not None else []
        if github_token:  # the runner registers the job token as a secret
            issued.append(github_token)
        return self._read(completed, files, issued, oidc)

    def _read(
        self,
        completed: subprocess.CompletedProcess[str],
        files: dict[str, Path],
        known: list[str],
        oidc: tuple[str, str] | None,
    ) -> StepResult:
        outputs = parse_file_commands(files["set_output"].read_text())
        keys = [
            value
            for key, value in outputs.items()
            if key in ("primary-key", "secondary-key") and value
        ]
        watched = [*known, *keys]
        if oidc is not None:
            watched.append(oidc[1])
        runner = replay_streams(completed.stdout or "", completed.stderr or "", watched)
        masker, leaks = runner.masker, list(runner.leaks)
        for key in keys:  # key outputs must be masked, printed or not
            if key not in masker.values:
                leaks.append(f"{key[:4]}… (a key output) was never masked")
        dropped = [
            name
            for name, value in outputs.items()
            if any(form in value for form in masker.patterns())
        ]
        return StepResult(
            exit_code=completed.returncode,
            log=runner.log,
            commands=runner.commands,
            outputs=outputs,
            summary=files["step_summary"].read_text(),
            leaks=leaks,
            masked=set(masker.values),
            job_outputs_dropped=dropped,
            foreign=foreign_commands(runner),
            stderr=completed.stderr or "",
        )
