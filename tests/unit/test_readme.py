"""The README's inputs and outputs tables are action.yml's, word for word."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tools import docs

ROOT = Path(__file__).resolve().parents[2]


def action() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "action.yml").read_text()))


def test_the_inputs_and_outputs_tables_are_action_ymls() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert docs.action_tables(readme) == readme, "README.md's tables are stale: run `make docs`"
    action_inputs = action()["inputs"]
    assert all(f"| `{name}` |" in readme for name in action_inputs)


def test_the_entrypoint_is_one_executable_path() -> None:
    runs = action()["runs"]
    assert runs["using"] == "docker" and runs["image"] == "Dockerfile"
    assert re.fullmatch(r"/[\w/.-]+", runs["entrypoint"])
    assert (ROOT / runs["entrypoint"].removeprefix("/app/")).stat().st_mode & 0o111
