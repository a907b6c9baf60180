"""Scenario 5: the action container's cold start — `docker run` to its first request to Azure —
and its image size, for the lock-file image against an unpinned `pip install azure-ai-ml` one."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from bench.measure import median
from bench.scenario import Scenario
from emulator.client import Emulator
from tools.runner.action import ActionHarness
from tools.runner.job import Event

ROOT = Path(__file__).resolve().parents[1]

# What a quick docker action does: the SDKs unpinned, pip's cache and compilers' leftovers kept.
# It needs a docker CLI to build as much as the action does: the same one, from the same stage
# of the action's Dockerfile, so that the two differ only in how Python is installed.
UNPINNED_FINAL_STAGE = """\
FROM ${BASE_IMAGE}
COPY --from=docker-cli /tmp/usr/bin/docker /usr/local/bin/docker
RUN pip install azure-ai-ml azure-identity docker pyyaml jsonschema
COPY deployer/ /app/deployer/
COPY schema/ /app/schema/
COPY entrypoint.py /app/entrypoint.py
ENV PYTHONPATH=/app PYTHONUNBUFFERED=1
ENTRYPOINT ["python", "/app/entrypoint.py"]
"""


def unpinned_dockerfile() -> str:
    """The action's Dockerfile up to its docker-cli stage, then the quick action's stage."""
    action = (ROOT / "Dockerfile").read_text()
    cli_stage = action.index("FROM ${BASE_IMAGE} AS docker-cli")
    cli_end = action.index("FROM ${BASE_IMAGE} AS install")
    arg = action.index("ARG BASE_IMAGE=")
    header = action[arg : action.index("\n", arg) + 1]
    return header + action[cli_stage:cli_end] + UNPINNED_FINAL_STAGE


def image_size(image: str) -> int:
    result = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", image],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout.strip())


def build_unpinned(harness: ActionHarness, workdir: Path) -> str:
    context = workdir / "unpinned"
    context.mkdir()
    for part in ("deployer", "schema"):
        shutil.copytree(ROOT / part, context / part)
    shutil.copy(ROOT / "entrypoint.py", context / "entrypoint.py")
    (context / "Dockerfile").write_text(unpinned_dockerfile())
    tag = "azureml-deploy-bench/unpinned:latest"
    subprocess.run(
        [
            "docker",
            "build",
            "-t",
            tag,
            "--build-arg",
            f"BASE_IMAGE={harness.base_image}",
            "--network",
            "host",
            str(context),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    return tag


def first_request_seconds(
    harness: ActionHarness, emulator: Emulator, workspace: Path, temp: Path
) -> float:
    """From `docker run` to the emulator's first request from the action (a `plan`)."""
    since = emulator.last_request()
    started = time.time()
    step = harness.run(
        workspace=workspace,
        temp=temp,
        with_={
            "command": "plan",
            "config": "credit-risk/deploy.yml",
            "cloud": "local",
            "client-id": emulator["client_id"],
            "tenant-id": emulator["tenant_id"],
        },
        event=Event.push(),
        oidc=(emulator["oidc"]["request_url"], emulator["oidc"]["request_token"]),
        env={"AZUREML_EMULATOR_DIR": str(emulator.state_dir)},
        mounts=[f"{emulator.state_dir}:{emulator.state_dir}:ro"],
    )
    if step.exit_code != 0:
        raise RuntimeError(f"the action container failed:\n{step.text[-3000:]}")
    first = min(e["time"] for e in emulator.requests_since(since) if e["part"] != "admin")
    return round(float(first) - started, 2)


def scenario(emulator: Emulator, workdir: Path, base_image: str, runs: int) -> Scenario:

    result = Scenario(
        "5. cold start of the action container",
        "the lock-file image (reproducible, hash-checked) costs nothing: it starts within "
        "10 % of the unpinned image's time and is no bigger",
    )
    pinned = ActionHarness(base_image)
    started = time.monotonic()
    pinned.build(reuse=False)  # its build is measured
    build_seconds = time.monotonic() - started
    unpinned = ActionHarness(base_image)
    unpinned.image = build_unpinned(unpinned, workdir)
    workspace = workdir / "coldstart-workspace"
    shutil.copytree(ROOT / "examples" / "credit-risk", workspace / "credit-risk")
    for run in range(runs):
        order = [(pinned, result.action), (unpinned, result.baseline)]
        for harness, samples in order if run % 2 == 0 else reversed(order):
            temp = workdir / f"coldstart-{run}-{len(samples)}-{id(harness)}"
            samples.append(first_request_seconds(harness, emulator, workspace, temp))
    action_size, unpinned_size = image_size(pinned.image), image_size(unpinned.image)
    result.figures = {
        "action_image_mb": round(action_size / 1e6),
        "unpinned_image_mb": round(unpinned_size / 1e6),
        "base_image_mb": round(image_size(base_image) / 1e6),
        "action_image_build_s": round(build_seconds, 1),
    }
    result.goal_met = (
        median(result.action) <= 1.1 * median(result.baseline) and action_size <= unpinned_size
    )
    subprocess.run(["docker", "image", "rm", "-f", pinned.image], capture_output=True, check=False)
    return result
