"""The action changes only what it owns, as its tags say: `cleanup` and `delete` remove only
this repository's previews, and a rollout never updates, deletes or takes traffic from a
deployment it did not create."""

from __future__ import annotations

import json
from pathlib import Path

from tests.emulator.arm import Arm
from tools.checks import mutating_arm_calls
from tools.repo import App

THIS = "octo-org/octo-repo"  # the repository the jobs run for (tools/repo.py)
STAGING = "  staging:\n    endpoint: {name: 'staging-pr{pr}'}\n    ttl_hours: 1\n"


def names(app: App) -> set[str]:
    return {endpoint["name"] for endpoint in app.emulator.admin("GET", "/state")["endpoints"]}


def test_cleanup_deletes_only_this_repositorys_stale_previews(
    app: App, tmp_path: Path, image: str
) -> None:
    """Before: any endpoint tagged managed-by with an environment tag this file gives a
    ttl_hours went, e.g. another repository's long-lived staging endpoint."""
    deploy = app.root / "server" / "deploy.yml"
    deploy.write_text(deploy.read_text() + STAGING)
    app.commit("staging previews")
    arm = Arm(app.emulator, image=image)
    arm.create_preview("pr1-models", pr="1", age_hours=5, repository=THIS)
    arm.create_preview("pr2-models", pr="2", age_hours=5, repository="someone/else")
    arm.create_preview("pr3-models", pr="3", age_hours=5, repository=None)
    arm.create_preview(
        "staging", pr=None, age_hours=500, repository="someone/else", environment="staging"
    )
    arm.create_preview(
        "staging-own", pr=None, age_hours=500, repository=THIS, environment="staging"
    )
    arm.create_preview("pr4-models", pr="4", age_hours=0.1, repository=THIS)
    run = app.in_a_job("cleanup", tmp_path)
    assert run.result.returncode == 0, run.result.stdout
    assert json.loads(run.outputs()["deleted"]) == ["pr1-models"]
    assert names(app) == {"pr2-models", "pr3-models", "staging", "staging-own", "pr4-models"}
    warnings = [line for line in run.result.stdout.splitlines() if line.startswith("::warning")]
    assert len(warnings) == 1 and "pr3-models" in warnings[0]
    assert "no repository tag" in warnings[0] and "not deleted" in warnings[0]


def test_delete_removes_only_its_own_pull_requests_preview(
    app: App, tmp_path: Path, image: str
) -> None:
    arm = Arm(app.emulator, image=image)
    refused = {  # pull request → (its endpoint's tags: repository, pr), what the refusal says
        5: ("someone/else", "5", "is not this run's preview"),
        6: (None, "6", "has no repository tag"),
        7: (THIS, "8", "is not this run's preview"),
    }
    for pr, (repository, tagged_pr, _) in refused.items():
        arm.create_preview(f"pr{pr}-models", pr=tagged_pr, age_hours=1, repository=repository)
    for pr, (_, _, why) in refused.items():
        since = app.emulator.last_request()
        run = app.in_a_job(
            "delete", tmp_path / str(pr), "--environment", "preview", pull_request=pr
        )
        assert run.result.returncode == 1, run.result.stdout
        assert "refusing to delete it" in run.result.stdout and why in run.result.stdout
        assert mutating_arm_calls(app, since) == []
    assert {"pr5-models", "pr6-models", "pr7-models"} <= names(app)
    arm.create_preview("pr9-models", pr="9", age_hours=1, repository=THIS)
    own = app.in_a_job("delete", tmp_path / "9", "--environment", "preview", pull_request=9)
    assert own.result.returncode == 0, own.result.stdout
    assert "pr9-models" not in names(app)


def hand_made(app: App, image: str, name: str, traffic: dict[str, int]) -> None:
    """A deployment someone made in studio or with the CLI, next to the action's."""
    arm = Arm(app.emulator, image=image)
    arm.create_deployment("models", name, instance_type="Standard_DS2_v2")
    current = arm.call("GET", arm.ws("/onlineEndpoints/models")).json()
    arm.set_traffic("models", {**current["properties"]["traffic"], **traffic})
    app.emulator.wait_idle()


def deployments(app: App) -> dict[str, str]:
    endpoint = app.endpoint("models")
    assert endpoint is not None
    return {d["name"]: d["properties"]["environmentId"] for d in endpoint["deployments"]}


def test_a_deployment_made_by_hand_is_left_alone(app: App, image: str) -> None:
    app.outputs()  # blue, the action's
    hand_made(app, image, "green", {"green": 0})
    theirs = deployments(app)["green"]
    plan = app.run("plan")
    assert plan.returncode == 0, plan.stderr
    assert "left alone: deployment green (not created by azureml-deploy)" in plan.stdout
    app.server_deploy_file(color="two")
    outputs = app.outputs()
    assert outputs["deployment-name"] not in ("blue", "green")
    after = deployments(app)
    assert after["green"] == theirs  # not updated
    assert "blue" not in after  # the action's previous deployment retired, not theirs
    traffic = json.loads(outputs["traffic"])
    assert traffic.get("green", 0) == 0


def test_traffic_on_a_deployment_made_by_hand_is_never_moved(app: App, image: str) -> None:
    app.outputs()
    hand_made(app, image, "manual", {"blue": 50, "manual": 50})
    before = app.endpoint("models")
    app.server_deploy_file(color="two")
    since = app.emulator.last_request()
    result = app.deploy()
    assert result.returncode == 1
    assert "manual 50%" in result.stderr and "refusing to move traffic" in result.stderr
    assert "hint: set their traffic to 0%" in result.stderr
    assert mutating_arm_calls(app, since) == []
    assert app.endpoint("models")["properties"]["traffic"] == before["properties"]["traffic"]
