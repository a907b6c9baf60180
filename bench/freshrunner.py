"""Scenario 7: a code-only change on a fresh runner. The model server has a realistic
dependency layer (104 MiB from a locally built wheel, tools/heavy_server.py); a second Docker
engine with an empty data root (tools/engines.py) plays the GitHub-hosted runner that a new job
gets, while the registry keeps the earlier images.

Every job on a GitHub-hosted runner starts with an empty engine, so the build that writes the
cache and the build that reads it both run on fresh engines: that is the scenario's main row.
Per round, for the model server's Dockerfile: one code-only commit deployed by the action from
the warm main engine, one from a new fresh engine (reading the cache the warm engine wrote),
then one from another new fresh engine (reading the cache the first fresh engine wrote). Two
more repositories, whose Dockerfiles copy the dependency in as files and install it in a builder
stage, deploy each commit from a new fresh engine only, so each of their rounds reads a cache
that a fresh engine wrote. The classic-builder baseline (bench/baseline.py's `api.build` and
push) builds the tutorial's Dockerfile on the warm engine and on a fresh one. Measured: build +
push wall time (the action's own `build` and `push` phases; the baseline's calls), and what
reached the registry (its record of uploads, emulator/uploads.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from bench.baseline import Recipe, build_and_push
from bench.measure import Pushed, median
from bench.scenario import Scenario, phase_seconds
from emulator.client import Emulator
from emulator.uploads import Upload
from tools.engines import fresh_engine
from tools.heavy_server import Variant, change_code, dependency_bytes, write_server
from tools.repo import make_app

GOAL = (
    "on a fresh runner after a fresh runner: layer bytes pushed at most 1.1x the changed layer "
    "(each Dockerfile, and after the warm engine too), build + push at most 1.5x the warm-cache "
    "figure"
)

# The sides that read a cache a fresh engine wrote, by the Dockerfile they build.
FRESH_AFTER_FRESH = {
    "install": "fresh_fresh",
    "copy": "fresh_fresh_copy",
    "stages": "fresh_fresh_stages",
}

CLASSIC = Recipe("heavy-baseline", "Dockerfile.classic", target=None, build_args=())


@dataclass(frozen=True)
class Push:
    """One build and push of a code-only change, as the registry saw it. The changed layer is
    the code layer: the image's last layer, from the one step whose input a code-only commit
    changes (COPY of the server code, last in both Dockerfiles). By digest every layer of a
    classic-builder image is new; by content only this one is."""

    seconds: float  # build + push
    pushed: Pushed

    @property
    def ratio(self) -> float:
        return self.pushed.ratio

    def figures(self) -> dict[str, Any]:
        return {
            "build_push_s": self.seconds,
            **self.pushed.figures(),
            "pushed_to_changed_layer": round(self.ratio, 3),
        }


def _push(emulator: Emulator, seconds: float, uploads: list[Upload], image: str) -> Push:
    layers = emulator.image_layers(image)
    pushed = [upload for upload in uploads if upload.digest in layers]
    return Push(
        round(seconds, 2),
        Pushed(
            total_bytes=sum(upload.size for upload in uploads),
            layer_bytes=sum(upload.size for upload in pushed),
            layers=len(pushed),
            changed_layer_bytes=list(layers.values())[-1],
        ),
    )


class ActionSide:
    """The action deploying the heavy server from a repository of its own."""

    def __init__(
        self,
        emulator: Emulator,
        root: Path,
        variant: Variant = "install",
        env: dict[str, str] | None = None,
    ) -> None:
        """`env`: where the first deploy runs (the warm main engine unless it says another)."""
        self.emulator = emulator
        self.app = make_app(emulator, root)
        self.server = write_server(self.app.root / "server", variant=variant)
        name = "heavy-action" if variant == "install" else f"heavy-{variant}"
        self.app.server_deploy_file(name=name)  # commits the server too
        deploy_file = self.app.root / "server" / "deploy.yml"  # a repository (and cache) each
        deploy_file.write_text(
            deploy_file.read_text().replace("repository: model-server", f"repository: {name}")
        )
        self.app.commit(f"{name}: a repository of its own")
        self._deploy(env or {})
        self.commits = 1

    def _deploy(self, env: dict[str, str]) -> tuple[dict[str, float], str]:

        path = self.app.root.parent / "heavy-outputs.json"
        result = self.app.deploy("--output-json", str(path), env=env, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(f"the action failed:\n{result.stderr[-3000:]}")
        outputs = json.loads(path.read_text())
        if str(dependency_bytes()) not in self.app.score(outputs).text:
            raise RuntimeError("the deployed server does not serve its dependency")
        return phase_seconds(result.stdout + result.stderr), str(outputs["image"])

    def code_change(self, env: dict[str, str]) -> Push:
        self.commits += 1
        change_code(self.server, str(self.commits))
        self.app.commit(f"code change {self.commits}")
        mark = self.emulator.registry_mark()
        phases, image = self._deploy(env)
        uploads = self.emulator.registry_uploads(mark)
        seconds = phases.get("build", 0.0) + phases.get("push", 0.0)
        return _push(self.emulator, seconds, uploads, image)


class BaselineSide:
    """The classic builder (`api.build`) and `images.push`, with the tutorial's Dockerfile."""

    def __init__(self, emulator: Emulator, context: Path, base: str) -> None:
        self.emulator = emulator
        self.base = base
        self.server = write_server(context)
        self.commits = 0
        self._build_and_push(docker.from_env())

    def _build_and_push(self, client: docker.DockerClient) -> tuple[float, str]:
        self.commits += 1
        started = time.monotonic()
        image = build_and_push(
            self.emulator,
            self.server,
            f"code-{self.commits}",
            self.base,
            recipe=CLASSIC,
            client=client,
        )
        return time.monotonic() - started, image

    def code_change(self, client: docker.DockerClient) -> Push:
        change_code(self.server, str(self.commits + 1))
        mark = self.emulator.registry_mark()
        seconds, image = self._build_and_push(client)
        return _push(self.emulator, seconds, self.emulator.registry_uploads(mark), image)


def _fresh(emulator: Emulator, base: str, engine_start: list[float], side: ActionSide) -> Push:
    """One code-only change deployed by `side` from a new fresh engine."""
    with fresh_engine([base], [emulator["registry"]]) as engine:
        engine_start.append(engine.start_seconds)
        return side.code_change(engine.environ())


def scenario(emulator: Emulator, workdir: Path, base: str, rounds: int) -> Scenario:

    result = Scenario("7. code-only change on a fresh runner", GOAL)
    engine_start: list[float] = []
    action = ActionSide(emulator, workdir / "heavy-repo")
    others: dict[str, ActionSide] = {}
    for variant in ("copy", "stages"):
        with fresh_engine([base], [emulator["registry"]]) as engine:
            engine_start.append(engine.start_seconds)
            others[FRESH_AFTER_FRESH[variant]] = ActionSide(
                emulator, workdir / f"heavy-{variant}", variant, engine.environ()
            )
    baseline = BaselineSide(emulator, workdir / "heavy-baseline", base)
    keys = ("warm", "fresh", *FRESH_AFTER_FRESH.values(), "baseline_warm", "baseline_fresh")
    sides: dict[str, list[Push]] = {key: [] for key in keys}
    for number in range(1, rounds + 1):
        sides["warm"].append(action.code_change({}))
        sides["baseline_warm"].append(baseline.code_change(docker.from_env()))
        sides["fresh"].append(_fresh(emulator, base, engine_start, action))  # after the warm
        sides["fresh_fresh"].append(_fresh(emulator, base, engine_start, action))
        for key, side in others.items():
            sides[key].append(_fresh(emulator, base, engine_start, side))
        with fresh_engine([base], [emulator["registry"]]) as engine:
            engine_start.append(engine.start_seconds)
            client = docker.DockerClient(base_url=engine.host)
            sides["baseline_fresh"].append(baseline.code_change(client))
            client.close()
        print(
            f"   round {number}: fresh after fresh {sides['fresh_fresh'][-1].seconds} s, "
            f"{sides['fresh_fresh'][-1].pushed.layer_bytes} layer bytes (after the warm engine "
            f"{sides['fresh'][-1].seconds} s, warm {sides['warm'][-1].seconds} s, classic on a "
            f"fresh runner {sides['baseline_fresh'][-1].seconds} s)",
            flush=True,
        )
    result.action = [push.seconds for push in sides["fresh_fresh"]]
    result.baseline = [push.seconds for push in sides["baseline_fresh"]]
    fresh_sides = ("fresh", *FRESH_AFTER_FRESH.values())
    worst = max((push for key in fresh_sides for push in sides[key]), key=lambda p: p.ratio)
    warm = median([push.seconds for push in sides["warm"]])
    result.figures = {
        "dependency_layer_bytes": dependency_bytes(),
        "warm_build_push_s": warm,
        "fresh_to_warm": round(median(result.action) / warm, 3) if warm else None,
        "fresh_engine_start_s": median(engine_start),
        **{f"fresh_{key}": value for key, value in worst.figures().items()},
        "pushes": {side: [push.figures() for push in pushes] for side, pushes in sides.items()},
    }
    result.goal_met = worst.ratio <= 1.1 and median(result.action) <= 1.5 * warm
    return result
