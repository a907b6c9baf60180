"""A pull request's author writes the deploy file its run reads. Whatever it says, a run for a
pull request creates a new endpoint or changes its own preview; production is never touched,
and nothing is built or pushed before the refusal."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from bench.measure import registry_blobs
from tests.emulator.arm import Arm
from tools.checks import mutating_arm_calls
from tools.repo import App

PRODUCTION_FIRST = """\
version: 1
endpoint: {name: models}
image:
  registry: contosoml.azurecr.io
  repository: model-server
  build: {context: .}
deployment:
  instance_type: Standard_DS2_v2
  inference_config:
    liveness_route: {port: 5001, path: /health}
    readiness_route: {port: 5001, path: /ready}
    scoring_route: {port: 5001, path: /score}
  readiness_probe: {initial_delay: 1, period: 1, failure_threshold: 3}
  liveness_probe: {initial_delay: 1, period: 1}
smoke_test: {request: request.json, attempts: 2, timeout_seconds: 5}
environments:
"""


def write(app: App, environments: str) -> None:
    (app.root / "server" / "deploy.yml").write_text(PRODUCTION_FIRST + environments)
    app.commit("deploy file")


def production(app: App) -> dict[str, Any]:
    """The production endpoint as it is now: its deployments (image, instances) and traffic."""
    endpoint = app.endpoint("models")
    assert endpoint is not None
    return {
        "traffic": endpoint["properties"]["traffic"],
        "deployments": {
            d["name"]: (
                d["properties"]["environmentId"],
                d["properties"]["instanceType"],
                d["sku"]["capacity"],
                d["tags"],
            )
            for d in endpoint["deployments"]
        },
        "tags": endpoint["tags"],
    }


@pytest.fixture
def live(app: App, tmp_path: Path) -> dict[str, Any]:
    """Production deployed from a push to main, as the release workflow does it."""
    write(app, "  preview:\n    endpoint: {name: 'models-pr{pr}'}\n    ttl_hours: 1\n")
    run = app.in_a_job("deploy", tmp_path / "release")
    assert run.result.returncode == 0, run.result.stdout
    return production(app)


def attack(
    app: App, tmp_path: Path, environment: str, pr: int = 7, head_ref: str = "feature/x"
) -> Any:
    """The pull request's run: what it changed in Azure and in the registry, and its result."""
    since, blobs = app.emulator.last_request(), registry_blobs(app.emulator)
    run = app.in_a_job(
        "deploy",
        tmp_path / f"pr{pr}",
        "--environment",
        environment,
        pull_request=pr,
        head_ref=head_ref,
    )
    changed = mutating_arm_calls(app, since)
    pushed = set(registry_blobs(app.emulator)) - set(blobs)
    return run.result, changed, pushed


def test_a_preview_named_like_production_is_refused_before_anything_changes(
    app: App, tmp_path: Path, live: dict[str, Any]
) -> None:
    """The issue's attack: environments.preview.endpoint.name set to production's name."""
    write(app, "  preview:\n    endpoint: {name: models}\n    ttl_hours: 1\n")
    result, changed, pushed = attack(app, tmp_path, "preview")
    assert result.returncode == 1
    assert "must contain {pr} in a preview environment" in result.stdout
    assert changed == [] and pushed == set()
    assert production(app) == live


def test_an_environment_that_allows_pull_requests_still_cannot_touch_production(
    app: App, tmp_path: Path, live: dict[str, Any]
) -> None:
    """allow_pull_requests is written by the pull request too: it cannot grant production."""
    write(app, "  sneaky:\n    allow_pull_requests: true\n    rollout: {strategy: replace}\n")
    result, changed, pushed = attack(app, tmp_path, "sneaky")
    assert result.returncode == 1, result.stdout
    assert "refusing to change endpoint models for pull request #7" in result.stdout
    assert "not created by azureml-deploy" not in result.stdout  # it names the real owner
    assert "repository=octo-org/octo-repo" in result.stdout
    assert changed == [] and pushed == set()
    assert production(app) == live


def test_branch_names_that_render_like_production_are_refused(
    app: App, tmp_path: Path, live: dict[str, Any]
) -> None:
    """`MAIN`, `main-` and `main` render alike: a branch template collides with production."""
    write(
        app, "  branch:\n    endpoint: {name: 'models-{branch}'}\n    allow_pull_requests: true\n"
    )
    app.in_a_job("deploy", tmp_path / "main", "--environment", "branch")  # models-main
    before = app.endpoint("models-main")
    assert before is not None
    result, changed, _ = attack(app, tmp_path, "branch", head_ref="MAIN-")
    assert result.returncode == 1, result.stdout
    assert "refusing to change endpoint models-main for pull request #7" in result.stdout
    assert changed == []
    assert app.endpoint("models-main")["properties"]["traffic"] == before["properties"]["traffic"]


def test_a_pull_request_cannot_take_over_another_pull_requests_preview(
    app: App, tmp_path: Path
) -> None:
    write(
        app,
        "  preview:\n    endpoint: {name: 'models-pr{pr}'}\n    ttl_hours: 1\n"
        "  fixed:\n    endpoint: {name: models-pr7}\n    allow_pull_requests: true\n",
    )
    first = app.in_a_job("deploy", tmp_path / "pr7", "--environment", "preview", pull_request=7)
    assert first.result.returncode == 0, first.result.stdout
    tags = app.endpoint("models-pr7")["tags"]
    assert (tags["pr"], tags["repository"]) == ("7", "octo-org/octo-repo")
    result, changed, _ = attack(app, tmp_path, "fixed", pr=8)
    assert result.returncode == 1
    assert "refusing to change endpoint models-pr7 for pull request #8" in result.stdout
    assert "pr=7" in result.stdout
    assert changed == []
    # Its own pull request may update it.
    again = app.in_a_job(
        "deploy", tmp_path / "pr7-again", "--environment", "preview", pull_request=7
    )
    assert again.result.returncode == 0, again.result.stdout


def test_production_never_moves_onto_a_pull_requests_endpoint(app: App, tmp_path: Path) -> None:
    """A pull request may create an endpoint that does not exist yet; if it squats the name a
    release will use, the release refuses it instead of serving from an endpoint whose keys
    went to the pull request."""
    write(app, "  squat:\n    allow_pull_requests: true\n")
    squat = app.in_a_job("deploy", tmp_path / "pr7", "--environment", "squat", pull_request=7)
    assert squat.result.returncode == 0, squat.result.stdout
    assert app.endpoint("models")["tags"]["pr"] == "7"
    release = app.in_a_job("deploy", tmp_path / "release")
    assert release.result.returncode == 1
    assert "refusing to deploy to endpoint models: it is pull request #7's preview" in (
        release.result.stdout
    )


def test_another_repositorys_endpoint_is_refused(app: App, tmp_path: Path, image: str) -> None:
    Arm(app.emulator, image=image).create_endpoint("models")
    arm = Arm(app.emulator)
    current = arm.call("GET", arm.ws("/onlineEndpoints/models")).json()
    current["tags"] = {"managed-by": "azureml-deploy", "repository": "someone/else"}
    assert arm.call("PUT", arm.ws("/onlineEndpoints/models"), current).status_code in (200, 201)
    app.emulator.wait_idle()
    write(app, "  preview:\n    endpoint: {name: 'models-pr{pr}'}\n    ttl_hours: 1\n")
    since = app.emulator.last_request()
    run = app.in_a_job("deploy", tmp_path / "release")
    assert run.result.returncode == 1
    assert "it belongs to someone/else" in run.result.stdout
    assert mutating_arm_calls(app, since) == []


@pytest.mark.long
def test_a_pull_requests_build_cache_never_reaches_a_production_build(app: App) -> None:
    """An inline cache maps build steps to layers: one a pull request wrote, imported by a
    release, would give the release the pull request's layers. A pull request's run writes a
    cache of its own and may read the trusted one; other runs read only the trusted one."""
    # A repository of its own: the worker's registry keeps other tests' caches.
    name = f"cache-scopes-{secrets.token_hex(4)}"
    deploy_file = app.root / "server" / "deploy.yml"
    deploy_file.write_text(
        deploy_file.read_text().replace("repository: model-server", f"repository: {name}")
    )
    repository = f"{app.emulator.connection['registry']}/{name}"

    def deploy(change: str, *args: str) -> str:
        (app.root / "server" / "change.txt").write_text(change)
        app.commit(change)
        result = app.deploy(*args)
        assert result.returncode == 0, result.stderr
        return result.stderr

    def imported(log: str) -> list[str]:
        prefix = "importing the build cache from "
        return [line.removeprefix(prefix) for line in log.splitlines() if line.startswith(prefix)]

    assert imported(deploy("pr 7, first push", "--environment", "preview", "--pr", "7")) == []
    assert imported(deploy("pr 7, second push", "--environment", "preview", "--pr", "7")) == [
        f"{repository}:buildcache-pr7"
    ]
    # The release finds only the pull request's cache: it imports nothing, writes the trusted one.
    assert imported(deploy("release")) == []
    assert imported(deploy("next release")) == [f"{repository}:buildcache"]
    # Another pull request reads the trusted cache, never pull request 7's.
    assert imported(deploy("pr 8", "--environment", "preview", "--pr", "8")) == [
        f"{repository}:buildcache"
    ]
