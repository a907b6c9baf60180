"""An Azure ML CLI (az ml) online endpoint or deployment file where a deploy file goes: named
for what it is, with the deploy file that says the same, instead of "not a known key" per line.

az ml's files name their schema in `$schema` (azureml-examples' `cli/endpoints/online/**` all
do: `https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json`); one
without it is recognised by `endpoint_name`, which only a deployment file has. The deploy file's
`deployment:` and `endpoint:` take az ml's own field names (deploy.schema.json), so what maps is
read from that schema, not from a list kept here.
"""

from __future__ import annotations

import re
from typing import Any

from deployer.diagnostics import Problem, Severity
from deployer.spec.schemacheck import deploy_schema
from deployer.spec.source import Document

_SCHEMA = re.compile(
    r"azuremlschemas\.azureedge\.net/[^/]+/(managed|kubernetes)Online(Deployment|Endpoint)"
    r"\.schema\.json",
    re.IGNORECASE,
)
# Set by the action, not the file: which deployment (blue, green) and which endpoint it is for.
_THE_ACTIONS = {"$schema", "name", "endpoint_name", "type"}
# An endpoint file's traffic is the rollout's to move; `compute` is a Kubernetes endpoint's.
_ROLLOUT_OWNS = {"traffic", "mirror_traffic"}


def _properties(section: str) -> set[str]:
    schema = deploy_schema()
    node: dict[str, Any] = schema["properties"][section]
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return set(node.get("properties", {}))


def _kind(data: dict[str, Any]) -> tuple[str, str] | None:
    """("managed" or "kubernetes", "deployment" or "endpoint"), if this is an az ml file."""
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
    kind = _kind(data)
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
    known = _properties(what)  # the deploy file's section of the same name
    fields = [key for key in data if key not in _THE_ACTIONS | _ROLLOUT_OWNS]
    endpoint = data.get("endpoint_name") if what == "deployment" else data.get("name")
    endpoint_text = endpoint if isinstance(endpoint, str) and endpoint else "my-endpoint"
    mapped = ", ".join(f"{key}: …" for key in fields if key in known)
    if what == "deployment":
        example = f"`version: 1`, `endpoint: {{name: {endpoint_text}}}`, `deployment: {{{mapped}}}`"
    else:
        inner = f", {mapped}" if mapped else ""
        example = f"`version: 1`, `endpoint: {{name: {endpoint_text}{inner}}}`, and a `deployment:`"
    problems = [
        Problem(
            first.line,
            first.column,
            Severity.ERROR,
            f"this is an {name}, not a deploy file: azureml-deploy reads the same fields, with "
            f"the same meaning, in a deploy file of its own: {example} (paths relative to the "
            "deploy file); the deployment's name and its traffic are the rollout's to choose. "
            'The README\'s "Coming from az ml" table maps every field',
        )
    ]
    for key in fields:
        if key not in known:
            mark = document.key_mark((key,))
            problems.append(
                Problem(
                    mark.line,
                    mark.column,
                    Severity.ERROR,
                    f"{key}: azureml-deploy has no place for this az ml {what} field yet; "
                    "leave it out, or deploy with az ml what needs it",
                )
            )
    return problems
