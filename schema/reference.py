"""Render docs/deploy-file.md (the field reference) from deploy.schema.json.

    python schema/reference.py > docs/deploy-file.md      (or: make docs)

A test fails when the committed reference differs from what this renders.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SCHEMA = json.loads((Path(__file__).parent / "deploy.schema.json").read_text("utf-8"))
DEFS: dict[str, Any] = SCHEMA["$defs"]
COMPLETE: dict[str, Any] = DEFS["complete"]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target = DEFS[node["$ref"].rsplit("/", 1)[-1]]
        return {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def kind(node: dict[str, Any]) -> str:
    node = resolve(node)
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " \\| ".join(f"`{value}`" for value in node["enum"])
    types = node.get("type", "")
    if types == "array":
        return f"list of {kind(node['items'])}"
    if types == "object" and isinstance(node.get("additionalProperties"), dict):
        return "mapping of name → " + kind(node["additionalProperties"])
    if isinstance(types, list):
        return " or ".join(types)
    limits = []
    for keyword, symbol in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤")):
        if keyword in node:
            limits.append(f"{symbol} {node[keyword]}")
    return f"{types} ({', '.join(limits)})" if limits else str(types)


def default(node: dict[str, Any]) -> str:
    node = resolve(node)
    return f"`{json.dumps(node['default'])}`" if "default" in node else ""


def required_keys(path: list[str]) -> set[str]:
    node = COMPLETE
    for part in path:
        node = node.get("properties", {}).get(part, {})
    return set(node.get("required", []))


def section(title: str, node: dict[str, Any], path: list[str], lines: list[str]) -> None:
    node = resolve(node)
    properties: dict[str, Any] = node.get("properties", {})
    if not properties:
        return
    lines += (
        [f"### `{title}`", "", node.get("description", ""), ""]
        if node.get("description")
        else [f"### `{title}`", ""]
    )
    lines += ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    required = required_keys(path)
    nested: list[tuple[str, dict[str, Any], list[str]]] = []
    for name, prop in properties.items():
        target = resolve(prop)
        mark = " **(required)**" if name in required else ""
        description = prop.get("description", target.get("description", "")).replace("|", "\\|")
        is_object = target.get("type") == "object" and "properties" in target
        shown = "mapping, see below" if is_object else kind(prop)
        lines.append(f"| `{name}`{mark} | {shown} | {default(prop)} | {description} |")
        if is_object:
            nested.append((f"{title}.{name}", prop, [*path, name]))
    lines.append("")
    for child_title, child, child_path in nested:
        section(child_title, child, child_path, lines)


def render() -> str:
    lines = [
        "# Deploy file reference",
        "",
        "<!-- Generated from schema/deploy.schema.json by `make docs`; do not edit by hand. -->",
        "",
        SCHEMA["description"],
        "",
        f"Schema: [`schema/deploy.schema.json`](../schema/deploy.schema.json) (`$id`: "
        f"`{SCHEMA['$id']}`). Keys marked **(required)** must be present in the base file "
        "(an overlay may leave anything out).",
        "",
        "## Top level",
        "",
        "| key | description |",
        "| --- | --- |",
    ]
    for name, prop in SCHEMA["properties"].items():
        required = " **(required)**" if name in COMPLETE["required"] else ""
        lines.append(f"| `{name}`{required} | {prop['description']} |")
    lines += ["", "## Sections", ""]
    for name in ("endpoint", "image", "deployment", "rollout", "smoke_test"):
        section(name, SCHEMA["properties"][name], [name], lines)
    section("environments.<name>", DEFS["overlay"], ["<overlay>"], lines)
    return "\n".join(line.rstrip() for line in lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
