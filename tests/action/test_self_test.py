"""The repository's own self-test workflow (.github/workflows/self-test.yml), run through the
runner-faithful harness against the emulator: the action from the checkout validates the
example's deploy file, then plans its deploy and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.action.conftest import Repo
from tools.checks import MUTATING, READ_ONLY_POSTS
from tools.runner.action import ROOT
from tools.runner.job import Event
from tools.runner.workflow import run_workflow

WORKFLOW = ROOT / ".github" / "workflows" / "self-test.yml"


def plan_step() -> dict[str, Any]:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["plan"]["steps"]
    return next(step for step in steps if step.get("id") == "plan")


def test_self_test_validates_then_plans_against_the_emulator(repo: Repo, tmp_path: Path) -> None:
    emulator = repo.emulator
    # The harness runs only this action's steps; the job's earlier steps start the emulator
    # and hand the plan step these through its env, so the test hands them over instead.
    oidc = emulator["oidc"]
    handed = {
        "AZUREML_EMULATOR_DIR": str(emulator.state_dir),
        "ACTIONS_ID_TOKEN_REQUEST_URL": oidc["request_url"],
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc["request_token"],
    }
    assert set(plan_step()["env"]) == set(handed)
    since = emulator.last_request()

    runs = run_workflow(
        WORKFLOW,
        Event.push("refs/heads/main"),
        harness=repo.harness,
        emulator=emulator,
        workspace=repo.root,
        temp=tmp_path / "runner",
        # The harness's action container is on the host network: the emulator is reachable.
        variables={**repo.variables(), "EMULATOR_REACHABLE_FROM_DOCKER_ACTIONS": "true"},
        step_env={**repo.step_env(), **handed},
    )

    assert [run.job for run in runs] == ["validate", "plan"]
    for run in runs:
        assert run.result.exit_code == 0, run.result.text
        assert run.result.leaks == [], run.result.leaks
        assert run.result.foreign == [], run.result.foreign
        assert run.oidc_subject is None  # no id-token permission: the emulator's issuer serves
    validate, plan = (run.result for run in runs)
    assert "is valid" in validate.text

    assert plan.outputs["endpoint-name"] == "credit-risk"
    steps = [step["step"] for step in json.loads(plan.outputs["plan"])["steps"]]
    assert "create-endpoint" in steps and "build-image" in steps, steps
    assert "plan for credit-risk" in plan.text  # the plan is shown
    # ... and nothing changed: no endpoint, no mutating call to Azure ML.
    assert emulator.admin("GET", "/state")["endpoints"] == []
    calls = [
        f"{entry['method']} {entry['path']}"
        for entry in emulator.requests_since(since, part="arm")
        if entry["method"] in MUTATING
        or (entry["method"] == "POST" and not entry["path"].endswith(READ_ONLY_POSTS))
    ]
    assert calls == []


def test_the_plan_job_never_asks_for_githubs_own_oidc_token() -> None:
    # With id-token: write the runner overwrites the step's ACTIONS_ID_TOKEN_REQUEST_* with
    # GitHub's (actions/runner ContainerActionHandler.cs), whose tokens the emulator cannot check.
    workflow = yaml.safe_load(WORKFLOW.read_text())
    for permissions in (workflow.get("permissions"), workflow["jobs"]["plan"].get("permissions")):
        assert "id-token" not in (permissions or {})
    assert plan_step()["with"]["cloud"] == "local"
