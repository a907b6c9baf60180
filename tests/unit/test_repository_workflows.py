"""What users rely on in the repository's workflows and in the ones they copy: a release
publishes the action's image by digest with an attestation and moves the major tag (image and
git), third-party actions are pinned by commit, and no script gets a secret or an output
pasted into it."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OURS = ROOT / ".github" / "workflows"
EXAMPLES = ROOT / "examples" / "workflows"
WORKFLOWS = sorted([*OURS.glob("*.yml"), *EXAMPLES.glob("*.yml")])
# This action itself (the examples use its release tag, as users do) and local paths.
FIRST_PARTY = re.compile(r"^(\./|azureml-deploy/azureml-deploy@)")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
# Expressions that must reach a script through `env:`, never pasted into it: a secret, a
# step's or job's output, and what the event's sender controls.
PASTED = re.compile(r"\$\{\{[^}]*\b(secrets|steps|needs|inputs|github\.event|github\.head_ref)\b")


def load(path: Path) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return workflow


def steps(workflow: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])


def release() -> dict[str, Any]:
    return load(OURS / "release.yml")


def release_step(uses_or_name: str) -> dict[str, Any]:
    return next(
        step
        for step in steps(release())
        if str(step.get("uses", "")).startswith(uses_or_name) or step.get("name") == uses_or_name
    )


def test_there_are_workflows_of_both_kinds() -> None:
    assert {"ci.yml", "release.yml", "self-test.yml"} <= {p.name for p in OURS.glob("*.yml")}
    assert len(list(EXAMPLES.glob("*.yml"))) >= 4


def test_a_release_runs_on_version_tags_only() -> None:
    workflow = release()
    # PyYAML reads the key `on` as True (YAML 1.1).
    assert workflow[True] == {"push": {"tags": ["v*"]}}
    assert workflow["permissions"] == {
        "contents": "write",
        "packages": "write",
        "id-token": "write",
        "attestations": "write",
    }


def test_a_release_pushes_the_image_by_digest_and_attests_that_digest() -> None:
    build = release_step("docker/build-push-action@")
    assert build["id"] == "build"
    outputs = build["with"]["outputs"]
    assert "push-by-digest=true" in outputs and "push=true" in outputs
    assert "tags" not in build["with"]  # tags come after the attestation, on the digest
    assert build["with"]["file"] == "Dockerfile"
    attest = release_step("actions/attest-build-provenance@")
    assert attest["with"]["subject-digest"] == "${{ steps.build.outputs.digest }}"
    assert attest["with"]["push-to-registry"] is True
    image = outputs.split("name=")[1].split(",")[0]
    assert attest["with"]["subject-name"] == image


def test_a_release_moves_the_major_tag_of_the_image_and_of_the_repository() -> None:
    tag = release_step("Tag the image (vX.Y.Z, and the moving vX)")
    assert tag["env"]["DIGEST"] == "${{ steps.build.outputs.digest }}"
    assert "--prefer-index=false" in tag["run"]  # the tag names the attested digest itself
    assert '"$MAJOR"' in tag["run"]
    move = release_step("Move the git tag vX to the release commit")
    assert 'git tag --force "$MAJOR" "$GITHUB_SHA"' in move["run"]
    assert 'git push --force origin "refs/tags/$MAJOR"' in move["run"]
    summary = release_step("Summary")
    assert "$DIGEST" in summary["run"] and "GITHUB_STEP_SUMMARY" in summary["run"]
    order = [f"{step.get('uses', '')} {step.get('name', '')}" for step in steps(release())]
    attested = next(i for i, step in enumerate(order) if "attest-build-provenance@" in step)
    tagged = next(i for i, step in enumerate(order) if "Tag the image" in step)
    assert attested < tagged


def test_the_schemas_id_is_the_file_at_the_moving_major_tag() -> None:
    schema_id = json.loads((ROOT / "schema" / "deploy.schema.json").read_text("utf-8"))["$id"]
    homepage = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["urls"]
    repository = homepage["Homepage"].removeprefix("https://github.com/")
    match = re.fullmatch(
        rf"https://raw\.githubusercontent\.com/{re.escape(repository)}/(v\d+)/(.+)", schema_id
    )
    assert match, schema_id
    assert match.group(2) == "schema/deploy.schema.json"
    # release.yml refuses to move a major tag the $id does not name.
    check = release_step("The schema's $id names this major version")
    assert "/schema/deploy.schema.json" in check["run"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: str(path.relative_to(ROOT)))
def test_third_party_actions_are_pinned_by_commit(path: Path) -> None:
    found = [
        line.strip().removeprefix("- ").removeprefix("uses: ")
        for line in path.read_text("utf-8").splitlines()
        if re.match(r"\s*(- )?uses: ", line)
    ]
    assert found
    loose = [uses for uses in found if not FIRST_PARTY.match(uses) and not PINNED.match(uses)]
    assert loose == [], "pin each by its full commit SHA with a `# vX.Y.Z` comment"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_script_gets_a_secret_or_an_output_pasted_in(path: Path) -> None:
    pasted = [
        step["run"] for step in steps(load(path)) if "run" in step and PASTED.search(step["run"])
    ]
    assert pasted == [], "pass it through the step's env: and use the variable"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yml")), ids=lambda path: path.name)
def test_an_example_workflow_names_its_deploy_file_in_one_line(path: Path) -> None:
    """A user points a copied workflow at their deploy file (or another example's) by its
    `env: DEPLOY_FILE`, which every step of the action reads; the comment beside it names the
    other examples."""
    workflow = load(path)
    deploy_file = workflow["env"]["DEPLOY_FILE"]
    assert (ROOT / deploy_file).is_file()
    text = path.read_text("utf-8")
    assert text.count(deploy_file) == 1
    ours = [step for step in steps(workflow) if FIRST_PARTY.match(str(step.get("uses", "")))]
    assert ours
    assert [step["with"]["config"] for step in ours] == ["${{ env.DEPLOY_FILE }}"] * len(ours)
    for example in (ROOT / "examples").glob("*/deploy.yml"):
        named = example.relative_to(ROOT / "examples").as_posix()
        assert named in text, f"the comment on DEPLOY_FILE does not name {named}"
