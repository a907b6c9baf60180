"""Scenarios 8-10 of the benchmark (bench/assets.py): how ARM's writes are named, and what
docs/performance.md says of each run, met or missed."""

from __future__ import annotations

from typing import Any

from bench import report
from bench.assets import arm_writes
from bench.assets_report import size

WORKSPACE = (
    "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"
)


class Log:
    def __init__(self, entries: list[tuple[str, str]]) -> None:
        self.entries = [{"method": m, "path": WORKSPACE + p} for m, p in entries]

    def requests_since(self, since: int, part: str) -> list[dict[str, Any]]:
        return self.entries


def test_arm_writes_are_counted_by_method_and_resource_type() -> None:
    log = Log(
        [
            ("GET", "/models/seed/versions/1"),
            ("PUT", "/onlineEndpoints/seed"),
            ("PUT", "/onlineEndpoints/seed"),
            ("PUT", "/onlineEndpoints/seed/deployments/green"),
            ("POST", "/onlineEndpoints/seed/listKeys"),
            ("POST", "/codes/seed/versions/3f/startPendingUpload"),
            ("DELETE", "/onlineEndpoints/seed/deployments/blue"),
        ]
    )
    assert arm_writes(log, 0) == {  # type: ignore[arg-type]
        "DELETE onlineEndpoints/deployments": 1,
        "POST codes/versions/startPendingUpload": 1,
        "POST onlineEndpoints/listKeys": 1,
        "PUT onlineEndpoints": 2,
        "PUT onlineEndpoints/deployments": 1,
    }


def _run(uploaded: int, model: int = 0, versions: int = 0, mutating: int = 0) -> dict[str, Any]:
    return {
        "bytes_uploaded": uploaded,
        "blobs_uploaded": 1 if uploaded else 0,
        "model_bytes_uploaded": model,
        "code_bytes_uploaded": uploaded - model,
        "proxy_bytes_to_storage": uploaded + 3000 if uploaded else 0,
        "asset_versions_created": {"models": 0, "codes": versions, "environments": 0},
        "images_pushed": 0,
        "mutating_arm_calls": mutating,
        "arm_writes": {"POST onlineEndpoints/listKeys": 1},
    }


def _scenarios(met: bool) -> list[dict[str, Any]]:
    rerun = _run(0) if met else _run(721, versions=1, mutating=3)
    change = _run(739, versions=1, mutating=6) if met else _run(4_195_043, model=4_194_304)
    upload = {"register_model_s": 22.0, "observe_s": 1.5, "wall_s": 30.0, "peak_rss_bytes": 2**28}
    upload |= {"bytes_uploaded": 2**30, "proxy_bytes_to_storage": 2**30 + 10**6}
    baseline = {"upload_s": 25.0 if met else 15.0, "wall_s": 29.0, "peak_rss_bytes": 2**27}
    baseline |= {"bytes_uploaded": 2**30, "proxy_bytes_to_storage": 2**30 + 10**6}
    common = {"floor_s": None, "goal": "a goal", "goal_met": met}
    return [
        {
            **common,
            "scenario": "8. re-run with unchanged model, code and environment",
            "baseline_s": 80.0,
            "action_s": 3.5,
            "ratio": 0.04,
            "action_runs": [rerun],
            "baseline_runs": [_run(721, versions=1, mutating=7)],
            "runs": {"baseline": [80.0], "action": [3.5]},
        },
        {
            **common,
            "scenario": "9. score.py-only change (model, code, environment)",
            "baseline_s": 112.0,
            "action_s": 26.0,
            "ratio": 0.23,
            "code_folder_bytes": [739],
            "uploaded_to_code_folder": round(change["bytes_uploaded"] / 739, 3),
            "action_runs": [change],
            "baseline_runs": [_run(741, versions=1, mutating=8)],
            "runs": {"baseline": [112.0], "action": [26.0]},
        },
        {
            **common,
            "scenario": "10. first upload of a 1 GiB model",
            "baseline_s": baseline["upload_s"],
            "action_s": 22.0,
            "ratio": round(22.0 / baseline["upload_s"], 3),
            "model_bytes": 2**30,
            "model_files": 2049,
            "large_file_bytes": 768 * 2**20,
            "baseline_threads": 8,
            "baseline_max_concurrency": 8,
            "upload_runs": [{"action": upload, "baseline": baseline}],
            "upload_ratio": round(22.0 / baseline["upload_s"], 3),
            "upload_and_observe_ratio": round(23.5 / baseline["upload_s"], 3),
            "action_peak_rss_bytes": 2**28,
            "baseline_peak_rss_bytes": 2**27,
            "runs": {"baseline": [baseline["upload_s"]], "action": [22.0]},
        },
    ]


def test_the_asset_scenarios_show_every_run_side_by_side() -> None:
    document = report.document(_scenarios(met=True), 20.0, 0.05)
    assert "| action, round 1 | 3.5 | 0 B | 0 B / 0 B | 0 B | 0 / 0 / 0 | 0 | 0 |" in document
    assert "| baseline, round 1 | 80.0 | 721 B | 0 B / 721 B | 3721 B | 0 / 1 / 0 | 0 | 7 |" in (
        document
    )
    assert "- action: `POST onlineEndpoints/listKeys` × 1" in document
    assert "The code folder is 739 B; the action uploaded at most 1.00× that." in document
    assert "| 1 | 22.0 s | 1.5 s | 30.0 s | 256.00 MiB | 25.0 s | 128.00 MiB |" in document
    assert "The action's upload took 0.88× azure-storage-blob's" in document
    assert "`build_on: runner`" in document
    assert "Goals missed" not in document


def test_missed_asset_goals_say_what_was_done_that_should_not_have_been() -> None:
    document = report.document(_scenarios(met=False), 20.0, 0.05)
    assert (
        "- **Scenario 8**: 721 bytes uploaded; 1 asset version created; 3 mutating ARM calls."
        in document
    )
    assert (
        "- **Scenario 9**: it uploaded 5676.65× the code folder (goal 1.1×); it uploaded the "
        "model again." in document
    )
    assert (
        "- **Scenario 10**: the action's upload took 1.47× azure-storage-blob's (goal 1.2×): "
        in (document)
    )


def test_sizes_read_as_people_read_them() -> None:
    assert [size(n) for n in (0, 9_999, 10_240, 5 * 2**20, 2**30)] == [
        "0 B",
        "9999 B",
        "10.0 KiB",
        "5.00 MiB",
        "1.00 GiB",
    ]


def _build_run(seconds: float, blobs: int, phases: dict[str, float]) -> dict[str, Any]:
    return {
        "s": seconds,
        "phases_s": phases,
        "registry_blobs": blobs,
        "registry_bytes": blobs * 1000,
    }


def _environment_builds(met: bool) -> dict[str, Any]:
    runner = {
        "first": _build_run(40.0, 5, {"build": 20.0, "push": 6.0, "deployment green": 9.0}),
        "unchanged": _build_run(4.0, 0 if met else 2, {"sign-in": 1.0}),
    }
    azure = {
        "first": _build_run(55.0, 6, {"register environment": 0.5, "deployment green": 50.0}),
        "unchanged": _build_run(3.5, 0, {"sign-in": 1.0}),
    }
    return {
        "scenario": "11. environment built on the runner vs by Azure ML",
        "goal": "a goal",
        "goal_met": met,
        "floor_s": None,
        "baseline_s": 55.0,
        "action_s": 40.0,
        "ratio": 0.727,
        "unchanged_s": {"runner": 4.0, "azure": 3.5},
        "unchanged_runs_s": {"runner": [4.0], "azure": [3.5]},
        "rounds": {"runner": [runner], "azure": [azure]},
        "runs": {"baseline": [55.0], "action": [40.0]},
    }


def test_the_environment_build_scenario_shows_both_sides_first_and_unchanged() -> None:
    document = report.document([_environment_builds(met=True)], 20.0, 0.05)
    assert "| runner builds, round 1, first | 40.0 | 26.0 | 0.0 | 9.0 | 5 | 5000 B |" in document
    assert "| Azure ML builds, round 1, first | 55.0 | 0.0 | 0.5 | 50.0 | 6 | 6000 B |" in document
    assert "| runner builds, round 1, unchanged | 4.0 | 0.0 | 0.0 | 0.0 | 0 | 0 B |" in document
    assert "(40.0 s for a first deploy against 55.0 s" in document
    assert "Goals missed" not in document


def test_an_unchanged_run_that_pushed_is_named() -> None:
    document = report.document([_environment_builds(met=False)], 20.0, 0.05)
    assert (
        "- **Scenario 11**: an unchanged re-run pushed to the registry (runner round 1)."
        in document
    )
