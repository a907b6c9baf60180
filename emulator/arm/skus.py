"""VM sizes managed online deployments accept, with their cores and quota family."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sku:
    name: str
    cores: int
    family: str
    memory_gb: float


def _sizes() -> dict[str, Sku]:
    table: list[Sku] = []
    for cores, name in ((1, "DS1"), (2, "DS2"), (4, "DS3"), (8, "DS4"), (16, "DS5")):
        table.append(Sku(f"Standard_{name}_v2", cores, "standardDSv2Family", cores * 3.5))
    for cores in (2, 4, 8, 16, 32, 48, 64, 72):
        table.append(Sku(f"Standard_F{cores}s_v2", cores, "standardFSv2Family", cores * 2.0))
    for cores in (2, 4, 8, 16, 32, 48, 64, 96):
        table.append(Sku(f"Standard_D{cores}a_v4", cores, "standardDAv4Family", cores * 4.0))
        table.append(Sku(f"Standard_D{cores}as_v4", cores, "standardDASv4Family", cores * 4.0))
        table.append(Sku(f"Standard_E{cores}a_v4", cores, "standardEAv4Family", cores * 8.0))
        table.append(Sku(f"Standard_E{cores}as_v4", cores, "standardEASv4Family", cores * 8.0))
    for cores in (2, 4, 8, 16, 32, 48, 64):
        table.append(Sku(f"Standard_E{cores}s_v3", cores, "standardESv3Family", cores * 8.0))
    for cores in (4, 8, 16, 64):
        table.append(
            Sku(f"Standard_NC{cores}as_T4_v3", cores, "standardNCASv3_T4Family", cores * 7.0)
        )
    for cores in (6, 12, 24):
        table.append(Sku(f"Standard_NC{cores}s_v3", cores, "standardNCSv3Family", cores * 18.7))
    for cores in (24, 48, 96):
        table.append(
            Sku(f"Standard_NC{cores}ads_A100_v4", cores, "standardNCADSA100v4Family", cores * 9.5)
        )
    return {sku.name.lower(): sku for sku in table}


SKUS = _sizes()
DEFAULT_FAMILY_QUOTA = 128  # cores per VM family per subscription
UPGRADE_RESERVE = 0.2  # Azure ML reserves 20 % extra instances for upgrades


def find(name: str) -> Sku | None:
    return SKUS.get(name.lower())
