"""azureml-deploy's check runs (deployer/github/checks.py) against the emulator's GitHub: one run
started then concluded, GitHub's limits kept, rate limits waited out or skipped, and a token
without `checks: write` a warning that names the permission, never a failure."""

from __future__ import annotations

import io

import pytest

from deployer.github.checks import SUMMARY_LIMIT, GitHubCheckRuns
from deployer.github.rest import GitHubApi
from deployer.github.runner import Runner
from emulator.client import Emulator
from emulator.identity import GITHUB_REPOSITORY

pytestmark = pytest.mark.control_plane

SHA = "e" * 40
NAME = "azureml-deploy scorecard"


class Job:
    """Check runs through the emulator's API, with a runner whose workflow commands are kept."""

    def __init__(
        self, emulator: Emulator, permissions: dict[str, str], *, fork: bool = False
    ) -> None:
        self.out = io.StringIO()  # in Actions every line, workflow command or not
        self.slept: list[float] = []
        api = GitHubApi(
            emulator["github_api_url"],
            GITHUB_REPOSITORY,
            emulator.github_token(permissions),
            verify=emulator["ca_bundle"],
            sleep=self.slept.append,
        )
        runner = Runner({"GITHUB_ACTIONS": "true"}, self.out, io.StringIO())
        self.checks = GitHubCheckRuns(
            api, runner, from_fork=fork, details_url="https://github.com/o/r/actions/runs/9"
        )

    def warnings(self) -> list[str]:
        return [line for line in self.out.getvalue().splitlines() if line.startswith("::warning")]


def runs(emulator: Emulator) -> list[dict[str, object]]:
    found: list[dict[str, object]] = emulator.github_state()["check_runs"]
    return found


def test_a_started_check_run_is_concluded_in_place(emulator: Emulator) -> None:
    emulator.reset()
    job = Job(emulator, {"checks": "write"})
    job.checks.started(NAME, SHA, "Comparing", "sending 20 requests")
    [running] = runs(emulator)
    assert (running["status"], running["conclusion"]) == ("in_progress", None)
    job.checks.completed(NAME, SHA, "failure", "Agreement 0.91 < 0.98", "| a | b |")
    [done] = runs(emulator)
    assert done["id"] == running["id"]
    assert (done["status"], done["conclusion"]) == ("completed", "failure")
    assert done["output"] == {
        "title": "Agreement 0.91 < 0.98",
        "summary": "| a | b |",
        "text": None,
        "annotations_count": 0,
    }
    assert done["details_url"] == "https://github.com/o/r/actions/runs/9"
    assert done["head_sha"] == SHA
    # concluded without being started: one completed run
    job.checks.completed("another", SHA, "success", "fine", "all agree")
    assert [(run["name"], run["status"]) for run in runs(emulator)] == [
        (NAME, "completed"),
        ("another", "completed"),
    ]
    assert job.warnings() == []


def test_a_summary_past_githubs_limit_is_cut_and_a_title_kept_to_one_line(
    emulator: Emulator,
) -> None:
    emulator.reset()
    job = Job(emulator, {"checks": "write"})
    summary = "ü" * SUMMARY_LIMIT  # 65,535 characters, twice as many bytes
    title = "a title\n::error::injected\r\n" + "t" * 500
    job.checks.completed(NAME, SHA, "neutral", title, summary)
    [run] = runs(emulator)
    output = run["output"]
    assert isinstance(output, dict)
    assert len(output["summary"].encode()) <= SUMMARY_LIMIT
    assert output["summary"].startswith("ü" * 1000)
    assert output["summary"].endswith("(cut to GitHub's limit for a check run's summary)")
    assert "\n" not in output["title"] and len(output["title"]) <= 200
    assert job.warnings() == []


def test_a_token_without_checks_write_is_a_warning_naming_the_permission(
    emulator: Emulator,
) -> None:
    emulator.reset()
    job = Job(emulator, {"deployments": "write", "pull-requests": "write", "checks": "read"})
    job.checks.started(NAME, SHA, "Comparing", "…")
    job.checks.completed(NAME, SHA, "success", "done", "…")
    [warning] = job.warnings()
    assert "check run skipped" in warning
    assert "Resource not accessible by integration" in warning
    assert "add `permissions: checks: write` to the job" in warning
    assert runs(emulator) == []
    requests_made = emulator.github_state()["requests"]
    assert requests_made == 1  # skipped for the rest of the run after the refusal


def test_a_fork_pull_requests_read_only_token_is_one_line_without_a_warning(
    emulator: Emulator,
) -> None:
    emulator.reset()
    job = Job(emulator, {"checks": "read"}, fork=True)
    job.checks.completed(NAME, SHA, "success", "done", "…")
    assert job.warnings() == []
    assert "comes from a fork" in job.out.getvalue()
    assert runs(emulator) == []


def test_rate_limits_are_waited_out_within_the_budget_or_skipped(emulator: Emulator) -> None:
    emulator.reset()
    job = Job(emulator, {"checks": "write"})
    emulator.github_configure(secondary_limit={"status": 429, "retry_after": 2, "count": 1})
    job.checks.started(NAME, SHA, "Comparing", "…")
    assert job.slept == [2.0]
    assert len(runs(emulator)) == 1

    emulator.github_configure(rate_limit_remaining=0)  # spent for the hour: not waited for
    job.checks.completed(NAME, SHA, "success", "done", "…")
    [warning] = job.warnings()
    assert "check run skipped" in warning and "rate limit" in warning
    assert "permissions" not in warning
    assert job.slept == [2.0]
    assert [run["status"] for run in runs(emulator)] == ["in_progress"]
