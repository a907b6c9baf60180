"""Scenario 11: an environment built on the runner (`build_on: runner`) against the same
environment built by Azure ML, first and unchanged.

The environment is a build context, as people write one to install what a conda file would:
Azure ML's minimal inference image and a dependency layer of 104 MiB installed from a wheel
(tools/heavy_server.py), with the seed's model and scoring script. Per round, each side
deploys an environment neither has built before (a marker of its own as the Dockerfile's
first step, so no layer cache serves it), then the same commit again:

- **Azure ML builds it** (`environment: {build: {path: docker}}`): the action registers the
  context; Azure ML's builder (the emulator's, on this machine's engine: the emulator README's
  "Environment image builds") builds it while the deployment is created, and pushes it to the
  workspace's registry.
- **the runner builds it** (`build_on: runner`): the action builds the context with its
  BuildKit path and registry cache, pushes it to the workspace's registry, and registers the
  environment with the image by digest.

Measured: each deploy's wall time and the action's own timing line, and the blobs the
workspace's registry received (an unchanged run must build and push nothing). A conda file
(`{image, conda_file}`) is built by Azure ML only: the Dockerfile Azure ML generates for one
runs `conda env create` on Azure's base images, which is not a contract the action could
rebuild faithfully; a build context is one, and is what `build_on: runner` takes.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from bench import sides
from bench.assets import INFERENCE_IMAGE, ROWS, SEED, SMOKE_TEST, check_serving, deploy_text
from bench.assets_report import size
from bench.measure import median
from bench.scenario import Scenario, phase_seconds
from emulator.client import Emulator
from tools.heavy_server import dependency_wheel
from tools.repo import App, git

GOAL = (
    "an unchanged re-run builds and pushes nothing on either side; first and unchanged "
    "deploys side by side"
)
AZURE = "{build: {path: docker}}"
RUNNER = "{build: {path: docker}, build_on: runner}"


def _dockerfile(marker: str) -> str:
    return (
        f"FROM {INFERENCE_IMAGE}\n"
        f"ENV BENCH_ROUND={marker}\n"
        "COPY wheels/ /wheels/\n"
        "RUN python3 -m pip install --no-index --no-cache-dir --disable-pip-version-check "
        "/wheels/*.whl\n"
    )


class EnvironmentBuilds:
    """The two sides in one repository, each deploying to an endpoint of its own per round;
    they take turns going first."""

    def __init__(self, emulator: Emulator, workdir: Path) -> None:
        from emulator.inference_images import ensure_inference_images

        ensure_inference_images()  # Azure ML's images, once per machine
        self.emulator = emulator
        self.app = App(workdir / "environment-builds", emulator)
        shutil.copytree(SEED, self.app.root / "seed")
        (self.app.root / "seed" / "request.json").write_text(ROWS)
        wheels = self.app.root / "seed" / "docker" / "wheels"
        wheels.mkdir(parents=True)
        shutil.copy2(dependency_wheel(), wheels)
        git(self.app.root, "init", "-q")
        self.app.commit("the seed and a build context")
        self.scenario = Scenario("11. environment built on the runner vs by Azure ML", GOAL)
        self.runs: dict[str, list[dict[str, Any]]] = {"azure": [], "runner": []}

    def run(self, repeat: int) -> Scenario:
        for number in range(1, repeat + 1):
            turns = [("runner", RUNNER), ("azure", AZURE)]
            for side, environment in turns if number % 2 else reversed(turns):
                self.runs[side].append(self._round(number, side, environment))
        return self._finish()

    def _round(self, number: int, side: str, environment: str) -> dict[str, Any]:
        endpoint = f"env-{side}-{number}"
        folder = self.app.root / "seed"
        (folder / "docker" / "Dockerfile").write_text(_dockerfile(f"{side}-{number}"))
        (folder / "deploy.yml").write_text(deploy_text(endpoint, environment, SMOKE_TEST))
        self.app.commit(f"{endpoint}: a new environment")
        first = self._deploy(endpoint, f"{side} first {number}")
        unchanged = self._deploy(endpoint, f"{side} unchanged {number}")
        check_serving(self.emulator, endpoint)
        return {"first": first, "unchanged": unchanged}

    def _deploy(self, endpoint: str, label: str) -> dict[str, Any]:
        mark = self.emulator.registry_mark()
        seconds, result = sides.action(self.app, "seed/deploy.yml", label)
        uploads = self.emulator.registry_uploads(mark)
        return {
            "s": round(seconds, 2),
            "phases_s": phase_seconds(result.stdout + result.stderr),
            "registry_blobs": len(uploads),
            "registry_bytes": sum(upload.size for upload in uploads),
        }

    def _finish(self) -> Scenario:
        scenario = self.scenario
        scenario.baseline = [run["first"]["s"] for run in self.runs["azure"]]
        scenario.action = [run["first"]["s"] for run in self.runs["runner"]]
        unchanged = {
            side: [run["unchanged"]["s"] for run in runs] for side, runs in self.runs.items()
        }
        scenario.figures = {
            "unchanged_s": {side: median(seconds) for side, seconds in unchanged.items()},
            "unchanged_runs_s": unchanged,
            "rounds": self.runs,
        }
        scenario.goal_met = all(
            run["unchanged"]["registry_blobs"] == 0 for runs in self.runs.values() for run in runs
        )
        return scenario


def details(r: dict[str, Any]) -> list[str]:
    """docs/performance.md's rows for scenario 11."""
    lines = [
        "Each deploy's wall time, the phases of the action's own timing line that differ "
        "between the sides, and the blobs the workspace's registry received (Azure ML's "
        "builder pushes its image there; `build_on: runner` pushes the runner's):",
        "",
        "| run | s | build + push (runner) | register environment | deployment | "
        "registry blobs | registry bytes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for side, name in (("runner", "runner builds"), ("azure", "Azure ML builds")):
        for index, run in enumerate(r["rounds"][side]):
            for when in ("first", "unchanged"):
                figures = run[when]
                phases = figures["phases_s"]
                deployment = sum(v for k, v in phases.items() if k.startswith("deployment"))
                build = phases.get("build", 0) + phases.get("push", 0)
                lines.append(
                    f"| {name}, round {index + 1}, {when} | {figures['s']:.1f} | {build:.1f} | "
                    f"{phases.get('register environment', 0):.1f} | {deployment:.1f} | "
                    f"{figures['registry_blobs']} | {size(figures['registry_bytes'])} |"
                )
    lines += [
        "",
        f"Unchanged re-runs (median): runner {r['unchanged_s']['runner']:.1f} s, Azure ML "
        f"{r['unchanged_s']['azure']:.1f} s. The runner builds and pushes before the "
        "deployment is created (inside `register environment`); Azure ML builds while it "
        "creates the deployment, so its build is inside the `deployment` phase, here as long "
        "on both sides: the emulator's builder (this machine's own engine) finishes within "
        "the deployment's scaled provisioning time. On Azure the build runs on Azure's build "
        "compute and adds its own time to the deployment's; how long is not documented, so "
        "these figures compare the two paths' work on one machine, not Azure's timings. The "
        "runner's first round also pushed the base image's layers, which the workspace's "
        "registry did not have yet.",
        "",
    ]
    return lines


def missed(r: dict[str, Any]) -> str:
    pushed = [
        f"{side} round {index + 1}"
        for side, runs in r["rounds"].items()
        for index, run in enumerate(runs)
        if run["unchanged"]["registry_blobs"]
    ]
    return f"- **Scenario 11**: an unchanged re-run pushed to the registry ({', '.join(pushed)})."
