"""What the benchmark reads off the emulator and the registry: the service floor, mutating calls,
bytes that reached the registry."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.client import Emulator
from emulator.uploads import blob_path, blobs_root

MUTATING = ("PUT", "PATCH", "DELETE")


def floor_seconds(emulator: Emulator, *operations: str) -> float:
    """The service's own provisioning time for `operations` done one after the other."""
    timing = emulator.timing()
    return sum(float(timing["seconds"][op]) * float(timing["time_scale"]) for op in operations)


# POSTs that read: an endpoint's keys, a deployment's logs, a datastore's secret
READING_POSTS = ("/listKeys", "/getLogs", "/listSecrets")


def mutating_arm_calls(emulator: Emulator, since: int) -> int:
    """Requests that change Azure resources (the POSTs of READING_POSTS do not)."""
    return sum(
        1
        for entry in emulator.requests_since(since, part="arm")
        if entry["method"] in MUTATING
        or (entry["method"] == "POST" and not entry["path"].endswith(READING_POSTS))
    )


@dataclass(frozen=True)
class Budget:
    """ARM's request budget over a run: the requests it served by kind, the 429s it answered,
    and the bucket's floor — the least time its buckets allow for that many requests (each
    kind has its own bucket, refilled side by side)."""

    served: dict[str, int]
    throttled: int
    floor_s: float

    def figures(self) -> dict[str, Any]:
        return {
            "arm_requests": self.served,
            "throttled_429s": self.throttled,
            "bucket_floor_s": round(self.floor_s, 2),
        }


def arm_budget(emulator: Emulator, since: int) -> Budget:
    buckets: dict[str, list[float]] = emulator.timing()["arm_buckets"] or {}
    served = {"reads": 0, "writes": 0, "deletes": 0}
    throttled = 0
    for entry in emulator.requests_since(since, part="arm"):
        if entry["status"] == 429:
            throttled += 1
            continue
        method = entry["method"]
        kind = "reads" if method == "GET" else "deletes" if method == "DELETE" else "writes"
        served[kind] += 1
    floor = max(
        (
            max(0.0, (served[kind] - size) / rate)
            for kind, (size, rate) in buckets.items()
            if kind in served
        ),
        default=0.0,
    )
    return Budget(served, throttled, floor)


def registry_blobs(emulator: Emulator) -> dict[str, int]:
    """Every blob in the registry's storage: digest → bytes."""
    root = blobs_root(Path(emulator.state_dir))
    return (
        {path.parent.name: path.stat().st_size for path in root.glob("sha256/*/*/data")}
        if root.exists()
        else {}
    )


@dataclass(frozen=True)
class Pushed:
    total_bytes: int  # every new blob: layers, image config, manifest
    layer_bytes: int  # the new layers alone
    layers: int
    changed_layer_bytes: int  # the layers of the new image that the old one did not have

    @property
    def ratio(self) -> float:
        """Layer bytes pushed per byte of changed layer (1.0: nothing pushed needlessly)."""
        return self.layer_bytes / max(self.changed_layer_bytes, 1)

    def figures(self) -> dict[str, int]:
        return {
            "bytes_pushed": self.total_bytes,
            "layer_bytes_pushed": self.layer_bytes,
            "layers_pushed": self.layers,
            "changed_layer_bytes": self.changed_layer_bytes,
        }


def pushed_since(emulator: Emulator, before: dict[str, int]) -> Pushed:
    after = registry_blobs(emulator)
    new = {digest: size for digest, size in after.items() if digest not in before}
    layers: dict[str, int] = {}
    for digest, size in new.items():
        if size > 64_000:
            continue  # a layer, not a manifest
        path = blob_path(Path(emulator.state_dir), digest)
        try:
            document: dict[str, Any] = json.loads(path.read_bytes())
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        for layer in document.get("layers", []) if isinstance(document, dict) else []:
            layers[str(layer["digest"]).removeprefix("sha256:")] = int(layer["size"])
    changed = {digest: size for digest, size in layers.items() if digest not in before}
    pushed_layers = {digest: size for digest, size in new.items() if digest in layers}
    return Pushed(
        total_bytes=sum(new.values()),
        layer_bytes=sum(pushed_layers.values()),
        layers=len(pushed_layers),
        changed_layer_bytes=sum(changed.values()),
    )


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2) if values else 0.0


def spread(values: list[float]) -> str:
    return f"{min(values):.1f}–{max(values):.1f}" if values else "–"
