"""A run as GitHub shows it: a GitHub deployment with its statuses, and for a preview the pull
request's comment. On when the job's token allows it; never fails a run.

- A deploy creates one deployment (docs.github.com "REST API endpoints for deployments"):
  `transient_environment` for a preview, `production_environment` for production, the payload
  marking it as azureml-deploy's; statuses `in_progress`, then `success` or `failure`, with
  the endpoint's Azure ML studio page as `environment_url` (the scoring URI only takes
  authenticated POSTs) and the workflow run as `log_url`. After a success the earlier
  deployments of the same endpoint get `inactive`: GitHub's `auto_inactive` skips transient
  and production environments.
- `delete` marks every deployment of the pull request's preview `inactive` and the comment
  "deleted".
- A pull request's preview also gets the check run "azureml-deploy preview" on its head commit
  (deployer/github/preview_check.py), in progress while it deploys, then success or failure.
- A pull request from a fork gets a read-only token (docs.github.com "Automatic token
  authentication"; a private repository may send write tokens to forks, so the token is
  tried, not assumed); a job without `deployments: write`, `pull-requests: write` or
  `checks: write` is refused with 403. Both are skipped with one line saying why, and what to grant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from deployer.context import RunContext
from deployer.errors import GitHubApiError
from deployer.github import comment, preview_check, scorecard_check
from deployer.github.checks import GitHubCheckRuns
from deployer.github.rest import GitHubApi, token_refused
from deployer.github.runner import Runner

PAYLOAD_KEY = "azureml-deploy"
DESCRIPTION_LIMIT = 140  # characters GitHub keeps of a status description
DEFAULT_API_URL = "https://api.github.com"


def github_token(environ: Mapping[str, str]) -> str:
    """The `github-token` input (INPUT_GITHUB-TOKEN), else GITHUB_TOKEN for the command line."""
    for key in ("INPUT_GITHUB-TOKEN", "INPUT_GITHUB_TOKEN", "GITHUB_TOKEN"):
        value = environ.get(key, "").strip()
        if value:
            return value
    return ""


def github_api(
    runner: Runner, context: RunContext, environ: Mapping[str, str], verify: str | bool | None
) -> GitHubApi | None:
    """The repository's REST API with the job's token (masked first); None outside GitHub or
    without a token."""
    token = github_token(environ)
    if not context.in_github or not context.repository or not token:
        return None
    runner.mask(token)
    api_url = environ.get("GITHUB_API_URL") or DEFAULT_API_URL
    return GitHubApi(api_url, context.repository, token, verify=True if verify is None else verify)


class GitHubPresence:
    """The run's GitHub deployment and, for a preview, its pull request comment."""

    def __init__(
        self,
        api: GitHubApi,
        runner: Runner,
        context: RunContext,
        *,
        environment: str,
        endpoint: str,
        preview: bool,
        where: comment.Where,
    ) -> None:
        self.api, self.runner, self.context = api, runner, context
        # A pull request's run is always a preview to GitHub, whatever the deploy file calls
        # its environment: transient, never production, never retiring another's deployment.
        self.environment, self.endpoint = environment, endpoint
        self.preview = preview or context.is_pull_request
        self.where = where
        self.deployment_id: int | None = None
        self._deployments_off = False
        self._comments_off = not (self.preview and context.pr_number is not None)
        self.checks = (
            None
            if self._comments_off
            else GitHubCheckRuns(api, runner, from_fork=context.from_fork, details_url=self.run_url)
        )

    # --- when it is on ------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        runner: Runner,
        context: RunContext,
        environ: Mapping[str, str],
        *,
        environment: str,
        endpoint: str,
        preview: bool,
        where: comment.Where,
        verify: str | bool = True,
    ) -> GitHubPresence | None:
        """The presence, or None (with a one-line note why) when GitHub is not to be told."""
        if not context.in_github or not context.repository:
            return None
        api = github_api(runner, context, environ, verify)
        if api is None:
            runner.info(
                "GitHub deployment, comment and check run skipped: no github-token (the input "
                "defaults to the job's token)"
            )
            return None
        return cls(
            api,
            runner,
            context,
            environment=environment,
            endpoint=endpoint,
            preview=preview,
            where=where,
        )

    @property
    def commit(self) -> str:
        return self.context.head_sha or self.context.sha

    @property
    def run_url(self) -> str | None:
        return self.context.run_url

    # --- the run's moments --------------------------------------------------------------

    def started(self, studio_url: str) -> None:
        self._deployment_call(lambda: self._create_deployment(studio_url))
        self._comment_call(lambda: comment.deploying(self.where, self.commit[:7], self.run_url))
        if self.checks is not None:
            preview_check.started(self.checks, self.commit, self.endpoint)

    def succeeded(self, studio_url: str, live: comment.Live) -> None:
        self._status("success", studio_url, f"{self.endpoint} is live")
        self._deployment_call(self._retire_earlier)
        self._comment_call(lambda: comment.live(self.where, self.commit[:7], live))
        if self.checks is not None:
            preview_check.succeeded(self.checks, self.commit, self.endpoint, live)
            if live.scorecard is not None:
                scorecard_check.completed(self.checks, self.commit, live.scorecard)

    def failed(self, studio_url: str, message: str) -> None:
        self._status("failure", studio_url, message)
        self._comment_call(
            lambda: comment.failed(self.where, self.commit[:7], message, self.run_url)
        )
        if self.checks is not None:
            preview_check.failed(self.checks, self.commit, self.endpoint, message)

    def deleted(self) -> None:
        self._deployment_call(self._retire_earlier)
        self._comment_call(
            lambda: comment.deleted(self.where, self.commit[:7], self.run_url),
            create=False,
        )

    # --- deployments ----------------------------------------------------------------------

    def _create_deployment(self, studio_url: str) -> None:
        production = not self.preview and (
            self.context.tag is not None or self.environment.lower() == "production"
        )
        created = self.api.post(
            self.api.repo_path("/deployments"),
            {
                "ref": self.commit,
                "task": "deploy",
                "auto_merge": False,
                # a preview deploys before the pull request's checks pass; GitHub would
                # otherwise refuse the deployment (409) while they run
                "required_contexts": [],
                "environment": self.environment,
                "description": _description(f"azureml-deploy: {self.endpoint}"),
                "transient_environment": self.preview,
                "production_environment": production,
                "payload": {
                    PAYLOAD_KEY: {
                        "endpoint": self.endpoint,
                        "pull_request": self.context.pr_number,
                    }
                },
            },
        )
        identifier = created.get("id") if isinstance(created, dict) else None
        if not isinstance(identifier, int):
            raise GitHubApiError("GitHub created a deployment without an id")
        self.deployment_id = identifier
        self._status("in_progress", studio_url, f"deploying {self.endpoint}")

    def _status(self, state: str, studio_url: str, description: str) -> None:
        if self.deployment_id is None:
            return
        identifier = self.deployment_id
        body: dict[str, Any] = {
            "state": state,
            "environment_url": studio_url,
            "description": _description(description),
            "auto_inactive": not self.preview,
        }
        if self.run_url:
            body["log_url"] = self.run_url
        self._deployment_call(
            lambda: self.api.post(self.api.repo_path(f"/deployments/{identifier}/statuses"), body)
        )

    def _retire_earlier(self) -> None:
        """`inactive` for this endpoint's other deployments that are not inactive yet."""
        for deployment in self.api.paginate(
            self.api.repo_path("/deployments"), {"environment": self.environment}
        ):
            identifier = deployment.get("id")
            if identifier == self.deployment_id or not self._ours(deployment):
                continue
            statuses = list(
                self.api.paginate(self.api.repo_path(f"/deployments/{identifier}/statuses"))
            )
            latest = max(statuses, key=lambda status: int(status.get("id", 0)), default=None)
            if latest is not None and latest.get("state") == "inactive":
                continue
            self.api.post(
                self.api.repo_path(f"/deployments/{identifier}/statuses"),
                {
                    "state": "inactive",
                    "description": _description(f"{self.endpoint} replaced or deleted"),
                },
            )

    def _ours(self, deployment: Mapping[str, Any]) -> bool:
        """A deployment azureml-deploy made of this endpoint for the same pull request (or for
        none): a pull request's run never retires a deployment of another run's kind."""
        payload = deployment.get("payload")
        mark = payload.get(PAYLOAD_KEY) if isinstance(payload, dict) else None
        return (
            isinstance(mark, dict)
            and mark.get("endpoint") == self.endpoint
            and mark.get("pull_request") == self.context.pr_number
        )

    # --- the pull request comment ---------------------------------------------------------

    def _comment(self, body: str, create: bool) -> None:
        number = self.context.pr_number
        path = self.api.repo_path(f"/issues/{number}/comments")
        existing = comment.find_ours(list(self.api.paginate(path)), self.endpoint)
        if existing is not None:
            self.api.patch(self.api.repo_path(f"/issues/comments/{existing}"), {"body": body})
        elif create:
            self.api.post(path, {"body": body})

    # --- never failing the run --------------------------------------------------------------

    def _deployment_call(self, call: Callable[[], object]) -> None:
        if self._deployments_off:
            return
        try:
            call()
        except GitHubApiError as failure:
            self._deployments_off = True
            self._note("GitHub deployment", failure, "deployments: write")

    def _comment_call(self, render: Callable[[], str], create: bool = True) -> None:
        if self._comments_off:
            return
        try:
            self._comment(render(), create)
        except GitHubApiError as failure:
            self._comments_off = True
            self._note("pull request comment", failure, "pull-requests: write")

    def _note(self, what: str, failure: GitHubApiError, permission: str) -> None:
        refused = token_refused(failure)
        if refused and self.context.from_fork:
            # One note for all: the token of a fork's pull request is read-only (unless the
            # repository sends write tokens to forks, which then never gets here).
            self._deployments_off = self._comments_off = True
            if self.checks is not None:
                self.checks.off = True
            self.runner.info(
                "GitHub deployment, comment and check run skipped: this pull request comes "
                "from a fork, and its token is read-only"
            )
        elif refused:
            self.runner.warning(
                f"{what} skipped: the job's token may not write it ({failure.message}); add "
                f"`permissions: {permission}` to the job"
            )
        else:
            self.runner.warning(f"{what} skipped: {failure.message}")


def _description(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= DESCRIPTION_LIMIT else line[: DESCRIPTION_LIMIT - 1] + "…"
