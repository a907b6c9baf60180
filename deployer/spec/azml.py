"""An Azure ML CLI (az ml) online endpoint or deployment file where a deploy file goes: named
for what it is, with the ways to give it, instead of "not a known key" per line.

az ml's files name their schema in `$schema` (azureml-examples' `cli/endpoints/online/**` all
do: `https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json`); one
without it is recognised by `endpoint_name`, which only a deployment file has. The deploy file's
`deployment:` and `endpoint:` take az ml's own field names (deploy.schema.json), so which of a
file's fields carry over as they are is read from that schema (azml_files.py).
"""

from __future__ import annotations

import re
from typing import Any

from deployer.diagnostics import Problem, Severity
from deployer.spec.schemacheck import deploy_schema
from deployer.spec.source import Document

# Where az ml's schemas are published, now and before (azureml-examples' tfserving sample still
# names azuremlsdk2.blob.core.windows.net).
_SCHEMA = re.compile(
    r"(?:azuremlschemas\.azureedge\.net|azuremlsdk2\.blob\.core\.windows\.net)/[^/]+/"
    r"(managed|kubernetes)Online(Deployment|Endpoint)\.schema\.json",
    re.IGNORECASE,
)


def section_fields(section: str) -> set[str]:
    """The fields of the deploy file's `section` (deployment, endpoint)."""
    schema = deploy_schema()
    node: dict[str, Any] = schema["properties"][section]
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return set(node.get("properties", {}))


def azml_kind(data: Any) -> tuple[str, str] | None:
    """("managed" or "kubernetes", "deployment" or "endpoint"), if this is an az ml file."""
    if not isinstance(data, dict):
        return None
    schema = data.get("$schema")
    if isinstance(schema, str):
        match = _SCHEMA.search(schema)
        if match:
            return match.group(1).lower(), match.group(2).lower()
    if "endpoint_name" in data and not {"version", "deployment", "endpoint"} & set(data):
        # az ml reads `type` (managed, the default, or kubernetes) when `$schema` is absent
        return ("kubernetes" if data.get("type") == "kubernetes" else "managed"), "deployment"
    return None


def azml_problems(document: Document) -> list[Problem] | None:
    """One error saying what the file is and what to write instead, and one per field the deploy
    file has no place for, each at its line; None for any other file."""
    data = document.data
    if not isinstance(data, dict):
        return None
    kind = azml_kind(data)
    if kind is None:
        return None
    compute, what = kind
    first = document.key_mark(("$schema",)) if "$schema" in data else document.key_mark(())
    name = f"Azure ML CLI (az ml) {compute} online {what} file"
    if compute == "kubernetes":
        return [
            Problem(
                first.line,
                first.column,
                Severity.ERROR,
                f"this is an {name}: azureml-deploy deploys to managed online endpoints only; "
                "deploy this one with az ml",
            )
        ]
    flag = f"--{what}-file (the action's `{what}-file` input)"
    return [
        Problem(
            first.line,
            first.column,
            Severity.ERROR,
            f"this is an {name}, not a deploy file: give it as {flag}, or name it from a "
            f"deploy file as `{what}: {{file: …}}` (with the rollout, smoke test and "
            "environments beside it); `azureml-deploy import` writes an equivalent deploy file",
        )
    ]
