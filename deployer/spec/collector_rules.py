"""deployment.data_collector beyond its schema: what would collect nothing, said at its line.

Azure accepts both cases below (the schema already refuses what azure-ai-ml and the REST
specification refuse), so they are warnings: payload logging (`request`, `response`) is Azure's
own, any other collection is filled only by the scoring script's azureml-ai-monitoring
`Collector` of that name (Learn, how-to-collect-production-data, "Perform custom logging").
"""

from __future__ import annotations

from collections.abc import Iterator

from deployer.spec.findings import Finding, warning
from deployer.spec.model import PAYLOAD_COLLECTIONS
from deployer.spec.source import Document, JsonPath

_PATH: JsonPath = ("deployment", "data_collector")


def collector_findings(document: Document) -> Iterator[Finding]:
    collections = document.get((*_PATH, "collections"))
    if not isinstance(collections, dict) or not collections:
        return
    said = [
        str(settings.get("enabled", False)).lower() if isinstance(settings, dict) else None
        for settings in collections.values()
    ]
    if any(value not in ("true", "false") for value in said):
        return  # the schema check said what is wrong
    enabled = [name for name, value in zip(collections, said, strict=True) if value == "true"]
    if not enabled:
        yield warning(
            (*_PATH, "collections"),
            "enables no collection, so nothing is collected: set `enabled: true` on the ones "
            "to collect (a collection is off unless it says so)",
            document.key_mark((*_PATH, "collections")),
        )
    has_script = isinstance(document.get(("deployment", "code_configuration")), dict)
    for name in enabled:
        if name in PAYLOAD_COLLECTIONS or has_script:
            continue
        path: JsonPath = (*_PATH, "collections", name)
        yield warning(
            path,
            f"is filled only by code that calls azureml-ai-monitoring's Collector(name='{name}')"
            ", and this deployment has no scoring script (code_configuration); Azure itself "
            "collects only `request` and `response` (payload logging)",
            document.key_mark(path),
        )
