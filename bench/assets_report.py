"""docs/performance.md's part for scenarios 8-10 (bench/assets.py): what each run of the
action and of the baseline uploaded, registered, built and changed, and the gigabyte upload."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.measure import median, spread

KINDS = ("models", "codes", "environments")


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def size(count: int) -> str:
    """Bytes as people read them: exact below 10 kB, else KiB, MiB or GiB."""
    if count < 10_000:
        return f"{count} B"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if count >= scale:
            return f"{count / scale:.2f} {unit}"
    return f"{count / 2**10:.1f} KiB"


def details(r: dict[str, Any]) -> list[str]:
    number = r["scenario"].split(".")[0]
    if number == "10":
        return _upload(r)
    lines = [
        "Per run, read off the emulator (bench/assets.py): the bytes of the blobs new or "
        "rewritten in the workspace's datastore container (of them, the model's and the "
        "code's), the bytes its storage proxy relayed to the storage (TLS and headers "
        "included, every account), the asset versions that appeared in its asset store "
        "(models / codes / environments), the blobs Azure ML's builder pushed to the "
        "workspace's registry (environment builds), and the mutating ARM calls (PUT, PATCH, "
        "DELETE, and POSTs other than listKeys, getLogs and listSecrets, which read):",
        "",
        _row(["run", "s", "bytes uploaded", "model / code", "through the proxy",
              "versions created", "builds pushed", "mutating ARM calls"]),
        _row(["---"] * 8),
    ]  # fmt: skip
    for side in ("action", "baseline"):
        for index, run in enumerate(r[f"{side}_runs"]):
            created = run["asset_versions_created"]
            lines.append(
                _row(
                    [
                        f"{side}, round {index + 1}",
                        f"{r['runs'][side][index]:.1f}",
                        size(run["bytes_uploaded"]),
                        f"{size(run['model_bytes_uploaded'])} / {size(run['code_bytes_uploaded'])}",
                        size(run["proxy_bytes_to_storage"]),
                        " / ".join(str(created[kind]) for kind in KINDS),
                        run["images_pushed"],
                        run["mutating_arm_calls"],
                    ]
                )
            )
    lines += ["", "ARM requests other than GETs in the first round, by resource type:", ""]
    for side in ("action", "baseline"):
        writes = r[f"{side}_runs"][0]["arm_writes"] if r[f"{side}_runs"] else {}
        listed = ", ".join(f"`{kind}` × {count}" for kind, count in writes.items())
        lines.append(f"- {side}: {listed or 'none'}")
    lines.append("")
    if number == "9":
        folder = max(r["code_folder_bytes"])
        lines += [
            f"The code folder is {size(folder)}; the action uploaded at most "
            f"{r['uploaded_to_code_folder']:.2f}× that. The baseline registers the same inline "
            "assets anew with every deployment: azure-ai-ml finds the unchanged model's blobs "
            "by their hash and does not upload them again, but it writes every asset version "
            "again, and updates or creates the deployment and the endpoint every time.",
            "",
        ]
    return lines


def _upload(r: dict[str, Any]) -> list[str]:
    runs = r["upload_runs"]
    small = r["model_files"] - 1
    lines = [
        f"The model: {size(r['model_bytes'])} of random bytes, one file of "
        f"{size(r['large_file_bytes'])} and {small} of "
        f"{size((r['model_bytes'] - r['large_file_bytes']) // max(small, 1))}, generated in a "
        "temporary folder and deleted after. Each round has an emulator of its own (no data "
        "plane; Azurite keeps the blobs in memory, `up --storage memory`): the action deploys "
        "the model with a scoring script and an environment by image (`azureml-deploy deploy`, "
        "its own process), and a process of azure-storage-blob uploads the same files to the "
        f"same container through the same storage proxy, {r['baseline_threads']} files at a "
        f"time, each `upload_blob` with `max_concurrency={r['baseline_max_concurrency']}` "
        "(bench/baseline.py `upload`); the two take turns going first. The action's time is "
        "its `register model` phase (the SDK hashing the folder, asking for the datastore's "
        "secret, uploading, confirming, registering the version); before it, its `observe` "
        "phase hashes the folder once more to name the version. Peak memory is each "
        "process's own (wait4's `ru_maxrss`).",
        "",
        _row(["round", "action: register model", "action: observe", "action: whole run",
              "action: peak memory", "baseline: upload", "baseline: peak memory",
              "bytes uploaded (action / baseline)", "through the proxy (action / baseline)"]),
        _row(["---"] * 9),
    ]  # fmt: skip
    for number, run in enumerate(runs, 1):
        action, baseline = run["action"], run["baseline"]
        lines.append(
            _row(
                [
                    number,
                    f"{action['register_model_s']:.1f} s",
                    f"{action['observe_s']:.1f} s",
                    f"{action['wall_s']:.1f} s",
                    size(action["peak_rss_bytes"]),
                    f"{baseline['upload_s']:.1f} s",
                    size(baseline["peak_rss_bytes"]),
                    f"{size(action['bytes_uploaded'])} / {size(baseline['bytes_uploaded'])}",
                    f"{size(action['proxy_bytes_to_storage'])} / "
                    f"{size(baseline['proxy_bytes_to_storage'])}",
                ]
            )
        )
    lines += [
        "",
        f"The action's upload took {r['upload_ratio']:.2f}× azure-storage-blob's (medians "
        f"{median(r['runs']['action']):.1f} s, range {spread(r['runs']['action'])}, against "
        f"{median(r['runs']['baseline']):.1f} s, range {spread(r['runs']['baseline'])}); with "
        f"its whole `observe` phase, where it hashes the folder to name the version, "
        f"{r['upload_and_observe_ratio']:.2f}×. Its process peaked at "
        f"{size(r['action_peak_rss_bytes'])} of memory, the baseline's at "
        f"{size(r['baseline_peak_rss_bytes'])}: neither holds the files in memory.",
        "",
        "The action uploads through azure-ai-ml (`Model` `create_or_update` of the staged "
        "folder; azure/ai/ml/_artifacts/_blob_storage_helper.py, `upload_directory` in "
        "_utils/_asset_utils.py), which does more than the baseline: it hashes the whole "
        "folder first, 1 KiB at a time, to name `LocalUpload/<hash>/`; checks the first "
        "file's blob for an upload confirmed earlier; uploads 2 files per core at a time, each "
        "`upload_blob` with `validate_content=True` (an MD5 of every block, computed in Python, "
        "each block read into memory first) and `max_concurrency=16` — more connections than "
        "azure-core's pool keeps (10), so urllib3 discards connections and opens new ones "
        "(and warns, in the action's log); then sets the confirmation metadata on that first "
        "blob. Here both sides share two cores with the storage (Azurite and the proxy, over "
        "TLS), which sets the pace, so that extra work costs little; where a network sets it, "
        "the new connections and the 2-per-core file concurrency would weigh more (not "
        "measured). Should the upload ever miss its goal, the change is in "
        "`register_model`: pass the action's own digest as the SDK's upload hash (the staged "
        "files are exactly the files it hashed) to skip the second hash, and upload the files "
        "with azure-storage-blob in the SDK's layout (`LocalUpload/<hash>/<folder>/…`, the "
        "confirmation metadata on the first file) with no more block uploads at a time than "
        "the pool keeps connections.",
        "",
    ]
    return lines


def missed(r: dict[str, Any]) -> str:
    number = r["scenario"].split(".")[0]
    if number == "10":
        action, baseline = median(r["runs"]["action"]), median(r["runs"]["baseline"])
        return (
            f"- **Scenario 10**: the action's upload took {r['upload_ratio']:.2f}× "
            f"azure-storage-blob's (goal 1.2×): {action - 1.2 * baseline:.1f} s over."
        )
    runs = r["action_runs"]
    problems = []
    if number == "8":
        uploaded = sum(run["bytes_uploaded"] for run in runs)
        created = sum(sum(run["asset_versions_created"].values()) for run in runs)
        mutating = sum(run["mutating_arm_calls"] for run in runs)
        problems = [
            f"{uploaded} bytes uploaded" if uploaded else "",
            f"{created} asset version{'s' * (created != 1)} created" if created else "",
            f"{mutating} mutating ARM call{'s' * (mutating != 1)}" if mutating else "",
        ]
    else:
        problems = [
            f"it uploaded {r['uploaded_to_code_folder']:.2f}× the code folder (goal 1.1×)"
            if r["uploaded_to_code_folder"] > 1.1
            else "",
            "it uploaded the model again"
            if any(run["model_bytes_uploaded"] for run in runs)
            else "",
            "an environment was built"
            if any(run["images_pushed"] or run["asset_versions_created"]["environments"]
                   for run in runs)
            else "",
        ]  # fmt: skip
    return f"- **Scenario {number}**: {'; '.join(p for p in problems if p) or 'see above'}."
