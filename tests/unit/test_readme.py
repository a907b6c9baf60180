"""The README's inputs and outputs tables are action.yml's, word for word."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def table(section: str) -> dict[str, list[str]]:
    readme = (ROOT / "README.md").read_text()
    body = readme.split(f"### {section}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    found = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        found[cells[0].strip("`")] = cells[1:]
    return found


def action() -> dict[str, dict[str, dict[str, str]]]:
    return dict(yaml.safe_load((ROOT / "action.yml").read_text()))


def test_inputs_table_matches_action_yml() -> None:
    inputs = action()["inputs"]
    rows = table("Inputs")
    assert list(rows) == list(inputs)
    for name, spec in inputs.items():
        description, default = rows[name]
        assert description == spec["description"].replace("|", "\\|"), name
        expected = f"`{spec['default']}`" if spec.get("default") else ""
        assert default == expected, name


def test_outputs_table_matches_action_yml() -> None:
    outputs = action()["outputs"]
    rows = table("Outputs")
    assert list(rows) == list(outputs)
    for name, spec in outputs.items():
        assert rows[name][0] == spec["description"].replace("|", "\\|"), name


def test_the_entrypoint_is_one_executable_path() -> None:
    runs = action()["runs"]
    assert runs["using"] == "docker" and runs["image"] == "Dockerfile"
    assert re.fullmatch(r"/[\w/.-]+", runs["entrypoint"])
    assert (ROOT / runs["entrypoint"].removeprefix("/app/")).stat().st_mode & 0o111
