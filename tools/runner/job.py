"""The environment a GitHub-hosted runner gives a job's step, built in one place.

Every way the tests run the deployer as GitHub would (the action's container, the CLI in a
job, the entrypoint) takes its variables from `job_environment`, so they agree with each other
and with the runner: the default variables of
https://docs.github.com/en/actions/reference/workflows-and-actions/variables, the file-command
paths, and the OIDC request variables only for a job with `id-token: write`. Each job gets its
own run id, as each workflow run does; the lease tells runs apart by it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

REPOSITORY = "octo-org/octo-repo"


def new_sha() -> str:
    return secrets.token_hex(20)


def new_run_id() -> str:
    return str(1_000_000_000 + secrets.randbelow(9_000_000_000))


@dataclass(frozen=True)
class Event:
    """The event that started the workflow run: its name, payload and the refs it sets."""

    name: str
    payload: dict[str, Any]
    sha: str = "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39"
    ref: str = "refs/heads/main"
    head_ref: str = ""
    base_ref: str = ""

    @classmethod
    def push(cls, ref: str = "refs/heads/main", sha: str | None = None) -> Event:
        return cls("push", {"ref": ref}, sha=sha or new_sha(), ref=ref)

    @classmethod
    def pull_request(
        cls,
        number: int,
        *,
        action: str = "opened",
        fork: bool = False,
        head_ref: str = "feature/scoring",
        sha: str | None = None,
        head_sha: str | None = None,
    ) -> Event:
        head_repo = "someone/octo-repo" if fork else REPOSITORY
        payload = {
            "action": action,
            "number": number,
            "pull_request": {
                "number": number,
                "head": {
                    "ref": head_ref,
                    "sha": head_sha or new_sha(),
                    "repo": {"full_name": head_repo, "fork": fork},
                },
                "base": {"ref": "main", "repo": {"full_name": REPOSITORY}},
            },
            "repository": {"full_name": REPOSITORY},
        }
        return cls(
            "pull_request",
            payload,
            sha=sha or new_sha(),
            ref=f"refs/pull/{number}/merge",
            head_ref=head_ref,
            base_ref="main",
        )

    # The other events that run for a pull request, in the payload shapes and refs of GitHub's
    # "Events that trigger workflows" and "Webhook events and payloads" (docs/security.md).

    @classmethod
    def pull_request_target(cls, number: int, *, fork: bool = False) -> Event:
        """Runs in the base's default branch (GITHUB_REF), the payload and GITHUB_HEAD_REF name
        the pull request."""
        opened = cls.pull_request(number, fork=fork)
        return cls(
            "pull_request_target",
            opened.payload,
            sha=new_sha(),
            head_ref=opened.head_ref,
            base_ref="main",
        )

    @classmethod
    def pull_request_review(cls, number: int, *, comment: bool = False) -> Event:
        """A review (or a review comment) on the pull request: the merge branch as the ref, no
        GITHUB_HEAD_REF (set for pull_request and pull_request_target only)."""
        payload = dict(cls.pull_request(number).payload)
        del payload["number"]
        if comment:
            payload.update(action="created", comment={"id": 1, "body": "looks good"})
        else:
            payload.update(action="submitted", review={"id": 1, "state": "approved"})
        name = "pull_request_review_comment" if comment else "pull_request_review"
        return cls(name, payload, sha=new_sha(), ref=f"refs/pull/{number}/merge")

    @classmethod
    def issue_comment(cls, number: int, *, on_pull_request: bool = True) -> Event:
        """A comment (a `/deploy` ChatOps command): the default branch as the ref; the payload
        says it is a pull request's only by `issue.pull_request`."""
        issue: dict[str, Any] = {"number": number, "title": "Scoring v2", "state": "open"}
        if on_pull_request:
            url = f"https://api.github.com/repos/{REPOSITORY}/pulls/{number}"
            issue["pull_request"] = {"url": url, "merged_at": None}
        payload = {
            "action": "created",
            "issue": issue,
            "comment": {"id": 1, "body": "/deploy staging"},
            "repository": {"full_name": REPOSITORY},
        }
        return cls("issue_comment", payload, sha=new_sha())

    @classmethod
    def workflow_run(cls, number: int | None, *, triggered_by: str = "pull_request") -> Event:
        """A workflow started when another (started by `triggered_by`) completed: the default
        branch as the ref; `workflow_run.pull_requests` is empty for a fork's pull request
        (number None)."""
        head = "someone/octo-repo" if number is None else REPOSITORY
        listed = [] if number is None else [{"number": number, "head": {"ref": "feature/x"}}]
        payload = {
            "action": "completed",
            "workflow_run": {
                "event": triggered_by,
                "head_branch": "feature/x",
                "head_sha": new_sha(),
                "head_repository": {"full_name": head},
                "pull_requests": listed,
                "conclusion": "success",
            },
            "repository": {"full_name": REPOSITORY},
        }
        return cls("workflow_run", payload, sha=new_sha())

    @classmethod
    def merge_group(cls, number: int) -> Event:
        """A merge queue's group: its own branch, gh-readonly-queue/<base>/pr-<N>-<sha>."""
        sha = new_sha()
        ref = f"refs/heads/gh-readonly-queue/main/pr-{number}-{new_sha()}"
        payload = {
            "action": "checks_requested",
            "merge_group": {
                "head_sha": sha,
                "head_ref": ref,
                "base_ref": "refs/heads/main",
                "base_sha": new_sha(),
            },
            "repository": {"full_name": REPOSITORY},
        }
        return cls("merge_group", payload, sha=sha, ref=ref)

    @classmethod
    def check_suite(cls, number: int) -> Event:
        payload = {
            "action": "completed",
            "check_suite": {"head_branch": "feature/x", "pull_requests": [{"number": number}]},
        }
        return cls("check_suite", payload, sha=new_sha())

    @property
    def ref_name(self) -> str:
        return self.ref.split("/", 2)[-1] if self.ref.startswith("refs/") else self.ref

    @property
    def ref_type(self) -> str:
        return "tag" if self.ref.startswith("refs/tags/") else "branch"


@dataclass(frozen=True)
class StepPaths:
    """Where the step sees the runner's files: host paths for a process on the runner,
    container paths for a Docker action."""

    workspace: str
    event: str
    home: str
    temp: str
    output: str
    summary: str
    env: str = ""
    path: str = ""
    state: str = ""


# GitHub's API as the job sees it: the emulator's when a test gives it, else unreachable on
# purpose (a test never sends anything to GitHub itself).
UNREACHABLE_API = "https://127.0.0.1:9/github-api"


def job_environment(
    event: Event,
    paths: StepPaths,
    *,
    oidc: tuple[str, str] | None,
    repository: str = REPOSITORY,
    run_id: str | None = None,
    attempt: int = 1,
    api_url: str = UNREACHABLE_API,
) -> dict[str, str]:
    """The variables of one step of a job on a GitHub-hosted Linux runner; `oidc` is the
    token service's (request URL, request token) when the job may request ID tokens."""
    variables = {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "HOME": paths.home,
        "GITHUB_JOB": "deploy",
        "GITHUB_REF": event.ref,
        "GITHUB_REF_NAME": event.ref_name,
        "GITHUB_REF_TYPE": event.ref_type,
        "GITHUB_REF_PROTECTED": "false",
        "GITHUB_SHA": event.sha,
        "GITHUB_REPOSITORY": repository,
        "GITHUB_REPOSITORY_OWNER": repository.partition("/")[0],
        "GITHUB_REPOSITORY_ID": "632596897",
        "GITHUB_RUN_ID": run_id or new_run_id(),
        "GITHUB_RUN_NUMBER": "42",
        "GITHUB_RUN_ATTEMPT": str(attempt),
        "GITHUB_ACTOR": "octocat",
        "GITHUB_ACTOR_ID": "583231",
        "GITHUB_TRIGGERING_ACTOR": "octocat",
        "GITHUB_WORKFLOW": "deploy",
        "GITHUB_ACTION": "deploy",
        "GITHUB_ACTION_REPOSITORY": "azureml-deploy/azureml-deploy",
        "GITHUB_ACTION_REF": "v1",
        "GITHUB_EVENT_NAME": event.name,
        "GITHUB_EVENT_PATH": paths.event,
        "GITHUB_WORKSPACE": paths.workspace,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": api_url,
        "GITHUB_GRAPHQL_URL": "https://api.github.com/graphql",
        "GITHUB_HEAD_REF": event.head_ref,
        "GITHUB_BASE_REF": event.base_ref,
        "GITHUB_RETENTION_DAYS": "90",
        "GITHUB_OUTPUT": paths.output,
        "GITHUB_ENV": paths.env,
        "GITHUB_PATH": paths.path,
        "GITHUB_STATE": paths.state,
        "GITHUB_STEP_SUMMARY": paths.summary,
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "RUNNER_NAME": "GitHub Actions 1",
        "RUNNER_ENVIRONMENT": "github-hosted",
        "RUNNER_TEMP": paths.temp,
        "RUNNER_TOOL_CACHE": "/opt/hostedtoolcache",
        # unreachable on purpose: the deployer has no business with the runner's own services
        "ACTIONS_RUNTIME_URL": "https://127.0.0.1:9/runtime/",
        "ACTIONS_CACHE_URL": "https://127.0.0.1:9/cache/",
        "ACTIONS_RESULTS_URL": "https://127.0.0.1:9/results/",
        "ACTIONS_RUNTIME_TOKEN": oidc[1] if oidc else secrets.token_urlsafe(24),
    }
    if oidc is not None:
        variables["ACTIONS_ID_TOKEN_REQUEST_URL"] = oidc[0]
        variables["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = oidc[1]
    return variables


def without_job_variables(environ: dict[str, str]) -> dict[str, str]:
    """This process's environment without any runner's variables: a test sets its own."""
    return {
        name: value
        for name, value in environ.items()
        if not name.startswith(("GITHUB_", "ACTIONS_", "RUNNER_", "INPUT_")) and name != "CI"
    }
