"""Check runs on a commit, with the job's token: a named check that branch protection can
require, started and completed with a title and a markdown summary. Never fails a run.

- docs.github.com "REST API endpoints for check runs": `POST /repos/{owner}/{repo}/check-runs`
  with `name` and `head_sha`, then `PATCH .../check-runs/{check_run_id}`; a `conclusion`
  completes the run; `output.summary` and `output.text` have a "Maximum length: 65535
  characters". GitHub has been reported to count that limit in bytes
  (github/rest-api-description#5399), so the summary is bounded to 65,535 UTF-8 bytes, which
  fits either way.
- "Controlling permissions for GITHUB_TOKEN": `checks: write` lets a job create check runs; a
  token without it is refused with 403 (skipped with a warning naming the permission), and a
  fork's pull request gets a read-only token (skipped with one line).
- Rate limits are waited out within deployer/github/rest.py's budget, or the check run is
  skipped.

The caller writes the summary with deployer/markdown.py's escaping for every value it did not
write itself (Azure's text, a model's answers); the title is folded to one bounded line here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

from deployer.errors import GitHubApiError
from deployer.github.rest import GitHubApi, token_refused
from deployer.github.runner import Runner

Conclusion = Literal[
    "success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"
]
SUMMARY_LIMIT = 65535  # "Maximum length: 65535 characters", counted here in UTF-8 bytes
TITLE_LIMIT = 200  # GitHub documents no limit; a title is shown on one line
MORE = "\n\n… (cut to GitHub's limit for a check run's summary)"


class CheckRuns(Protocol):
    """A named check on a commit, as a reviewer and branch protection see it."""

    def started(self, name: str, head_sha: str, title: str, summary: str) -> None: ...

    def completed(
        self, name: str, head_sha: str, conclusion: Conclusion, title: str, summary: str
    ) -> None: ...


class GitHubCheckRuns:
    """Check runs through GitHub's REST API: `started` creates one in progress, `completed`
    concludes it (or creates it completed); after one refusal it stays off for the run."""

    def __init__(
        self,
        api: GitHubApi,
        runner: Runner,
        *,
        from_fork: bool = False,
        details_url: str | None = None,
    ) -> None:
        self.api, self.runner = api, runner
        self.from_fork, self.details_url = from_fork, details_url
        self.off = False
        self._ids: dict[tuple[str, str], int] = {}

    def started(self, name: str, head_sha: str, title: str, summary: str) -> None:
        self._call(lambda: self._create(name, head_sha, {"status": "in_progress"}, title, summary))

    def completed(
        self, name: str, head_sha: str, conclusion: Conclusion, title: str, summary: str
    ) -> None:
        identifier = self._ids.get((name, head_sha))
        if identifier is None:
            self._call(
                lambda: self._create(name, head_sha, {"conclusion": conclusion}, title, summary)
            )
            return
        body = {"conclusion": conclusion, "output": output(title, summary)}
        self._call(lambda: self.api.patch(self.api.repo_path(f"/check-runs/{identifier}"), body))

    def _create(
        self, name: str, head_sha: str, state: dict[str, str], title: str, summary: str
    ) -> None:
        body: dict[str, Any] = {
            "name": name,
            "head_sha": head_sha,
            **state,
            "output": output(title, summary),
        }
        if self.details_url:
            body["details_url"] = self.details_url
        created = self.api.post(self.api.repo_path("/check-runs"), body)
        identifier = created.get("id") if isinstance(created, dict) else None
        if not isinstance(identifier, int):
            raise GitHubApiError("GitHub created a check run without an id")
        self._ids[(name, head_sha)] = identifier

    def _call(self, call: Callable[[], object]) -> None:
        if self.off:
            return
        try:
            call()
        except GitHubApiError as failure:
            self.off = True
            if token_refused(failure) and self.from_fork:
                self.runner.info(
                    "check run skipped: this pull request comes from a fork, and its token is "
                    "read-only"
                )
            elif token_refused(failure):
                self.runner.warning(
                    f"check run skipped: the job's token may not write it ({failure.message}); "
                    "add `permissions: checks: write` to the job"
                )
            else:
                self.runner.warning(f"check run skipped: {failure.message}")


def output(title: str, summary: str) -> dict[str, str]:
    """A check run's `output`, within GitHub's limits."""
    line = " ".join(title.split())
    if len(line) > TITLE_LIMIT:
        line = line[: TITLE_LIMIT - 1] + "…"
    return {"title": line, "summary": bounded(summary)}


def bounded(summary: str, limit: int = SUMMARY_LIMIT) -> str:
    """`summary` cut to at most `limit` UTF-8 bytes, saying so, never splitting a character."""
    encoded = summary.encode("utf-8", "replace")
    if len(encoded) <= limit:
        return encoded.decode("utf-8")
    room = limit - len(MORE.encode("utf-8"))
    return encoded[:room].decode("utf-8", "ignore") + MORE
