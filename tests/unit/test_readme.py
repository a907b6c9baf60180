"""The README's inputs and outputs tables are action.yml's, word for word, and its quickstart's
deploy file is valid."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from deployer.spec import validate_deploy_file
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


def test_the_quickstarts_deploy_file_is_valid_beside_the_scoring_script_example(
    tmp_path: Path,
) -> None:
    """The deploy file "Use it" shows, with the files of examples/scoring-script it names."""
    readme = (ROOT / "README.md").read_text("utf-8")
    quickstart = readme[readme.index("## Use it\n") :]
    start = quickstart.index("```yaml\n") + len("```yaml\n")
    deploy_yml = quickstart[start : quickstart.index("```", start)]
    assert "code_configuration" in deploy_yml and "image:" in deploy_yml
    shutil.copytree(ROOT / "examples" / "scoring-script", tmp_path, dirs_exist_ok=True)
    (tmp_path / "deploy.yml").write_text(deploy_yml, "utf-8")
    report = validate_deploy_file(tmp_path / "deploy.yml", workspace=tmp_path)
    assert report.problems == ()
    assert report.environment_names == ("preview", "production")
