"""The subscription's VM family quota in a region, as Azure ML's usages API reports it:
`GET /subscriptions/{s}/providers/Microsoft.MachineLearningServices/locations/{region}/usages`
(azure-rest-api-specs, machinelearningservices stable 2024-04-01, examples/Usage/list.json:
`value` of {id, type "…/vmFamily/usages", unit "Count", currentValue, limit, name})."""

from __future__ import annotations

import re
from typing import Any

from emulator.resources.model import PROVIDER
from emulator.resources.store import Store


def _display(family: str) -> str:
    """standardDSv2Family → Standard DSv2 Family Cluster Dedicated vCPUs."""
    middle = re.sub(r"^standard|Family$", "", family)
    return f"Standard {middle} Family Cluster Dedicated vCPUs"


def usages(store: Store, subscription: str, location: str) -> dict[str, Any]:
    base = f"/subscriptions/{subscription}/providers/{PROVIDER}/locations/{location}/usages"
    value = [
        {
            "id": f"{base}/{family}",
            "amlWorkspaceLocation": location,
            "type": f"{PROVIDER}/vmFamily/usages",
            "unit": "Count",
            "currentValue": store.cores_in_use(subscription, family),
            "limit": store.quota(family),
            "name": {"value": family, "localizedValue": _display(family)},
        }
        for family in store.families()
    ]
    return {"value": value}
