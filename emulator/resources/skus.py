"""VM sizes, limits, default quotas and probe rules of managed online deployments, read from
the repository's schema/managed-online.json: the same file the action reads (each part names
its Microsoft source), so the two never disagree and neither imports the other."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_FILE = Path(__file__).resolve().parents[2] / "schema" / "managed-online.json"
_DATA: dict[str, Any] = json.loads(_FILE.read_text("utf-8"))


@dataclass(frozen=True)
class Sku:
    name: str
    cores: int
    family: str
    gpu: bool
    skip_reserve: bool

    def reserved_cores(self, capacity: int) -> int:
        """ceil(1.2 x instances) x cores, or instances x cores for the sizes the SKU list
        marks "Skip 20% Reservation"."""
        if self.skip_reserve:
            return self.cores * capacity
        return self.cores * math.ceil(round(UPGRADE_RESERVE_FACTOR * capacity, 6))


SKUS: dict[str, Sku] = {
    row["name"].lower(): Sku(
        row["name"], int(row["cores"]), row["family"], bool(row["gpu"]), bool(row["skip_reserve"])
    )
    for row in _DATA["sizes"]["list"]
}
UPGRADE_RESERVE_FACTOR = float(_DATA["reserve"]["factor"])
LIMITS: dict[str, int] = {k: int(v) for k, v in _DATA["limits"].items() if k != "source"}
DEFAULT_QUOTA: dict[str, int] = {
    k: int(v) for k, v in _DATA["default_quota"].items() if k != "source"
}
LIVENESS_SUCCESS_THRESHOLD = int(_DATA["probes"]["liveness_success_threshold"])
GPU_FAMILIES = frozenset(sku.family for sku in SKUS.values() if sku.gpu)


def find(name: str) -> Sku | None:
    return SKUS.get(name.lower())


def default_family_quota(family: str) -> int:
    """Azure's default for a subscription: CPU families at the low end of the documented range,
    GPU families at zero."""
    key = "gpu_family_cores" if family in GPU_FAMILIES else "cpu_family_cores"
    return DEFAULT_QUOTA[key]
