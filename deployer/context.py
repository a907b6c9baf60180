"""Where we run: the GitHub event (pull request number, sha, ref, tag, run id) or the local git
checkout, and the workspace the deploy file's paths must stay in."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer.errors import UsageError


def workspace_root(deploy_file: Path) -> Path:
    """The folder the deploy file's paths must stay in.

    GITHUB_WORKSPACE in Actions; else the git repository holding the deploy file; else its folder.
    """
    configured = os.environ.get("GITHUB_WORKSPACE")
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
    pr_number: int | None
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
    def is_pull_request(self) -> bool:
        return self.event_name in ("pull_request", "pull_request_target")

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
    pr_number = pr_override
    if pr_number is None and event_name in ("pull_request", "pull_request_target"):
        pr_number = _pr_number(event)
        if pr_number is None:
            # A run for a pull request is confined to that pull request's endpoints; without
            # its number it cannot be told apart from a push (policy.py).
            raise UsageError(
                f"the {event_name} event payload names no pull request number",
                hint="run the action on the pull request event GitHub sends, unmodified",
            )
    ref_type = environ.get("GITHUB_REF_TYPE")
    ref_name = environ.get("GITHUB_REF_NAME") or None
    branch = environ.get("GITHUB_HEAD_REF") or (ref_name if ref_type == "branch" else None)
    return RunContext(
        in_github=True,
        event_name=event_name,
        repository=environ.get("GITHUB_REPOSITORY") or None,
        server_url=environ.get("GITHUB_SERVER_URL", "https://github.com"),
        sha=environ.get("GITHUB_SHA", ""),
        branch=branch,
        tag=ref_name if ref_type == "tag" else None,
        pr_number=pr_number,
        run_id=environ.get("GITHUB_RUN_ID") or None,
        head_sha=_head(event).get("sha") or None,
        from_fork=_is_fork(event, environ.get("GITHUB_REPOSITORY", "")),
    )


def _head(event: dict[str, Any]) -> dict[str, Any]:
    pull_request = event.get("pull_request")
    head = pull_request.get("head") if isinstance(pull_request, dict) else None
    return {key: value for key, value in (head or {}).items() if isinstance(value, (str, dict))}


def _is_fork(event: dict[str, Any], repository: str) -> bool:
    """The pull request's head lives in another repository (GitHub's `head.repo.full_name`;
    `head.repo` is null when the fork was deleted)."""
    pull_request = event.get("pull_request")
    if not isinstance(pull_request, dict) or not isinstance(pull_request.get("head"), dict):
        return False
    repo = _head(event).get("repo")
    name = repo.get("full_name") if isinstance(repo, dict) else None
    return name != repository


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
        raise UsageError(f"cannot read the GitHub event payload {path}: {exc.strerror}") from None
    if len(raw) > MAX_EVENT_BYTES:
        raise UsageError(
            f"the GitHub event payload {path} is larger than {MAX_EVENT_BYTES // 2**20} MiB, "
            "GitHub's limit for an event; it was not read"
        )
    try:
        payload = json.loads(raw)
    except RecursionError:
        raise UsageError(
            f"the GitHub event payload {path} is nested too deeply to be a GitHub event"
        ) from None
    except ValueError as exc:
        raise UsageError(f"cannot read the GitHub event payload {path}: {exc}") from None
    return payload if isinstance(payload, dict) else {}


def _pr_number(event: dict[str, Any]) -> int | None:
    pull_request = event.get("pull_request")
    candidates = [event.get("number")]
    if isinstance(pull_request, dict):
        candidates.insert(0, pull_request.get("number"))
    for candidate in candidates:
        if isinstance(candidate, int) and not isinstance(candidate, bool) and candidate > 0:
            return candidate
    return None


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
        pr_number=pr_override,
        run_id=environ.get("GITHUB_RUN_ID") or None,
    )


def uncommitted_changes(path: Path) -> bool:
    """Whether a local checkout has changes under `path` that its commit does not hold
    (an image built from it is then not the commit's image)."""
    status = _git(path, "status", "--porcelain", "--untracked-files=all", "--", ".")
    return bool(status)
