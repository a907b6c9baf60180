"""`make bench`: the action's own cost against the naive baseline (bench/baseline.py), side by
side in one run, against the emulator's `azure` profile (no Retry-After on endpoint operations,
Azure's provisioning times scaled by TIME_SCALE). Writes bench/results.json and
docs/performance.md.

Baseline and action run alternately, each as its own process like a workflow step, on
endpoints of their own; every scenario reports medians, spreads and ratios (absolute seconds
are not comparable across machines).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import assets, coldstart, envbuilds, freshrunner, report, sides
from bench.measure import (
    Budget,
    Pushed,
    arm_budget,
    floor_seconds,
    median,
    mutating_arm_calls,
    pushed_since,
    registry_blobs,
)
from bench.scenario import Scenario, phase_seconds
from emulator.client import Emulator
from tools import launcher
from tools.emulators import Bundle, run_cli, start
from tools.images import base_image
from tools.repo import App, git

ROOT = Path(__file__).resolve().parents[1]
TIME_SCALE = 0.05
FRESH = ("endpoint_create", "deployment_create", "endpoint_update")
BLUE_GREEN = ("deployment_create", "endpoint_update", "deployment_delete")


class Workbench:
    """The emulator, a repository the action deploys from, a folder the baseline builds from."""

    def __init__(self, emulator: Emulator, workdir: Path, base: str) -> None:
        self.emulator = emulator
        self.workdir = workdir
        self.base = base
        self.app = App(workdir / "repo", emulator)
        shutil.copytree(ROOT / "examples" / "credit-risk", self.app.root / "credit-risk")
        git(self.app.root, "init", "-q")
        self.app.commit("the example")
        self.baseline_context = workdir / "baseline-context"
        shutil.copytree(ROOT / "examples" / "credit-risk", self.baseline_context)
        self.deploy_file = self.app.root / "credit-risk" / "deploy.yml"
        self.original = self.deploy_file.read_text()

    def action(self, endpoint: str, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        text = self.original.replace("name: credit-risk\n", f"name: {endpoint}\n", 1)
        if self.deploy_file.read_text() != text:
            self.deploy_file.write_text(text)
            self.app.commit(f"deploy to {endpoint}")
        label = f"{' '.join(args) or 'deploy'} {endpoint}"
        return sides.action(self.app, "credit-risk/deploy.yml", label, *args)

    def baseline(self, what: str, endpoint: str, tag: str, *extra: str) -> float:
        return sides.baseline(
            self.emulator,
            what,
            endpoint,
            "--endpoint",
            endpoint,
            "--context",
            str(self.baseline_context),
            "--tag",
            tag,
            "--base-image",
            self.base,
            *extra,
        )

    def change_code(self, context: Path, marker: str) -> None:
        """A code-only change: one line in the server, so one image layer differs."""
        server = context / "server" / "app.py"
        server.write_text(server.read_text() + f"# {marker}\n")
        if context.is_relative_to(self.app.root):
            self.app.commit(marker)

    def check_serving(self, endpoint: str) -> None:
        """One deployment serves all traffic (both sides also scored the endpoint themselves:
        the action's smoke test, the baseline's request)."""
        state = self.emulator.ml_client().online_endpoints.get(endpoint)
        serving = [name for name, share in (state.traffic or {}).items() if share == 100]
        if len(serving) != 1:
            raise RuntimeError(f"{endpoint}: traffic {state.traffic}")


class DeployRounds:
    """Scenarios 1-4. Per round: a fresh deploy, a re-run of the same commit, a code-only change
    rolled out blue-green; the action and the baseline take turns going first."""

    def __init__(self, bench: Workbench) -> None:
        self.bench = bench
        self.fresh = Scenario(
            "1. fresh deploy (new endpoint and deployment)",
            "action overhead over the service floor at most 10 % of the floor, and below the "
            "baseline's",
        )
        self.rerun = Scenario(
            "2. re-run of the same commit",
            "under 10 s wall; zero builds, zero pushes, zero mutating ARM calls",
        )
        self.code = Scenario(
            "3. code-only change (one layer differs)",
            "layer bytes pushed at most 1.1x the changed layer; faster than the baseline",
        )
        self.blue_green = Scenario(
            "4. blue-green update to a new image",
            "overhead over the service floor at most 10 % of the floor, and below the baseline's",
        )
        self.fresh.floor_s = floor_seconds(bench.emulator, *FRESH)
        self.blue_green.floor_s = floor_seconds(bench.emulator, *BLUE_GREEN)
        self.rerun_checks: list[dict[str, int]] = []
        self.pushes: list[Pushed] = []
        self.fresh_phases: list[dict[str, float]] = []
        self.update_phases: list[dict[str, float]] = []

    def run(self, repeat: int) -> list[Scenario]:
        for number in range(1, repeat + 1):
            sides = [self.action_round, self.baseline_round]
            for side in sides if number % 2 else reversed(sides):
                side(number)
            print(
                f"   round {number}: fresh {self.fresh.action[-1]} s (baseline "
                f"{self.fresh.baseline[-1]} s)",
                flush=True,
            )
        self.finish()
        return [self.fresh, self.rerun, self.code, self.blue_green]

    def action_round(self, number: int) -> None:
        bench, emulator = self.bench, self.bench.emulator
        endpoint = f"cr-action-{number}"
        seconds, result = bench.action(endpoint)
        self.fresh.action.append(round(seconds, 2))
        self.fresh_phases.append(phase_seconds(result.stdout + result.stderr))

        since, blobs = emulator.last_request(), registry_blobs(emulator)
        seconds, result = bench.action(endpoint)
        self.rerun.action.append(round(seconds, 2))
        self.rerun_checks.append(
            {
                "builds": (result.stdout + result.stderr).count("Building "),
                "pushes": len(registry_blobs(emulator)) - len(blobs),
                "mutating_arm_calls": mutating_arm_calls(emulator, since),
            }
        )

        bench.change_code(bench.app.root / "credit-risk", f"action change {number}")
        blobs = registry_blobs(emulator)
        seconds, result = bench.action(endpoint)
        self.update_phases.append(phase_seconds(result.stdout + result.stderr))
        self.pushes.append(pushed_since(emulator, blobs))
        self.code.action.append(round(seconds, 2))
        self.blue_green.action.append(round(seconds, 2))
        bench.check_serving(endpoint)

    def baseline_round(self, number: int) -> None:
        bench = self.bench
        endpoint = f"cr-baseline-{number}"
        self.fresh.baseline.append(round(bench.baseline("deploy", endpoint, f"b{number}-1"), 2))
        self.rerun.baseline.append(round(bench.baseline("deploy", endpoint, f"b{number}-1"), 2))
        bench.change_code(bench.baseline_context, f"baseline change {number}")
        seconds = round(bench.baseline("blue-green", endpoint, f"b{number}-2"), 2)
        self.code.baseline.append(seconds)
        self.blue_green.baseline.append(seconds)
        bench.check_serving(endpoint)

    def finish(self) -> None:
        for scenario, phases in (
            (self.fresh, self.fresh_phases),
            (self.blue_green, self.update_phases),
        ):
            scenario.figures["action_phases_s"] = phases
            floor = scenario.floor_s or 0.0
            action, baseline = median(scenario.action), median(scenario.baseline)
            scenario.figures |= {
                "action_overhead_s": round(action - floor, 2),
                "baseline_overhead_s": round(baseline - floor, 2),
                "overhead_to_floor": round((action - floor) / floor, 3),
                "time_scale": TIME_SCALE,
            }
            scenario.goal_met = action - floor <= 0.10 * floor and action < baseline
        self.rerun.figures = {
            key: sum(check[key] for check in self.rerun_checks)
            for key in ("builds", "pushes", "mutating_arm_calls")
        }
        self.rerun.goal_met = max(self.rerun.action) < 10 and not any(self.rerun.figures.values())
        worst = max(self.pushes, key=lambda pushed: pushed.ratio)
        self.code.figures = {
            **worst.figures(),
            "pushed_to_changed_layer": round(worst.ratio, 3),
            "pushes": [pushed.figures() for pushed in self.pushes],
        }
        self.code.goal_met = worst.ratio <= 1.1 and median(self.code.action) < median(
            self.code.baseline
        )


def cleanup_scenario(bench: Workbench, count: int, sample: int) -> Scenario:
    """`cleanup` of `count` stale previews, against deleting them one by one (measured on
    `sample` of them, then scaled: one-by-one deletion is sequential, so it is linear)."""
    scenario = Scenario(
        f"6. cleanup of {count} stale preview endpoints",
        "faster than deleting them one by one",
    )
    emulator = bench.emulator
    budgets: list[Budget] = []
    for _ in range(2):
        names = seed_previews(emulator, count, prefix="cleanup")
        since = emulator.last_request()
        started = time.monotonic()
        result = bench.app.run(
            "cleanup", "--no-summary", config="credit-risk/deploy.yml", timeout=900
        )
        if result.returncode != 0:
            raise RuntimeError(f"cleanup failed:\n{result.stderr[-3000:]}")
        scenario.action.append(round(time.monotonic() - started, 2))
        budgets.append(arm_budget(emulator, since))
        left = [e.name for e in emulator.ml_client().online_endpoints.list() if e.name in names]
        if left:
            raise RuntimeError(f"cleanup left {len(left)} endpoints")
        names = seed_previews(emulator, sample, prefix="one-by-one")
        seconds = bench.baseline("delete", "unused", "unused", "--names", *names)
        scenario.baseline.append(round(seconds * count / sample, 2))
    at_azure_time = cleanup_at_azure_delete_time(bench, count)
    scenario.figures = {
        "endpoints": count,
        "baseline_measured_on": sample,
        "baseline_per_endpoint_s": round(median(scenario.baseline) / count, 2),
        "arm_buckets": emulator.timing()["arm_buckets"],
        "budget_runs": [budget.figures() for budget in budgets],
        "scaled_delete_s": round(floor_seconds(emulator, "endpoint_delete"), 2),
        "at_azure_delete_time": at_azure_time,
    }
    scenario.goal_met = median(scenario.action) < median(scenario.baseline)
    return scenario


AZURE_ENDPOINT_DELETE_S = 10.0  # emulator/timing.py: the azure-ai-ml recordings


def cleanup_at_azure_delete_time(bench: Workbench, count: int) -> dict[str, Any]:
    """One more `cleanup` of `count` previews whose deletion takes Azure's own time, unscaled:
    the run's polls then span the whole deletion, as on Azure, and meet ARM's budget."""
    emulator = bench.emulator
    timing = emulator.timing()
    names = seed_previews(emulator, count, prefix="azure-time")
    emulator.timing(
        seconds={"endpoint_delete": AZURE_ENDPOINT_DELETE_S / float(timing["time_scale"])}
    )
    since = emulator.last_request()
    started = time.monotonic()
    result = bench.app.run("cleanup", "--no-summary", config="credit-risk/deploy.yml", timeout=900)
    wall = round(time.monotonic() - started, 2)
    emulator.timing(profile=timing["profile"], time_scale=timing["time_scale"])
    if result.returncode != 0:
        raise RuntimeError(f"cleanup failed:\n{result.stderr[-3000:]}")
    left = [e.name for e in emulator.ml_client().online_endpoints.list() if e.name in names]
    if left:
        raise RuntimeError(f"cleanup left {len(left)} endpoints")
    return {
        "delete_s": AZURE_ENDPOINT_DELETE_S,
        "wall_s": wall,
        **arm_budget(emulator, since).figures(),
    }


def seed_previews(emulator: Emulator, count: int, prefix: str) -> list[str]:
    """`count` preview endpoints as azureml-deploy tags them, four days old; created with the
    fast timing (the seeding is not what is measured)."""
    import datetime

    from azure.ai.ml.entities import ManagedOnlineEndpoint

    timing = emulator.timing()
    emulator.timing(profile="fast")
    created = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=4)
    ml = emulator.ml_client()
    names = [f"credit-risk-{prefix}-{n}" for n in range(1, count + 1)]
    pollers = [
        ml.online_endpoints.begin_create_or_update(
            ManagedOnlineEndpoint(
                name=name,
                auth_mode="key",
                tags={
                    "managed-by": "azureml-deploy",
                    "repository": "local",  # the bench runs the command line, not in a job
                    "environment": "preview",
                    "pr": str(n),
                    "created-at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
            )
        )
        for n, name in enumerate(names, 1)
    ]
    emulator.wait_idle(120)
    del pollers
    emulator.timing(profile=timing["profile"], time_scale=timing["time_scale"])
    return names


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="rounds of each deploy scenario")
    parser.add_argument("--previews", type=int, default=100)
    parser.add_argument("--one-by-one-sample", type=int, default=10)
    parser.add_argument("--cold-starts", type=int, default=5)
    parser.add_argument("--fresh-rounds", type=int, default=2, help="rounds of scenario 7")
    parser.add_argument("--asset-rounds", type=int, default=2, help="rounds of scenarios 8-9")
    parser.add_argument("--upload-rounds", type=int, default=3, help="rounds of scenario 10")
    parser.add_argument("--build-rounds", type=int, default=2, help="rounds of scenario 11")
    parser.add_argument(
        "--only",
        choices=["coldstart", "cleanup", "fresh-runner", "assets", "upload", "environment-build"],
        help="measure this scenario alone; the others keep their figures from bench/results.json",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "performance.md")
    return parser.parse_args(argv)


def measure(options: argparse.Namespace, bench: Workbench, bundle: Bundle) -> list[Scenario]:
    emulator, workdir, base = bench.emulator, bench.workdir, bench.base
    scenarios = []
    if options.only is None:
        print("== deploy scenarios (1-4)", flush=True)
        scenarios = DeployRounds(bench).run(options.repeat)
    if options.only in (None, "coldstart"):
        print("== cold start (5)", flush=True)
        scenarios.insert(4, coldstart.scenario(emulator, workdir, base, options.cold_starts))
    if options.only in (None, "cleanup"):
        print("== cleanup at scale (6)", flush=True)
        scenarios.append(cleanup_scenario(bench, options.previews, options.one_by_one_sample))
    if options.only in (None, "fresh-runner"):
        print("== code-only change on a fresh runner (7)", flush=True)
        scenarios.append(freshrunner.scenario(emulator, workdir, base, options.fresh_rounds))
    if options.only in (None, "assets"):
        print("== Azure ML's assets: a re-run, a score.py change (8-9)", flush=True)
        scenarios += assets.AssetRounds(emulator, workdir).run(options.asset_rounds)
    if options.only in (None, "upload"):
        print("== first upload of a 1 GiB model (10)", flush=True)
        scenarios.append(assets.upload_scenario(workdir, bundle, options.upload_rounds))
    if options.only in (None, "environment-build"):
        print("== an environment built on the runner vs by Azure ML (11)", flush=True)
        scenarios.append(envbuilds.EnvironmentBuilds(emulator, workdir).run(options.build_rounds))
    return scenarios


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    launcher.start_cold()  # the action's runs start as a user's do, import time included
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="azureml-deploy-bench-"))
    base = base_image()
    bundle = Bundle(workdir / "ca-bundle.pem")
    state_dir = workdir / "emulator"
    emulator = start(state_dir, "--profile", "azure", "--time-scale", str(TIME_SCALE))
    try:
        # The azure profile has Azure's default quota (24 cores per CPU family) and endpoint
        # limit (100 per region); the bench's subscription is one with both raised.
        emulator.admin("POST", "/quota", {"standardDSv2Family": 1000})
        emulator.admin("POST", "/limits", {"endpoints_per_subscription_region": 1000})
        bundle.trust(emulator)
        scenarios = measure(options, Workbench(emulator, workdir, base), bundle)
    finally:
        run_cli("down", state_dir=state_dir)
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    minutes = (time.monotonic() - started) / 60
    results = [s.result() for s in scenarios]
    if options.only is not None:
        results = report.merged(json.loads(options.results.read_text()), results, minutes)
    options.results.write_text(json.dumps(results, indent=2) + "\n")
    options.doc.write_text(report.document(results, minutes, TIME_SCALE))
    for result in results:
        verdict = "met " if result["goal_met"] else "MISSED"
        print(
            f"   {verdict} {result['scenario']}: {result['action_s']} s vs {result['baseline_s']} s"
        )
    print(f"wrote bench/results.json and docs/performance.md ({minutes:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
