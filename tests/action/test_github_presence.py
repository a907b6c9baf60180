"""A run as GitHub shows it, through the runner-faithful harness against the emulator's GitHub:
a GitHub deployment per run with its statuses in order, one comment per preview pull request
rewritten in place, inactive and "deleted" on close, the "azureml-deploy preview" check run on
the pull request's head commit, and every way the token can fall short skipped with one line,
never a failed deploy."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.action.conftest import Repo
from tools.runner.job import Event
from tools.runner.workflow import JobRun

PR = 7
PREVIEW = "pr-preview.yml"
HOSTILE = "::error::pwned\n| <img src=x onerror=alert(1)> [click](https://evil.example)"


def single(runs: list[JobRun]) -> JobRun:
    assert len(runs) == 1, [run.job for run in runs]
    assert runs[0].result.exit_code == 0, runs[0].result.text
    return runs[0]


def github(repo: Repo) -> dict[str, Any]:
    state: dict[str, Any] = repo.emulator.github_state()
    return state


def deployments(repo: Repo) -> list[dict[str, Any]]:
    return sorted(github(repo)["deployments"], key=lambda deployment: deployment["id"])


def states(deployment: dict[str, Any]) -> list[str]:
    return [status["state"] for status in deployment["statuses"]]


def check_runs(repo: Repo) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = github(repo)["check_runs"]
    return found


def comments(repo: Repo, number: int = PR) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = github(repo)["comments"].get(str(number), [])
    return found


def test_a_preview_is_one_deployment_per_push_and_one_comment_rewritten_in_place(
    repo: Repo,
) -> None:
    event = Event.pull_request(PR, action="opened")
    opened = single(repo.run(PREVIEW, event))
    outputs = opened.result.outputs
    [first] = deployments(repo)
    assert first["environment"] == "preview"
    assert first["transient_environment"] is True
    assert first["production_environment"] is False
    assert first["payload"]["azureml-deploy"]["endpoint"] == "credit-risk-pr7"
    assert states(first) == ["in_progress", "success"]
    # "View deployment" opens the endpoint's studio page, not the POST-only scoring URI
    assert {status["environment_url"] for status in first["statuses"]} == {
        outputs["environment-url"]
    }
    assert outputs["environment-url"] != outputs["scoring-uri"]
    assert "/actions/runs/" in first["statuses"][-1]["log_url"]
    [live] = comments(repo)
    assert live["body"].startswith("<!-- azureml-deploy preview credit-risk-pr7 -->")
    assert "is live" in live["body"]
    assert outputs["scoring-uri"] in live["body"]
    assert "az ml online-endpoint get-credentials" in live["body"]
    for key in (outputs["primary-key"], outputs["secondary-key"]):
        assert key not in live["body"]
    # the check run branch protection can require, on the head commit, not the merge commit
    check, scorecard = check_runs(repo)
    assert check["name"] == "azureml-deploy preview"
    assert check["head_sha"] == event.payload["pull_request"]["head"]["sha"]
    assert (check["status"], check["conclusion"]) == ("completed", "success")
    assert outputs["scoring-uri"] in check["output"]["summary"]
    assert "/actions/runs/" in check["details_url"]
    for key in (outputs["primary-key"], outputs["secondary-key"]):
        assert key not in check["output"]["summary"]
    # the example's rollout.agreement: nothing in production to score against yet
    assert (scorecard["name"], scorecard["conclusion"]) == ("azureml-deploy scorecard", "neutral")
    assert "endpoint credit-risk is not in this workspace" in scorecard["output"]["summary"]

    single(repo.run(PREVIEW, Event.pull_request(PR, action="synchronize")))
    assert [check["conclusion"] for check in check_runs(repo)] == [
        "success",
        "neutral",
        "success",
        "neutral",
    ]
    first, second = deployments(repo)
    assert states(first) == ["in_progress", "success", "inactive"]
    assert states(second) == ["in_progress", "success"]
    [updated] = comments(repo)
    assert updated["id"] == live["id"]
    assert updated["body"] != live["body"]  # the new commit
    assert "is live" in updated["body"]

    closed = single(repo.run(PREVIEW, Event.pull_request(PR, action="closed")))
    assert closed.job == "teardown"
    assert [states(deployment)[-1] for deployment in deployments(repo)] == ["inactive"] * 2
    [deleted] = comments(repo)
    assert deleted["id"] == live["id"]
    assert "was deleted" in deleted["body"]
    assert "get-credentials" not in deleted["body"]


def test_a_failed_preview_deploy_says_so_on_its_deployment_and_comment(repo: Repo) -> None:
    single(repo.run(PREVIEW, Event.pull_request(PR, action="opened")))
    deploy_file = repo.root / "examples/credit-risk/deploy.yml"
    deploy_file.write_text(
        deploy_file.read_text().replace("expect_status: 200", "expect_status: 201")
    )
    [failed] = repo.run(PREVIEW, Event.pull_request(PR, action="synchronize"))
    assert failed.result.exit_code == 1
    first, second = deployments(repo)
    assert states(first) == ["in_progress", "success"]  # what still serves stays live
    assert states(second) == ["in_progress", "failure"]
    [said] = comments(repo)
    assert "failed" in said["body"]
    assert "201" in said["body"]
    passed, _, failed_check = check_runs(repo)  # a failed deploy has no scorecard
    assert passed["conclusion"] == "success"
    assert (failed_check["status"], failed_check["conclusion"]) == ("completed", "failure")
    assert "201" in failed_check["output"]["summary"]


def test_a_release_is_a_production_deployment_without_a_comment(repo: Repo) -> None:
    run = single(repo.run("release.yml", Event.push("refs/tags/v1.2.0")))
    [deployment] = deployments(repo)
    assert deployment["environment"] == "production"
    assert deployment["production_environment"] is True
    assert deployment["transient_environment"] is False
    assert states(deployment) == ["in_progress", "success"]
    assert deployment["statuses"][-1]["environment_url"] == run.result.outputs["environment-url"]
    assert github(repo)["comments"] == {}
    assert check_runs(repo) == []  # a release has no pull request to gate


def _without_github_permissions(tmp_path: Path) -> Path:
    workflow = (Path("examples/workflows") / PREVIEW).resolve().read_text()
    lines = [
        line
        for line in workflow.splitlines()
        if not line.lstrip().startswith(("deployments:", "pull-requests:", "checks:"))
    ]
    (tmp_path / PREVIEW).write_text("\n".join(lines) + "\n")
    return tmp_path


def test_a_job_without_the_permissions_deploys_and_says_what_to_grant(
    repo: Repo, tmp_path: Path
) -> None:
    folder = _without_github_permissions(tmp_path)
    run = single(repo.run(PREVIEW, Event.pull_request(PR, action="opened"), folder=folder))
    warnings = [annotation.data for annotation in run.result.annotations("warning")]
    assert any("permissions: deployments: write" in warning for warning in warnings), warnings
    assert any("permissions: pull-requests: write" in warning for warning in warnings), warnings
    assert any("permissions: checks: write" in warning for warning in warnings), warnings
    assert github(repo)["deployments"] == []
    assert comments(repo) == []
    assert check_runs(repo) == []
    assert run.result.outputs["scoring-uri"]


def test_a_fork_pull_request_with_a_read_only_token_is_skipped_with_one_line(
    repo: Repo,
) -> None:
    """As a private repository that lets fork pull requests sign in would run it: the token
    GitHub gives a fork's pull request is read-only."""
    event = Event.pull_request(PR, action="opened", fork=True)
    token = repo.emulator.github_token(
        {"contents": "read", "deployments": "read", "pull-requests": "read", "checks": "read"}
    )
    repo.emulator.github_job({"event_name": "pull_request", "environment": "preview"})
    result = repo.harness.run(
        workspace=repo.root,
        temp=repo.temp / "fork",
        with_={
            "config": "examples/credit-risk/deploy.yml",
            "environment": "preview",
            "cloud": "local",
            **{
                name: value
                for name, value in {
                    "client-id": repo.variables()["AZURE_CLIENT_ID"],
                    "tenant-id": repo.variables()["AZURE_TENANT_ID"],
                    "subscription-id": repo.variables()["AZURE_SUBSCRIPTION_ID"],
                    "resource-group": repo.variables()["AZURE_RESOURCE_GROUP"],
                    "workspace": repo.variables()["AZUREML_WORKSPACE"],
                }.items()
            },
        },
        event=event,
        oidc=(repo.emulator["oidc"]["request_url"], repo.emulator["oidc"]["request_token"]),
        env=repo.step_env(),
        github_token=token,
        api_url=repo.emulator["github_api_url"],
        mounts=[f"{repo.emulator.state_dir}:{repo.emulator.state_dir}:ro"],
    )
    assert result.exit_code == 0, result.text
    notes = [line for line in result.log if "comes from a fork" in line]
    assert len(notes) == 1, result.text
    assert result.annotations("warning") == [] or all(
        "fork" not in warning.data for warning in result.annotations("warning")
    )
    assert github(repo)["deployments"] == []
    assert comments(repo) == []
    assert check_runs(repo) == []


def test_githubs_rate_limits_are_waited_out_or_skipped_never_failing(repo: Repo) -> None:
    # a secondary limit with Retry-After: waited out, then everything is written
    repo.emulator.github_configure(secondary_limit={"status": 403, "retry_after": 1, "count": 2})
    single(repo.run(PREVIEW, Event.pull_request(PR, action="opened")))
    [deployment] = deployments(repo)
    assert states(deployment) == ["in_progress", "success"]
    assert len(comments(repo)) == 1
    # the primary limit used up for the hour: skipped with a note, the deploy goes on
    repo.emulator.github_configure(rate_limit_remaining=0)
    run = single(repo.run(PREVIEW, Event.pull_request(PR, action="synchronize")))
    warnings = [annotation.data for annotation in run.result.annotations("warning")]
    assert any("rate limit" in warning for warning in warnings), warnings
    assert len(deployments(repo)) == 1


def _scored(repo: Repo, since: int, endpoint: str) -> list[dict[str, Any]]:
    """Scoring requests to `endpoint` since `since` (host-style or path-style scoring URIs)."""
    return [
        entry
        for entry in repo.emulator.requests_since(since, part="gateway")
        if (entry["host"] or "").split(".")[0] == endpoint
        or entry["path"].startswith(f"/{endpoint}/")
    ]


@pytest.mark.long  # a release and three previews: started first (tests/conftest.py)
def test_a_preview_is_scored_against_the_answers_production_recorded(repo: Repo) -> None:
    """The example judges its model by what it answers (rollout.agreement): a release records
    production's answers; each preview compares its own with them, by production's rule, in its
    comment and in the check run "azureml-deploy scorecard", without calling production."""
    release = single(repo.run("release.yml", Event.push("refs/tags/v1.2.0")))
    # (what serves is recorded once: an earlier test's record of the same build may be there)
    assert "previews' scorecards:" in release.result.text
    assert json.loads(release.result.outputs["scorecard"]) == {"verdict": "not configured"}

    since = repo.emulator.last_request()
    same = single(repo.run(PREVIEW, Event.pull_request(PR, action="opened")))
    card = json.loads(same.result.outputs["scorecard"])
    assert card["verdict"] == "passed"
    assert (card["check"]["compared"], card["check"]["agreed"]) == (12, 12)
    assert card["baseline"] | {"recorded_at": None} == {
        "environment": "production",
        "endpoint": "credit-risk",
        "deployment": "blue",
        "recorded_at": None,
        "commit": card["baseline"]["commit"],
    }
    preview_check, scorecard_check = check_runs(repo)
    assert preview_check["name"] == "azureml-deploy preview"
    assert (scorecard_check["name"], scorecard_check["conclusion"]) == (
        "azureml-deploy scorecard",
        "success",
    )
    [live] = comments(repo)
    assert "Scorecard: this pull request's model against production's" in live["body"]

    # The pull request moves the model's risk thresholds, and loosens the rule in its own
    # deploy file: production's recorded rule judges it all the same.
    model = repo.root / "examples/credit-risk/model/model.json"
    model.write_text(
        model.read_text().replace('{"medium": 0.2, "high": 0.5}', '{"medium": 0.3, "high": 0.6}')
    )
    deploy_file = repo.root / "examples/credit-risk/deploy.yml"
    deploy_file.write_text(
        deploy_file.read_text().replace("min_agreement: 0.9", "min_agreement: 0.5")
    )
    changed = single(repo.run(PREVIEW, Event.pull_request(PR, action="synchronize")))
    card = json.loads(changed.result.outputs["scorecard"])
    assert card["verdict"] == "failed"
    assert (card["check"]["compared"], card["check"]["agreed"]) == (12, 9)
    assert card["judged_by"]["min_agreement"] == 0.9 and card["own_rule_differs"] is True
    disagreeing = [example["request"] for example in card["check"]["disagreements"]]
    assert disagreeing == ["applicant-05.json", "applicant-06.json", "applicant-08.json"]
    *_, failed = check_runs(repo)
    assert (failed["name"], failed["conclusion"]) == ("azureml-deploy scorecard", "failure")
    assert "applicant\\-05.json" in failed["output"]["summary"] or (
        "applicant-05.json" in failed["output"]["summary"]
    )
    [updated] = comments(repo)
    assert "❌" in updated["body"] and "applicant-06.json" in updated["body"].replace("\\", "")
    # the preview deploy itself succeeded: the scorecard is the pull request's gate, not the run's
    assert changed.result.exit_code == 0

    # A model whose answers are hostile (for medium risk, which the smoke test does not send):
    # they reach the comment and the check run as text, and the log as no workflow command
    # (Repo.run asserts no command but the action's).
    server = repo.root / "examples/credit-risk/server/app.py"
    server.write_text(server.read_text().replace('risk = "medium"', f"risk = {HOSTILE!r}"))
    hostile = single(repo.run(PREVIEW, Event.pull_request(PR, action="synchronize")))
    assert json.loads(hostile.result.outputs["scorecard"])["verdict"] == "failed"
    *_, judged = check_runs(repo)
    [said] = comments(repo)
    for markdown in (judged["output"]["summary"], said["body"]):
        assert "pwned" in markdown  # shown, as text:
        # no tag, no link: each markup character escaped
        assert not re.search(r"(?<!\\)<img|(?<!\\)\[click", markdown), markdown
    assert _scored(repo, since, "credit-risk-pr7")  # the preview's own answers, and
    assert _scored(repo, since, "credit-risk") == []  # no pull request's run called production
