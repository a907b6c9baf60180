"""Where we run: the GitHub event (pull request number, sha, ref, tag, run id) or the local git
checkout, and the workspace the deploy file's paths must stay in."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer.errors import UsageError
from deployer.github.events import PullRequestRun, pull_request_run


def workspace_root(deploy_file: Path, environ: Mapping[str, str]) -> Path:
    """The folder the deploy file's paths must stay in (computed once, into Options.root).

    GITHUB_WORKSPACE in Actions; else the git repository holding the deploy file; else its folder.
    """
    configured = environ.get("GITHUB_WORKSPACE")
    if configured:
        return Path(configured).resolve()
    folder = deploy_file.resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder


@dataclass(frozen=True)
class RunContext:
    in_github: bool
    event_name: str | None
    repository: str | None  # owner/name
    server_url: str
    sha: str
    branch: str | None
    tag: str | None
    pull_request: PullRequestRun | None  # the pull request this run acts for (github/events.py)
    run_id: str | None
    head_sha: str | None = None  # a pull request's head commit (GITHUB_SHA is its merge commit)
    from_fork: bool = False  # a pull request from another repository: its token is read-only

    @property
    def short_sha(self) -> str:
        return self.sha[:7] if self.sha else ""

    @property
    def source_url(self) -> str | None:
        return f"{self.server_url}/{self.repository}" if self.repository else None

    @property
    def run_url(self) -> str | None:
        """This workflow run's page, where its log is."""
        if not self.source_url or not self.run_id:
            return None
        return f"{self.source_url}/actions/runs/{self.run_id}"

    @property
    def is_pull_request(self) -> bool:
        """Whether this run acts for a pull request, whatever event started it: the one
        decision the owner tags, the cache scope, the policy and GitHub's records follow."""
        return self.pull_request is not None

    @property
    def pr_number(self) -> int | None:
        return self.pull_request.number if self.pull_request is not None else None

    def name_values(self) -> dict[str, str]:
        """The values of endpoint-name placeholders this run has."""
        values = {
            "pr": str(self.pr_number) if self.pr_number is not None else "",
            "branch": self.branch or "",
            "sha": self.sha,
            "short_sha": self.short_sha,
            "tag": self.tag or "",
            "run_id": self.run_id or "",
        }
        return {name: value for name, value in values.items() if value}

    def image_tag(self, inputs_hash: str, dirty: bool = False) -> str | None:
        """The tag an image built for this run gets, `<short sha>-<hash of the build inputs>`
        (image/inputs_hash.py); None when no commit identifies it."""
        if not self.short_sha:
            return None
        tag = f"{self.short_sha}-{inputs_hash}"
        return f"{tag}-dirty" if dirty else tag


def detect(environ: Mapping[str, str], cwd: Path, pr_override: int | None = None) -> RunContext:
    if environ.get("GITHUB_ACTIONS") == "true":
        return _github(environ, pr_override)
    return _local(environ, cwd, pr_override)


def _github(environ: Mapping[str, str], pr_override: int | None) -> RunContext:
    event = _event_payload(environ.get("GITHUB_EVENT_PATH"))
    event_name = environ.get("GITHUB_EVENT_NAME") or None
    repository = environ.get("GITHUB_REPOSITORY", "")
    pull = pull_request_run(event_name, event, environ)
    if pull is not None and pr_override is not None and pull.number not in (None, pr_override):
        raise UsageError(
            f"--pr {pr_override} names another pull request than this run's: {pull.describe()}",
            hint="leave --pr out in GitHub Actions: the event says which pull request it is",
        )
    if pull is None and pr_override is not None:
        pull = PullRequestRun(pr_override, ("--pr",))
    ref_type = environ.get("GITHUB_REF_TYPE")
    ref_name = environ.get("GITHUB_REF_NAME") or None
    # A pull request's run is named by its head branch, never by the ref it runs on: for
    # issue_comment and workflow_run that is the default branch (docs/security.md's table).
    branch = ref_name if ref_type == "branch" else None
    tag = ref_name if ref_type == "tag" else None
    if pull is not None:
        branch, tag = pull.head_ref, None
    return RunContext(
        in_github=True,
        event_name=event_name,
        repository=repository or None,
        server_url=environ.get("GITHUB_SERVER_URL", "https://github.com"),
        sha=environ.get("GITHUB_SHA", ""),
        branch=branch,
        tag=tag,
        pull_request=pull,
        run_id=environ.get("GITHUB_RUN_ID") or None,
        head_sha=pull.head_sha if pull is not None else None,
        from_fork=pull is not None
        and pull.head_repository is not None
        and pull.head_repository != repository,
    )


# GitHub caps webhook payloads at 25 MB; the runner writes the event it received.
MAX_EVENT_BYTES = 25 * 1024 * 1024


def _event_payload(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_EVENT_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"cannot read the GitHub event payload {path}: {exc.strerror}") from exc
    if len(raw) > MAX_EVENT_BYTES:
        raise UsageError(
            f"the GitHub event payload {path} is larger than {MAX_EVENT_BYTES // 2**20} MiB, "
            "GitHub's limit for an event; it was not read"
        )
    try:
        payload = json.loads(raw)
    except RecursionError as exc:
        raise UsageError(
            f"the GitHub event payload {path} is nested too deeply to be a GitHub event"
        ) from exc
    except ValueError as exc:
        raise UsageError(f"cannot read the GitHub event payload {path}: {exc}") from exc
    return payload if isinstance(payload, dict) else {}


def _git(cwd: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _local(environ: Mapping[str, str], cwd: Path, pr_override: int | None) -> RunContext:
    sha = _git(cwd, "rev-parse", "HEAD") or ""
    branch = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
    tag = _git(cwd, "describe", "--exact-match", "--tags", "HEAD")
    return RunContext(
        in_github=False,
        event_name=None,
        repository=None,
        server_url="https://github.com",
        sha=sha,
        branch=None if branch in (None, "HEAD") else branch,
        tag=tag,
        pull_request=PullRequestRun(pr_override, ("--pr",)) if pr_override is not None else None,
        run_id=environ.get("GITHUB_RUN_ID") or None,
    )


def uncommitted_changes(path: Path) -> bool:
    """Whether a local checkout has changes under `path` that its commit does not hold
    (an image built from it is then not the commit's image)."""
    status = _git(path, "status", "--porcelain", "--untracked-files=all", "--", ".")
    return bool(status)
