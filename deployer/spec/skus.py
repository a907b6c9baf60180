"""VM sizes Azure ML managed online endpoints accept (from the Azure ML "managed online
endpoints SKU list"). Azure adds sizes over time, so an unknown size is a warning, not an error."""

from __future__ import annotations

MANAGED_ONLINE_SKUS: frozenset[str] = frozenset(
    [
        *(f"Standard_DS{n}_v2" for n in (1, 2, 3, 4, 5)),
        *(f"Standard_F{n}s_v2" for n in (2, 4, 8, 16, 32, 48, 64, 72)),
        *(f"Standard_D{n}a_v4" for n in (2, 4, 8, 16, 32, 48, 64, 96)),
        *(f"Standard_D{n}as_v4" for n in (2, 4, 8, 16, 32, 48, 64, 96)),
        *(f"Standard_E{n}s_v3" for n in (2, 4, 8, 16, 32, 48, 64)),
        *(f"Standard_E{n}a_v4" for n in (2, 4, 8, 16, 32, 48, 64, 96)),
        *(f"Standard_E{n}as_v4" for n in (2, 4, 8, 16, 32, 48, 64, 96)),
        *(f"Standard_FX{n}mds" for n in (24, 36, 48)),
        *(f"Standard_NC{n}as_T4_v3" for n in (4, 8, 16, 64)),
        *(f"Standard_NC{n}s_v3" for n in (6, 12, 24)),
        *(f"Standard_NC{n}ads_A100_v4" for n in (24, 48, 96)),
        "Standard_NC40ads_H100_v5",
        "Standard_NC80adis_H100_v5",
        "Standard_ND40rs_v2",
        "Standard_ND96asr_v4",
        "Standard_ND96amsr_A100_v4",
        "Standard_ND96isr_H100_v5",
    ]
)
