"""VM sizes, limits and probe rules of Azure ML managed online endpoints, read from
schema/managed-online.json (each part of it names its Microsoft source).

The emulator reads the same file: one copy of Azure's rules, and no import between deployer/
and emulator/ (the emulator is reached only over the network). deployer/managed-online.json is
a symlink to it, like deploy.schema.json, so the action's image carries it with the package.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Size:
    name: str
    family: str  # the quota family, as the usages API names it
    cores: int
    gpu: bool
    skip_reserve: bool  # "Skip 20% Reservation: Yes" in the SKU list

    def quota_cores(self, instances: int) -> int:
        """Cores of family quota `instances` of this size hold, with Azure ML's upgrade
        reserve where it applies."""
        if self.skip_reserve:
            return self.cores * instances
        return self.cores * math.ceil(round(RESERVE_FACTOR * instances, 6))


@cache
def _data() -> dict[str, Any]:
    text = resources.files("deployer").joinpath("managed-online.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _sizes() -> dict[str, Size]:
    return {
        row["name"].lower(): Size(
            row["name"],
            row["family"],
            int(row["cores"]),
            bool(row["gpu"]),
            bool(row["skip_reserve"]),
        )
        for row in _data()["sizes"]["list"]
    }


SIZES = _sizes()
MANAGED_ONLINE_SKUS: frozenset[str] = frozenset(size.name for size in SIZES.values())
RESERVE_FACTOR: float = float(_data()["reserve"]["factor"])
LIMITS: dict[str, int] = {k: int(v) for k, v in _data()["limits"].items() if k != "source"}
LIVENESS_SUCCESS_THRESHOLD: int = int(_data()["probes"]["liveness_success_threshold"])
LIVENESS_SUCCESS_THRESHOLD_WORDS: str = str(_data()["probes"]["liveness_success_threshold_words"])


def find(name: str) -> Size | None:
    return SIZES.get(name.lower())
