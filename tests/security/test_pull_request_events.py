"""A pull request's run is a pull request's run, whatever event started it (issue 25's attacks,
each reproduced with the event's payload shape and refs as the runner gives them).

A collaborator's same-repository pull request changes only deploy.yml and the model server; the
workflows that run it start on `pull_request_review`, `pull_request_review_comment`,
`issue_comment` (a `/deploy` ChatOps command), `workflow_run` or `merge_group`. Each run must be
confined to that pull request's preview: no rollout onto an endpoint main deployed, no key of
one in its outputs, nothing pushed to the trusted build cache, no cleanup of other previews."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.measure import registry_blobs
from tests.emulator.arm import Arm
from tests.security.test_pull_requests import PRODUCTION_FIRST
from tools.checks import mutating_arm_calls
from tools.repo import App
from tools.runner.job import REPOSITORY, Event

STAGING_FROM_MAIN = (
    PRODUCTION_FIRST.replace("{name: models}", "{name: staging}").replace(
        "  instance_type: Standard_DS2_v2\n",
        "  instance_type: Standard_DS2_v2\n  environment_variables: {COLOR: main}\n",
    )
    + "  preview:\n    endpoint: {name: 'models-pr{pr}'}\n    ttl_hours: 1\n"
)

# What the pull request's author writes: staging opened to pull requests, their own server.
ATTACKER = (
    STAGING_FROM_MAIN.replace("COLOR: main", "COLOR: attacker")
    + "  staging:\n    allow_pull_requests: true\n    rollout: {strategy: replace}\n"
    + "  by-branch:\n    endpoint: {name: 'models-{branch}'}\n    allow_pull_requests: true\n"
)

EVENTS_THAT_RUN_A_PULL_REQUESTS_CODE = {
    "pull_request_review": Event.pull_request_review(7),
    "pull_request_review_comment": Event.pull_request_review(7, comment=True),
    "issue_comment": Event.issue_comment(7),
    "workflow_run": Event.workflow_run(7),
    "merge_group": Event.merge_group(7),
}


def write(app: App, text: str) -> None:
    (app.root / "server" / "deploy.yml").write_text(text)
    app.commit("deploy file")


def staging(app: App) -> dict[str, Any]:
    endpoint = app.endpoint("staging")
    assert endpoint is not None
    return {
        "traffic": endpoint["properties"]["traffic"],
        "tags": endpoint["tags"],
        "deployments": {
            d["name"]: (d["properties"]["environmentId"], d["tags"])
            for d in endpoint["deployments"]
        },
    }


@pytest.mark.long
def test_no_event_of_a_pull_request_rolls_out_onto_an_endpoint_main_deployed(
    app: App, tmp_path: Path
) -> None:
    write(app, STAGING_FROM_MAIN)
    release = app.in_a_job("deploy", tmp_path / "main")
    assert release.result.returncode == 0, release.result.stdout
    before, blobs = staging(app), set(registry_blobs(app.emulator))
    keys = {release.outputs()["primary-key"], release.outputs()["secondary-key"]}
    write(app, ATTACKER)
    for name, event in EVENTS_THAT_RUN_A_PULL_REQUESTS_CODE.items():
        since = app.emulator.last_request()
        run = app.in_a_job("deploy", tmp_path / name, "--environment", "staging", event=event)
        assert run.result.returncode == 1, (name, run.result.stdout)
        assert "refusing to change endpoint staging for pull request #7" in run.result.stdout
        assert mutating_arm_calls(app, since) == [], name
        assert not keys & set(run.outputs().values()), name  # no key of staging's
        # the image was not built: nothing pushed, the trusted cache untouched
        assert set(registry_blobs(app.emulator)) == blobs, name
    assert staging(app) == before

    # plan says what deploy would refuse, on the ChatOps comment too
    comment = EVENTS_THAT_RUN_A_PULL_REQUESTS_CODE["issue_comment"]
    plan = app.in_a_job("plan", tmp_path / "plan", "--environment", "staging", event=comment)
    assert plan.result.returncode == 0, plan.result.stdout
    assert "deploy would refuse: refusing to change endpoint staging" in plan.result.stdout


def test_a_comment_run_never_takes_the_default_branchs_name(app: App, tmp_path: Path) -> None:
    """issue_comment runs on the default branch (GITHUB_REF): `{branch}` must not render main."""
    write(app, ATTACKER)
    event = EVENTS_THAT_RUN_A_PULL_REQUESTS_CODE["issue_comment"]
    assert event.ref == "refs/heads/main"
    since = app.emulator.last_request()
    run = app.in_a_job("plan", tmp_path / "plan", "--environment", "by-branch", event=event)
    assert run.result.returncode == 2, run.result.stdout
    assert "models-main" not in run.result.stdout
    assert "{branch}" in run.result.stdout
    assert mutating_arm_calls(app, since) == []


def test_a_fork_workflow_run_of_unknown_number_may_only_validate(app: App, tmp_path: Path) -> None:
    write(app, ATTACKER)
    event = Event.workflow_run(None)  # GitHub leaves workflow_run.pull_requests empty for forks
    since = app.emulator.last_request()
    for command in ("deploy", "plan", "delete", "cleanup"):
        run = app.in_a_job(command, tmp_path / command, "--environment", "preview", event=event)
        assert run.result.returncode == 1, (command, run.result.stdout)
        assert "may only validate the deploy file" in run.result.stdout
    assert mutating_arm_calls(app, since) == []
    valid = app.in_a_job("validate", tmp_path / "validate", event=event)
    assert valid.result.returncode == 0, valid.result.stdout


@pytest.mark.parametrize("event", [Event.pull_request(7), Event.pull_request_review(7)])
def test_cleanup_in_a_pull_requests_run_deletes_nothing(
    app: App, tmp_path: Path, image: str, event: Event
) -> None:
    """The pull request's deploy file says ttl_hours: 0.01; its cleanup would have swept every
    other pull request's preview."""
    arm = Arm(app.emulator, image=image)
    arm.create_preview("models-pr5", pr="5", age_hours=2, repository=REPOSITORY)
    arm.create_preview("models-pr6", pr="6", age_hours=0.1, repository=REPOSITORY)
    write(app, STAGING_FROM_MAIN.replace("ttl_hours: 1", "ttl_hours: 0.01"))
    since = app.emulator.last_request()
    run = app.in_a_job("cleanup", tmp_path / "cleanup", event=event)
    assert run.result.returncode == 1, run.result.stdout
    assert "refusing to clean up from a run for pull request #7" in run.result.stdout
    assert mutating_arm_calls(app, since) == []
    assert app.endpoint("models-pr5") is not None and app.endpoint("models-pr6") is not None


def test_previews_under_an_overlay_main_lacks_are_deleted_on_close_and_swept(
    app: App, tmp_path: Path, image: str
) -> None:
    """A pull request deployed under `zz-preview`, an overlay only it had: its close-time
    delete (main's deploy file) and main's scheduled cleanup still find it by its tags."""
    arm = Arm(app.emulator, image=image)
    arm.create_preview("zz-103", pr="103", age_hours=0.1, repository=REPOSITORY,
                       environment="zz-preview")  # fmt: skip
    arm.create_preview("models-pr103", pr="103", age_hours=0.1, repository=REPOSITORY)
    arm.create_preview("zz-104", pr="104", age_hours=0.1, repository=REPOSITORY,
                       environment="zz-preview")  # fmt: skip
    arm.create_preview("zz-105", pr="105", age_hours=73, repository=REPOSITORY,
                       environment="zz-preview")  # fmt: skip
    arm.create_preview("other-repo", pr="103", age_hours=500, repository="someone/else",
                       environment="zz-preview")  # fmt: skip
    write(app, STAGING_FROM_MAIN)  # main's file: no zz-preview

    closed = Event.pull_request(103, action="closed")
    run = app.in_a_job("delete", tmp_path / "close", "--environment", "preview", event=closed)
    assert run.result.returncode == 0, run.result.stdout
    assert app.endpoint("zz-103") is None and app.endpoint("models-pr103") is None
    assert app.endpoint("zz-104") is not None and app.endpoint("other-repo") is not None

    schedule = Event("schedule", {})
    sweep = app.in_a_job("cleanup", tmp_path / "sweep", event=schedule)
    assert sweep.result.returncode == 0, sweep.result.stdout
    assert app.endpoint("zz-105") is None  # older than the default lifetime (72 h)
    assert app.endpoint("zz-104") is not None  # young, and its pull request's state unknown
    assert app.endpoint("other-repo") is not None  # another repository's

    # With pull-requests: read, a closed pull request's preview goes at once, however young.
    arm.create_preview("models-pr106", pr="106", age_hours=0.1, repository=REPOSITORY)
    app.emulator.github_pull_request(104, state="closed")
    app.emulator.github_pull_request(106, state="open")
    token = app.emulator.github_token({"pull-requests": "read"})
    github = {"GITHUB_API_URL": app.emulator["github_api_url"], "GITHUB_TOKEN": token}
    swept = app.in_a_job("cleanup", tmp_path / "closed", event=schedule, env=github)
    assert swept.result.returncode == 0, swept.result.stdout
    assert "pull request #104 is closed" in swept.result.stdout
    assert app.endpoint("zz-104") is None
    assert app.endpoint("models-pr106") is not None

    # Without the permission: by age alone, and it says what to grant.
    arm.create_preview("zz-107", pr="107", age_hours=0.1, repository=REPOSITORY,
                       environment="zz-preview")  # fmt: skip
    app.emulator.github_pull_request(107, state="closed")
    github["GITHUB_TOKEN"] = app.emulator.github_token({"contents": "read"})
    aged = app.in_a_job("cleanup", tmp_path / "aged", event=schedule, env=github)
    assert aged.result.returncode == 0, aged.result.stdout
    assert "pull-requests: read" in aged.result.stdout
    assert app.endpoint("zz-107") is not None


def github_job(app: App) -> dict[str, str]:
    """A job that may write GitHub deployments, against the emulator's GitHub."""
    token = app.emulator.github_token({"deployments": "write", "pull-requests": "write"})
    return {"GITHUB_API_URL": app.emulator["github_api_url"], "GITHUB_TOKEN": token}


def github_deployments(app: App) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = app.emulator.github_state()["deployments"]
    return sorted(found, key=lambda deployment: deployment["id"])


def test_a_pull_requests_github_records_never_touch_mains(app: App, tmp_path: Path) -> None:
    """A pull request deploying under a non-preview overlay is transient to GitHub, never
    production, and retires nothing of main's; one refused writes no GitHub deployment."""
    write(app, STAGING_FROM_MAIN)
    main = app.in_a_job("deploy", tmp_path / "main", env=github_job(app))
    assert main.result.returncode == 0, main.result.stdout
    [mains] = github_deployments(app)
    assert mains["environment"] == "staging" and not mains["transient_environment"]

    write(
        app,
        STAGING_FROM_MAIN
        + "  staging:\n    endpoint: {name: staging-copy}\n    allow_pull_requests: true\n"
        + "  production:\n    endpoint: {name: staging}\n    allow_pull_requests: true\n",
    )
    review = Event.pull_request_review(7)
    pr = app.in_a_job(
        "deploy", tmp_path / "pr", "--environment", "staging", event=review, env=github_job(app)
    )
    assert pr.result.returncode == 0, pr.result.stdout
    mains_now, prs = github_deployments(app)
    assert prs["environment"] == "staging"
    assert prs["transient_environment"] is True and prs["production_environment"] is False
    assert prs["payload"]["azureml-deploy"]["pull_request"] == 7
    assert [s["state"] for s in mains_now["statuses"]] == ["in_progress", "success"]
    assert all(
        status["auto_inactive"] is False for status in prs["statuses"] if "auto_inactive" in status
    )

    refused = app.in_a_job(
        "deploy", tmp_path / "refused", "--environment", "production", event=review,
        env=github_job(app),
    )  # fmt: skip
    assert refused.result.returncode == 1, refused.result.stdout
    assert "refusing to change endpoint staging for pull request #7" in refused.result.stdout
    assert len(github_deployments(app)) == 2  # nothing written for the refused run
