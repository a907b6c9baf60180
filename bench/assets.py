"""Scenarios 8-10: deploying Azure ML's assets — a model, a scoring script's code, an
environment Azure ML builds — against the tutorial's inline assets, and the first upload of a
gigabyte model against azure-storage-blob's own parallel upload.

What each run cost is read off the emulator, not off the action's own account:

- **bytes uploaded**: the blobs of the workspace's datastore container that are new or
  rewritten (a new etag) after the run, by size: the payload that landed in storage. Read
  straight from Azurite, not through the storage proxy, so reading adds nothing to the next
  figure;
- **bytes through the storage proxy**: what the emulator's proxy relayed from clients to the
  storage (emulator/storage_proxy.py): TLS, HTTP headers and payload, every account; zero
  means that no client reached the storage at all;
- **asset versions created**: version ids in the emulator's asset store after the run that
  were not there before (the admin API's state);
- **environment builds**: blobs the workspace's registry received (emulator/uploads.py): Azure
  ML's builder pushes every image it builds there, and nothing else in these scenarios does;
- **mutating ARM calls**: PUT, PATCH, DELETE and POST on ARM, except the POSTs that read
  (listKeys, getLogs, listSecrets; bench/measure.py); every request that is not a GET is also
  listed by method and resource type.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import sides
from bench.baseline import datastore_container
from bench.measure import median, mutating_arm_calls
from bench.scenario import Scenario, phase_seconds
from emulator.client import Emulator
from tools.emulators import Bundle, run_cli, start
from tools.repo import App, git

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "images" / "azureml-model"
INFERENCE_IMAGE = "mcr.microsoft.com/azureml/minimal-py312-inference:latest"
CODE = "onlinescoring"
# A model that is more than its coefficients, so that uploading it again would show.
WEIGHTS_BYTES = 4 * 2**20

DEPLOY = """\
version: 1
endpoint: {{name: {name}}}
deployment:
  instance_type: Standard_DS3_v2
  model: model/
  code_configuration: {{code: {code}, scoring_script: score.py}}
  environment: {environment}
  readiness_probe: {{initial_delay: 1, period: 1, failure_threshold: 5}}
rollout: {{strategy: blue-green, timeout_minutes: 10}}
"""
CONDA_ENVIRONMENT = f"{{image: {INFERENCE_IMAGE}, conda_file: environment/conda.yaml}}"
SMOKE_TEST = "smoke_test: {request: request.json, attempts: 2, timeout_seconds: 10}\n"


def deploy_text(endpoint: str, environment: str, more: str = "") -> str:
    """The deploy file of the seed's layout: model/, the scoring script, an environment."""
    return DEPLOY.format(name=endpoint, code=CODE, environment=environment) + more


ROWS = '{"data": [[1, 2, 3], [4, 5, 6]]}\n'

RERUN_GOAL = "zero bytes uploaded, zero asset versions created, zero mutating ARM calls"
CHANGE_GOAL = (
    "bytes uploaded at most 1.1x the code folder's size; no model upload, no environment build"
)
UPLOAD_GOAL = (
    "the action's upload (its `register model` phase) at most 1.2x azure-storage-blob's own "
    "parallel upload of the same files to the same storage, in bounded memory (peak reported)"
)


# --- what a run cost, read off the emulator -----------------------------------------------------


class Storage:
    """The workspace's datastore container, read straight from Azurite with the datastore's
    credential (fetched once, before anything is measured: listSecrets is an ARM request)."""

    def __init__(self, emulator: Emulator) -> None:
        self.container: ContainerClient = datastore_container(emulator, direct=True)

    def blobs(self) -> dict[str, tuple[str, int]]:
        """Every blob: name → (etag, bytes)."""
        return {
            blob.name: (str(blob.etag), int(blob.size or 0)) for blob in self.container.list_blobs()
        }


@dataclass(frozen=True)
class Mark:
    request: int
    relayed: int
    blobs: dict[str, tuple[str, int]]
    versions: frozenset[str]
    registry: int


def mark(emulator: Emulator, storage: Storage) -> Mark:
    return Mark(
        request=emulator.last_request(),
        relayed=emulator.storage_relayed()["client_to_storage"],
        blobs=storage.blobs(),
        versions=frozenset(emulator.asset_versions()),
        registry=emulator.registry_mark() if emulator["data_plane"] == "docker" else 0,
    )


@dataclass(frozen=True)
class Footprint:
    """What one run left in storage, the asset store, the registry and ARM's log."""

    bytes_uploaded: int
    blobs_uploaded: int
    model_bytes_uploaded: int
    code_bytes_uploaded: int
    proxy_bytes_to_storage: int
    asset_versions_created: dict[str, int]  # by kind: models, codes, environments
    images_pushed: int  # blobs the workspace's registry received: environment builds
    mutating_arm_calls: int
    arm_writes: dict[str, int]  # every request but GETs: "PUT onlineEndpoints/deployments": 1

    def figures(self) -> dict[str, Any]:
        return asdict(self)


def footprint(
    emulator: Emulator, storage: Storage, before: Mark, model: str = "model"
) -> Footprint:
    after = storage.blobs()
    uploaded = {
        name: size
        for name, (etag, size) in after.items()
        if before.blobs.get(name, ("", 0))[0] != etag
    }
    created = set(emulator.asset_versions()) - before.versions
    kinds = Counter(version.split("/versions/")[0].rsplit("/", 2)[-2] for version in created)
    pushed = (
        len(emulator.registry_uploads(before.registry)) if emulator["data_plane"] == "docker" else 0
    )
    return Footprint(
        bytes_uploaded=sum(uploaded.values()),
        blobs_uploaded=len(uploaded),
        model_bytes_uploaded=sum(s for n, s in uploaded.items() if f"/{model}/" in f"/{n}"),
        code_bytes_uploaded=sum(s for n, s in uploaded.items() if f"/{CODE}/" in f"/{n}"),
        proxy_bytes_to_storage=emulator.storage_relayed()["client_to_storage"] - before.relayed,
        asset_versions_created={k: kinds.get(k, 0) for k in ("models", "codes", "environments")},
        images_pushed=pushed,
        mutating_arm_calls=mutating_arm_calls(emulator, before.request),
        arm_writes=arm_writes(emulator, before.request),
    )


def arm_writes(emulator: Emulator, since: int) -> dict[str, int]:
    """Every ARM request but GETs, by method and resource type below the workspace:
    `PUT onlineEndpoints/deployments`, `POST onlineEndpoints/listKeys`, `PUT models/versions`."""
    counts: Counter[str] = Counter()
    for entry in emulator.requests_since(since, part="arm"):
        if entry["method"] == "GET":
            continue
        parts = entry["path"].strip("/").split("/")
        lower = [part.lower() for part in parts]
        start = lower.index("workspaces") + 2 if "workspaces" in lower else len(parts) - 2
        counts[f"{entry['method']} {'/'.join(parts[start:][0::2])}"] += 1
    return dict(sorted(counts.items()))


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


# --- scenarios 8 and 9: a re-run, and a change of score.py alone ---------------------------------


def seed_folder(target: Path) -> Path:
    """The seed's model (with weights that make it more than a few bytes), scoring script and
    conda file, and a request the smoke test sends."""
    shutil.copytree(SEED, target)
    (target / "model" / "weights.bin").write_bytes(os.urandom(WEIGHTS_BYTES))
    (target / "request.json").write_text(ROWS)
    return target


def change_score(folder: Path, marker: str) -> None:
    """A change of the scoring script alone (a comment: it still scores the same)."""
    script = folder / CODE / "score.py"
    script.write_text(script.read_text() + f"# {marker}\n")


class AssetRounds:
    """Per round, each side on an endpoint of its own: a first deploy (not measured), a re-run
    of it (scenario 8), then a change of score.py alone rolled out blue-green (scenario 9); the
    action and the baseline take turns going first."""

    def __init__(self, emulator: Emulator, workdir: Path) -> None:
        from emulator.inference_images import ensure_inference_images

        ensure_inference_images()  # Azure ML's images, once per machine
        self.emulator = emulator
        self.storage = Storage(emulator)
        self.rerun = Scenario("8. re-run with unchanged model, code and environment", RERUN_GOAL)
        self.change = Scenario("9. score.py-only change (model, code, environment)", CHANGE_GOAL)
        self.app = App(workdir / "assets-repo", emulator)
        seed_folder(self.app.root / "seed")
        git(self.app.root, "init", "-q")
        self.app.commit("the seed")
        self.baseline_context = seed_folder(workdir / "assets-baseline")
        self.prints: dict[str, list[dict[str, Any]]] = {
            "rerun_action": [],
            "rerun_baseline": [],
            "change_action": [],
            "change_baseline": [],
        }
        self.code_bytes: list[int] = []

    def run(self, repeat: int) -> list[Scenario]:
        for number in range(1, repeat + 1):
            turns = [self.action_round, self.baseline_round]
            for turn in turns if number % 2 else reversed(turns):
                turn(number)
        self.finish()
        return [self.rerun, self.change]

    def _deploy(self, endpoint: str) -> float:
        deploy_file = self.app.root / "seed" / "deploy.yml"
        text = deploy_text(endpoint, CONDA_ENVIRONMENT, SMOKE_TEST)
        if not deploy_file.exists() or deploy_file.read_text() != text:
            deploy_file.write_text(text)
            self.app.commit(f"deploy {endpoint}")
        seconds, _ = sides.action(self.app, "seed/deploy.yml", f"deploy {endpoint}")
        return round(seconds, 2)

    def _baseline(self, what: str, endpoint: str) -> float:
        context = str(self.baseline_context)
        arguments = ("--endpoint", endpoint, "--context", context)
        return round(sides.baseline(self.emulator, what, endpoint, *arguments), 2)

    def action_round(self, number: int) -> None:
        endpoint = f"seed-action-{number}"
        self._deploy(endpoint)
        before = mark(self.emulator, self.storage)
        self.rerun.action.append(self._deploy(endpoint))
        self.prints["rerun_action"].append(footprint(self.emulator, self.storage, before).figures())

        change_score(self.app.root / "seed", f"action change {number}")
        self.app.commit(f"action change {number}")
        self.code_bytes.append(folder_bytes(self.app.root / "seed" / CODE))
        before = mark(self.emulator, self.storage)
        self.change.action.append(self._deploy(endpoint))
        self.prints["change_action"].append(
            footprint(self.emulator, self.storage, before).figures()
        )
        check_serving(self.emulator, endpoint)

    def baseline_round(self, number: int) -> None:
        endpoint = f"seed-baseline-{number}"
        self._baseline("assets", endpoint)
        before = mark(self.emulator, self.storage)
        self.rerun.baseline.append(self._baseline("assets", endpoint))
        self.prints["rerun_baseline"].append(
            footprint(self.emulator, self.storage, before).figures()
        )

        change_score(self.baseline_context, f"baseline change {number}")
        before = mark(self.emulator, self.storage)
        self.change.baseline.append(self._baseline("assets-blue-green", endpoint))
        self.prints["change_baseline"].append(
            footprint(self.emulator, self.storage, before).figures()
        )
        check_serving(self.emulator, endpoint)

    def finish(self) -> None:
        rerun_action, change_action = self.prints["rerun_action"], self.prints["change_action"]
        self.rerun.figures = {
            "action_runs": rerun_action,
            "baseline_runs": self.prints["rerun_baseline"],
        }
        self.rerun.goal_met = all(
            run["bytes_uploaded"] == 0
            and not any(run["asset_versions_created"].values())
            and run["mutating_arm_calls"] == 0
            for run in rerun_action
        )
        ratios = [
            run["bytes_uploaded"] / max(size, 1)
            for run, size in zip(change_action, self.code_bytes, strict=True)
        ]
        self.change.figures = {
            "code_folder_bytes": self.code_bytes,
            "uploaded_to_code_folder": round(max(ratios), 3),
            "action_runs": change_action,
            "baseline_runs": self.prints["change_baseline"],
        }
        self.change.goal_met = max(ratios) <= 1.1 and all(
            run["model_bytes_uploaded"] == 0
            and run["asset_versions_created"]["models"] == 0
            and run["asset_versions_created"]["environments"] == 0
            and run["images_pushed"] == 0
            for run in change_action
        )


def check_serving(emulator: Emulator, endpoint: str) -> None:
    state = emulator.ml_client().online_endpoints.get(endpoint)
    serving = [name for name, share in (state.traffic or {}).items() if share == 100]
    if len(serving) != 1:
        raise RuntimeError(f"{endpoint}: traffic {state.traffic}")


# --- scenario 10: the first upload of a gigabyte model -------------------------------------------

LARGE_BYTES = 768 * 2**20
SMALL_FILES = 2048
SMALL_BYTES = 128 * 2**10  # 2048 x 128 KiB: 256 MiB; with the large file, 1 GiB


def large_model(folder: Path) -> Path:
    """One large file and many small ones, 1 GiB in all, of random bytes (nothing compresses
    or deduplicates them)."""
    folder.mkdir(parents=True)
    chunk = 2**20
    with (folder / "weights.bin").open("wb") as handle:
        for _ in range(LARGE_BYTES // chunk):
            handle.write(os.urandom(chunk))
    shards = folder / "shards"
    shards.mkdir()
    for number in range(SMALL_FILES):
        (shards / f"part-{number:04d}.bin").write_bytes(os.urandom(SMALL_BYTES))
    return folder


@dataclass(frozen=True)
class Finished:
    returncode: int
    output: str
    seconds: float
    peak_rss_bytes: int  # the process's own peak resident set (wait4's ru_maxrss)


def run_measured(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> Finished:
    """A child process, its output, wall time and peak memory: reaped with wait4, whose
    rusage is the child's own (getrusage's RUSAGE_CHILDREN keeps one maximum over all
    children)."""
    with tempfile.TemporaryFile("w+") as output:
        started = time.monotonic()
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, text=True
        )
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        return Finished(process.returncode, output.read(), seconds, usage.ru_maxrss * 1024)


class UploadRound:
    """One emulator of its own (no data plane, Azurite in memory: the gigabytes take no disk
    and are gone when it stops), the action's first deploy of the model, and
    azure-storage-blob's upload of the same files, in `order`."""

    def __init__(self, workdir: Path, repo: Path, bundle: Bundle, number: int) -> None:
        self.state = workdir / f"emulator-upload-{number}"
        self.emulator = start(
            self.state, "--profile", "fast", "--data-plane", "none", "--storage", "memory"
        )
        bundle.trust(self.emulator)
        self.storage = Storage(self.emulator)
        self.repo, self.number = repo, number

    def close(self) -> None:
        run_cli("down", state_dir=self.state)
        shutil.rmtree(self.state, ignore_errors=True)

    def action(self) -> dict[str, Any]:

        app = App(self.repo, self.emulator)
        endpoint = f"upload-{self.number}"
        # no smoke test: the emulator has no data plane, so nothing runs the deployment
        environment = f"{{image: {INFERENCE_IMAGE}}}"
        (self.repo / "big" / "deploy.yml").write_text(deploy_text(endpoint, environment))
        app.commit(f"deploy {endpoint}")
        before = mark(self.emulator, self.storage)
        finished = run_measured(
            app._command("deploy", ("--no-summary",), "big/deploy.yml"),
            cwd=self.repo,
            env={**app._environ(None), "PYTHONUNBUFFERED": "1"},
            timeout=1800,
        )
        if finished.returncode != 0:
            raise RuntimeError(f"the action failed:\n{finished.output[-3000:]}")
        phases = phase_seconds(finished.output)
        print(
            f"     action deploy {endpoint}: register model {phases.get('register model')} s, "
            f"{finished.seconds:.1f} s in all",
            flush=True,
        )
        return {
            "register_model_s": phases["register model"],
            "observe_s": phases.get("observe", 0.0),
            "wall_s": round(finished.seconds, 2),
            "peak_rss_bytes": finished.peak_rss_bytes,
            "phases_s": phases,
            **_upload_figures(footprint(self.emulator, self.storage, before)),
        }

    def baseline(self, folder: Path, threads: int, concurrency: int) -> dict[str, Any]:
        import json

        before = mark(self.emulator, self.storage)
        finished = run_measured(
            [
                sys.executable,
                "-m",
                "bench.baseline",
                "upload",
                "--emulator",
                str(self.emulator.state_dir),
                "--context",
                str(folder),
                "--threads",
                str(threads),
                "--concurrency",
                str(concurrency),
            ],
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if k != "AZUREML_CURRENT_CLOUD"},
            timeout=1800,
        )
        if finished.returncode != 0:
            raise RuntimeError(f"the baseline failed:\n{finished.output[-3000:]}")
        reported = json.loads(finished.output.strip().splitlines()[-1])
        print(f"     baseline upload: {reported['upload_s']:.1f} s", flush=True)
        return {
            "upload_s": reported["upload_s"],
            "wall_s": round(finished.seconds, 2),
            "peak_rss_bytes": finished.peak_rss_bytes,
            **_upload_figures(footprint(self.emulator, self.storage, before)),
        }


def _upload_figures(used: Footprint) -> dict[str, Any]:
    """The model's bytes that landed in storage (the action uploads its small code folder
    too), and everything that went through the storage proxy."""
    return {
        "bytes_uploaded": used.model_bytes_uploaded,
        "proxy_bytes_to_storage": used.proxy_bytes_to_storage,
    }


def upload_scenario(
    workdir: Path, bundle: Bundle, rounds: int, threads: int = 8, concurrency: int = 8
) -> Scenario:
    """Scenario 10. Each round has an emulator of its own, so that at most two gigabytes are
    ever held in Azurite's memory; the model is generated once, in the work folder, and
    deleted after."""

    scenario = Scenario("10. first upload of a 1 GiB model", UPLOAD_GOAL)
    repo = workdir / "upload-repo"
    (repo / "big").mkdir(parents=True)
    shutil.copytree(SEED / CODE, repo / "big" / CODE)
    # the model is not committed: git would keep another gigabyte
    (repo / ".gitignore").write_text("/big/model/\n")
    git(repo, "init", "-q")
    model = large_model(repo / "big" / "model")
    files = [path for path in model.rglob("*") if path.is_file()]
    model_bytes = sum(path.stat().st_size for path in files)
    runs: list[dict[str, Any]] = []
    try:
        for number in range(1, rounds + 1):
            upload = UploadRound(workdir, repo, bundle, number)
            try:
                run: dict[str, Any] = {}
                order = ["action", "baseline"] if number % 2 else ["baseline", "action"]
                for side in order:
                    run[side] = (
                        upload.action()
                        if side == "action"
                        else upload.baseline(model, threads, concurrency)
                    )
                runs.append(run)
            finally:
                upload.close()
    finally:
        shutil.rmtree(model, ignore_errors=True)
    scenario.action = [run["action"]["register_model_s"] for run in runs]
    scenario.baseline = [run["baseline"]["upload_s"] for run in runs]
    ratio = median(scenario.action) / median(scenario.baseline)
    # with the action's own hashing of the folder, in its observe phase, before the plan
    hashed = [run["action"]["register_model_s"] + run["action"]["observe_s"] for run in runs]
    scenario.figures = {
        "model_bytes": model_bytes,
        "model_files": len(files),
        "large_file_bytes": LARGE_BYTES,
        "baseline_threads": threads,
        "baseline_max_concurrency": concurrency,
        "upload_runs": runs,
        "upload_ratio": round(ratio, 3),
        "upload_and_observe_ratio": round(median(hashed) / median(scenario.baseline), 3),
        "action_peak_rss_bytes": max(run["action"]["peak_rss_bytes"] for run in runs),
        "baseline_peak_rss_bytes": max(run["baseline"]["peak_rss_bytes"] for run in runs),
    }
    scenario.goal_met = ratio <= 1.2
    return scenario
