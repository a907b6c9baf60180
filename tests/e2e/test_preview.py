"""Pull-request previews: `delete` (idempotent, refuses non-previews) and `cleanup` (by age)."""

from __future__ import annotations

import json

from tests.e2e.conftest import App
from tests.emulator.arm import Arm


def test_a_preview_is_created_and_deleted(app: App) -> None:
    outputs = app.outputs("--environment", "preview", "--pr", "42")
    assert outputs["endpoint-name"] == "pr42-models"
    assert app.endpoint("pr42-models")["tags"]["pr"] == "42"
    deleted = app.run("delete", "--environment", "preview", "--pr", "42")
    assert deleted.returncode == 0, deleted.stderr
    assert app.endpoint("pr42-models") is None
    again = app.run("delete", "--environment", "preview", "--pr", "42")
    assert again.returncode == 0
    assert "already deleted" in again.stderr


def test_delete_refuses_an_endpoint_without_preview_tags(app: App) -> None:
    app.outputs()
    refused = app.run("delete")
    assert refused.returncode == 1
    assert "refusing to delete" in refused.stderr
    assert "az ml online-endpoint delete --name models" in refused.stderr
    assert app.endpoint("models") is not None
    assert app.run("delete", "--force").returncode == 2  # there is no override
    assert app.endpoint("models") is not None


def test_cleanup_deletes_previews_older_than_their_ttl(app: App, image: str) -> None:
    arm = Arm(app.emulator, image=image)
    ages = {"pr1-models": 5, "pr2-models": 2, "pr3-models": 0.2}
    for name, hours in ages.items():
        arm.create_preview(name, pr=name[2], age_hours=hours)
    arm.create_endpoint("not-a-preview")

    dry = app.run("cleanup", "--dry-run", "--output-json", str(app.root / "dry.json"))
    assert dry.returncode == 0, dry.stderr
    assert json.loads(json.loads((app.root / "dry.json").read_text())["deleted"]) == [
        "pr1-models",
        "pr2-models",
    ]
    assert all(app.endpoint(name) for name in ages)

    result = app.run("cleanup", "--output-json", str(app.root / "out.json"))
    assert result.returncode == 0, result.stderr
    assert app.endpoint("pr1-models") is None and app.endpoint("pr2-models") is None
    assert app.endpoint("pr3-models") is not None
    assert app.endpoint("not-a-preview") is not None


def test_a_new_instance_type_recreates_the_preview_deployment(app: App) -> None:
    """Azure cannot update a deployment's instance type (the emulator refuses it as Azure
    does): the preview's `replace` creates a new deployment, tests it, moves the traffic, then
    deletes the old one, so the preview always has a deployment serving."""
    first = app.outputs("--environment", "preview", "--pr", "7")
    assert json.loads(first["traffic"]) == {"blue": 100}
    deploy_file = app.root / "server" / "deploy.yml"
    deploy_file.write_text(deploy_file.read_text().replace("Standard_DS2_v2", "Standard_DS3_v2"))
    app.commit("bigger instances")
    plan = app.run("plan", "--environment", "preview", "--pr", "7")
    assert plan.returncode == 0, plan.stderr
    assert "instance_type cannot be updated in place" in plan.stderr + plan.stdout
    assert "new deployment green" in plan.stderr + plan.stdout
    second = app.outputs("--environment", "preview", "--pr", "7")
    assert json.loads(second["traffic"]) == {"green": 100}
    endpoint = app.endpoint("pr7-models")
    assert endpoint is not None
    assert [d["name"] for d in endpoint["deployments"]] == ["green"]
