"""Whether a run acts for a pull request, for every event of docs/security.md's table, from the
payload, GITHUB_REF and GITHUB_HEAD_REF the runner gives that event (deployer/github/events.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployer.context import RunContext, detect
from deployer.errors import PolicyError, UsageError
from deployer.policy import check_may_sweep, check_pull_request_known
from tools.runner.job import Event, StepPaths, job_environment


def context_of(event: Event, tmp_path: Path, pr: int | None = None) -> RunContext:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event.payload))
    paths = StepPaths(str(tmp_path), str(path), str(tmp_path), str(tmp_path), "", "")
    return detect(job_environment(event, paths, oidc=None), tmp_path, pr)


PULL_REQUEST_RUNS = [
    (Event.pull_request(7), 7, "feature/scoring"),
    (Event.pull_request(7, action="closed"), 7, "feature/scoring"),
    (Event.pull_request(7, fork=True), 7, "feature/scoring"),
    (Event.pull_request_target(7), 7, "feature/scoring"),
    (Event.pull_request_review(7), 7, "feature/scoring"),
    (Event.pull_request_review(7, comment=True), 7, "feature/scoring"),
    (Event.issue_comment(7), 7, None),
    (Event.workflow_run(7), 7, "feature/x"),
    (Event.workflow_run(7, triggered_by="push"), 7, "feature/x"),  # it lists the pull request
    (Event.merge_group(7), 7, None),
    (Event.check_suite(7), 7, None),
]


@pytest.mark.parametrize(
    ("event", "number", "branch"),
    PULL_REQUEST_RUNS,
    ids=[f"{event.name}-{i}" for i, (event, _, _) in enumerate(PULL_REQUEST_RUNS)],
)
def test_runs_that_act_for_a_pull_request(
    event: Event, number: int, branch: str | None, tmp_path: Path
) -> None:
    context = context_of(event, tmp_path)
    assert context.is_pull_request
    assert context.pr_number == number
    # Never the ref the run sits on: for issue_comment and workflow_run that is main.
    assert context.branch == branch and context.tag is None
    assert context.name_values()["pr"] == str(number)
    check_pull_request_known(context)
    with pytest.raises(PolicyError, match="refusing to clean up"):
        check_may_sweep(context)


@pytest.mark.parametrize(
    "event",
    [
        Event.push(),
        Event.push("refs/tags/v1.2.0"),
        Event(
            "release", {"action": "published", "release": {"tag_name": "v1"}}, ref="refs/tags/v1"
        ),
        Event("schedule", {"schedule": "17 3 * * *"}),
        Event("workflow_dispatch", {"inputs": {}, "ref": "refs/heads/main"}),
        Event("repository_dispatch", {"action": "ship", "client_payload": {"model": "7"}}),
        Event.issue_comment(7, on_pull_request=False),
        Event.workflow_run(None, triggered_by="push"),
        Event("deployment", {"deployment": {"ref": "main", "payload": {}}}),
    ],
)
def test_runs_that_act_for_no_pull_request(event: Event, tmp_path: Path) -> None:
    context = context_of(event, tmp_path)
    assert not context.is_pull_request and context.pr_number is None
    check_may_sweep(context)


def test_a_push_to_a_merge_queue_branch_is_its_pull_requests_run(tmp_path: Path) -> None:
    """GitHub also sends `push` when it creates a merge group's branch."""
    ref = "refs/heads/gh-readonly-queue/main/pr-12-" + "a" * 40
    context = context_of(Event.push(ref), tmp_path)
    assert context.pr_number == 12 and context.branch is None


def test_a_fork_workflow_run_is_a_pull_requests_run_of_unknown_number(tmp_path: Path) -> None:
    """workflow_run.pull_requests is empty for a fork's pull request: it may only validate."""
    context = context_of(Event.workflow_run(None), tmp_path)
    assert context.is_pull_request and context.pr_number is None
    assert context.from_fork
    with pytest.raises(PolicyError, match="may only validate the deploy file"):
        check_pull_request_known(context)
    # --pr cannot name the pull request for it: that number could be anyone's.
    assert context_of(Event.workflow_run(None), tmp_path, pr=9).pr_number is None


def test_an_unknown_event_that_names_a_pull_request_is_its_run(tmp_path: Path) -> None:
    payload = {"action": "whatever", "thing": {"pull_request": {"number": 3}}}
    assert context_of(Event("future_event", payload), tmp_path).is_pull_request
    plain = Event("future_event", {"action": "whatever", "thing": {"id": 3}})
    assert not context_of(plain, tmp_path).is_pull_request


def test_signs_that_disagree_leave_the_number_unknown(tmp_path: Path) -> None:
    event = Event.pull_request(7)
    lying = Event(event.name, event.payload, ref="refs/pull/8/merge", head_ref="x")
    context = context_of(lying, tmp_path)
    assert context.is_pull_request and context.pr_number is None


def test_pr_must_agree_with_the_event(tmp_path: Path) -> None:
    assert context_of(Event.pull_request(7), tmp_path, pr=7).pr_number == 7
    with pytest.raises(UsageError, match="names another pull request"):
        context_of(Event.pull_request(7), tmp_path, pr=8)
    assert context_of(Event.push(), tmp_path, pr=8).pr_number == 8  # a trusted run, marked


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"pull_request": {}},
        {"pull_request": {"number": "x"}},
        {"number": -3},
        ["not", "a", "mapping"],
    ],
)
def test_a_pull_request_event_without_a_number_may_only_validate(
    tmp_path: Path, payload: object
) -> None:
    """Without its number a pull request's run could not be confined to its preview; a ref
    naming one does not stand in for the payload GitHub would have sent."""
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    environ = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REF": "refs/pull/1/merge",
    }
    context = detect(environ, tmp_path)
    assert context.is_pull_request and context.pr_number is None
    with pytest.raises(PolicyError, match=r"names no pull request number.*may only validate"):
        check_pull_request_known(context)
