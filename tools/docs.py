"""The generated parts of the documentation: docs/deploy-file.md (the field reference) from
schema/deploy.schema.json, and the README's inputs and outputs tables from action.yml.

    python -m tools.docs            rewrite them (make docs)
    python -m tools.docs --check    exit 1 if any is stale (make lint)
"""

from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "schema" / "deploy.schema.json").read_text("utf-8"))
REFERENCE = ROOT / "docs" / "deploy-file.md"
README = ROOT / "README.md"
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
    lines += [
        "## From az ml files",
        "",
        "`endpoint: {file: …}` and `deployment: {file: …}` read an Azure ML CLI (az ml) "
        "endpoint or deployment file as the section (the keys beside `file` override it); "
        "`--endpoint-file` and `--deployment-file` (the action's `endpoint-file` and "
        "`deployment-file` inputs) give them with no deploy file; "
        "`azureml-deploy import endpoint.yml blue-deployment.yml` writes the deploy file that "
        "says the same. What each field of an az ml file becomes (from the README's "
        "[Coming from az ml](../README.md#coming-from-az-ml)):",
        "",
        *azml_table(README.read_text("utf-8")),
    ]
    return "\n".join(line.rstrip() for line in lines).rstrip() + "\n"


def azml_table(readme: str) -> list[str]:
    """The README's table of az ml fields and what they become in a deploy file."""
    match = re.search(r"### Coming from az ml\n\n(?:.+\n)+\n((?:\|.*\|\n)+)", readme)
    if match is None:
        raise SystemExit("README.md: no table under ### Coming from az ml")
    return match.group(1).rstrip("\n").split("\n")


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _with_rows(rows: str, match: re.Match[str]) -> str:
    return match.group(1) + rows


def action_tables(readme: str) -> str:
    """`readme` with its Inputs and Outputs tables rendered from action.yml."""
    action = yaml.safe_load((ROOT / "action.yml").read_text("utf-8"))
    inputs = ["| input | description | default |", "| --- | --- | --- |"] + [
        f"| `{name}` | {_cell(spec['description'])} | "
        + (f"`{spec['default']}`" if spec.get("default") else "")
        + " |"
        for name, spec in action["inputs"].items()
    ]
    outputs = ["| output | description |", "| --- | --- |"] + [
        f"| `{name}` | {_cell(spec['description'])} |" for name, spec in action["outputs"].items()
    ]
    for section, table in (("Inputs", inputs), ("Outputs", outputs)):
        pattern = re.compile(rf"(### {section}\n\n)(\|.*\|\n)+")
        rendered = "\n".join(table) + "\n"
        readme, count = pattern.subn(functools.partial(_with_rows, rendered), readme)
        if count != 1:
            raise SystemExit(f"README.md: no ### {section} table to render")
    return readme


def main(argv: list[str]) -> int:
    wanted = {REFERENCE: render(), README: action_tables(README.read_text("utf-8"))}
    stale = [path for path, text in wanted.items() if path.read_text("utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run `make docs`", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path], "utf-8")
        print(f"rewrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
