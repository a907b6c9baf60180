"""Scenario 7: a code-only change on a fresh runner. The model server has a realistic
dependency layer (104 MiB from a locally built wheel, tools/heavy_server.py); a second Docker
engine with an empty data root (tools/engines.py) plays the GitHub-hosted runner that a new job
gets, while the registry keeps the earlier images.

Per round, one code-only commit deployed by the action from the warm main engine, then one from
a new fresh engine; the classic-builder baseline (bench/baseline.py's `api.build` and push) does
the same with the tutorial's Dockerfile. Measured: build + push wall time (the action's own
`build` and `push` phases; the baseline's calls), and what reached the registry (its record of
uploads, emulator/uploads.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker

from bench.baseline import Recipe, build_and_push
from bench.measure import Pushed, median
from emulator.client import Emulator
from emulator.uploads import Upload
from tools.engines import fresh_engine
from tools.heavy_server import change_code, dependency_bytes, write_server
from tools.repo import make_app

if TYPE_CHECKING:
    from bench.run import Scenario

GOAL = (
    "on the fresh runner: layer bytes pushed at most 1.1x the changed layer, build + push at "
    "most 1.5x the warm-cache figure"
)

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

    def __init__(self, emulator: Emulator, root: Path) -> None:
        self.emulator = emulator
        self.app = make_app(emulator, root)
        self.server = write_server(self.app.root / "server")
        self.app.server_deploy_file(name="heavy-action")  # commits the server too
        self._deploy({})
        self.commits = 1

    def _deploy(self, env: dict[str, str]) -> tuple[dict[str, float], str]:
        from bench.run import phase_seconds

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


def scenario(emulator: Emulator, workdir: Path, base: str, rounds: int) -> Scenario:
    from bench.run import Scenario

    result = Scenario("7. code-only change on a fresh runner", GOAL)
    action = ActionSide(emulator, workdir / "heavy-repo")
    baseline = BaselineSide(emulator, workdir / "heavy-baseline", base)
    sides: dict[str, list[Push]] = {key: [] for key in ("warm", "fresh", "baseline_warm")}
    sides["baseline_fresh"] = []
    engine_start: list[float] = []
    for number in range(1, rounds + 1):
        sides["warm"].append(action.code_change({}))
        sides["baseline_warm"].append(baseline.code_change(docker.from_env()))
        for side in ("fresh", "baseline_fresh"):
            with fresh_engine([base], [emulator["registry"]]) as engine:
                engine_start.append(engine.start_seconds)
                if side == "fresh":
                    sides[side].append(action.code_change(engine.environ()))
                else:
                    client = docker.DockerClient(base_url=engine.host)
                    sides[side].append(baseline.code_change(client))
                    client.close()
        print(
            f"   round {number}: fresh runner {sides['fresh'][-1].seconds} s (warm "
            f"{sides['warm'][-1].seconds} s, classic on a fresh runner "
            f"{sides['baseline_fresh'][-1].seconds} s)",
            flush=True,
        )
    result.action = [push.seconds for push in sides["fresh"]]
    result.baseline = [push.seconds for push in sides["baseline_fresh"]]
    worst = max(sides["fresh"], key=lambda push: push.ratio)
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
