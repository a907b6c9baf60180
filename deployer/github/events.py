"""Whether a workflow run acts for a pull request: one decision, from everything GitHub gives.

A run acts for a pull request when the code or the deploy file it reads may be a pull request's
(its author's), whatever event started it. GitHub's "Events that trigger workflows" gives, for
each event, the payload, `GITHUB_SHA` and `GITHUB_REF`; docs/security.md has the whole table.
The signs read here, any one of which makes a pull request's run:

- a `pull_request` object in the payload: `pull_request`, `pull_request_target`,
  `pull_request_review`, `pull_request_review_comment` (number: `pull_request.number`);
- `issue.pull_request` (`issue_comment` on a pull request; number: `issue.number`; GITHUB_REF is
  the default branch, so it says nothing);
- `workflow_run` started by a pull request's event, or naming pull requests (number:
  `workflow_run.pull_requests`, which GitHub leaves empty for a fork's pull request);
- `check_run` / `check_suite` naming pull requests (`pull_requests`);
- `merge_group`, and any ref in a merge queue's `gh-readonly-queue/<base>/pr-<N>-<sha>`;
- `GITHUB_REF` `refs/pull/<N>/…`, and a non-empty `GITHUB_HEAD_REF` (set only for pull requests);
- for an event this table does not know: a `pull_request` or non-empty `pull_requests` anywhere in
  its payload.

When the signs name no number, or two different ones, the run is still a pull request's run: it
may validate the deploy file and nothing else (session.py refuses the rest).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Events that carry the pull request in `pull_request` (docs: "Events that trigger workflows").
PULL_REQUEST_EVENTS = frozenset(
    {"pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment"}
)
# Events whose payload and refs the table in docs/security.md describes; any other event is read
# with the generic search for a pull request anywhere in its payload.
KNOWN_EVENTS = PULL_REQUEST_EVENTS | {
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "gollum",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "page_build",
    "public",
    "push",
    "registry_package",
    "release",
    "repository_dispatch",
    "schedule",
    "status",
    "watch",
    "workflow_dispatch",
    "workflow_run",
}

_PULL_REF = re.compile(r"refs/pull/([0-9]+)/")
# A merge queue's branch: gh-readonly-queue/<base branch>/pr-<number>-<sha>
_QUEUE_REF = re.compile(r"(?:refs/heads/)?gh-readonly-queue/.+/pr-([0-9]+)-[0-9a-fA-F]+$")
_SEARCH_DEPTH = 6  # how deep the generic search looks into an unknown event's payload


@dataclass(frozen=True)
class PullRequestRun:
    """This run acts for a pull request: which one (None when GitHub does not say, or says two
    different things), and the signs that said so, for messages."""

    number: int | None
    signs: tuple[str, ...]
    head_ref: str | None = None
    head_sha: str | None = None
    head_repository: str | None = None  # owner/name of the head's repository, when known

    def describe(self) -> str:
        which = f"pull request #{self.number}" if self.number else "a pull request"
        return f"{which} ({'; '.join(self.signs)})"


@dataclass(frozen=True)
class _Sign:
    what: str
    number: int | None = None
    # A sign that should carry the number (the payload's pull request) but does not: the
    # payload is not what GitHub sends, and no other sign may stand in for it.
    lacks_number: bool = False


def pull_request_run(
    event_name: str | None, payload: Mapping[str, Any], environ: Mapping[str, str]
) -> PullRequestRun | None:
    """The pull request this run acts for, or None for a run that acts for none."""
    signs = list(_signs(event_name or "", payload, environ))
    if not signs:
        return None
    numbers = {sign.number for sign in signs if sign.number is not None}
    known = len(numbers) == 1 and not any(sign.lacks_number for sign in signs)
    head = _head(event_name or "", payload)
    return PullRequestRun(
        number=numbers.pop() if known else None,
        signs=tuple(dict.fromkeys(sign.what for sign in signs)),
        head_ref=environ.get("GITHUB_HEAD_REF") or _text(head.get("ref")),
        head_sha=_text(head.get("sha")),
        head_repository=_text(_dict(head.get("repo")).get("full_name")),
    )


def _signs(event: str, payload: Mapping[str, Any], environ: Mapping[str, str]) -> Iterator[_Sign]:
    pull_request = payload.get("pull_request")
    if isinstance(pull_request, dict) or event in PULL_REQUEST_EVENTS:
        number = _number(_dict(pull_request).get("number")) or _number(payload.get("number"))
        said = "a pull request" if number else "no pull request number"
        yield _Sign(f"the {event or 'event'} payload names {said}", number, number is None)
    issue = _dict(payload.get("issue"))
    if issue.get("pull_request"):
        number = _number(issue.get("number"))
        yield _Sign("a comment on a pull request (issue.pull_request)", number, number is None)
    yield from _workflow_run_signs(payload)
    for key in ("check_run", "check_suite"):
        yield from _listed(_dict(payload.get(key)).get("pull_requests"), f"{key}.pull_requests")
    group = _dict(payload.get("merge_group"))
    if group or event == "merge_group":
        yield _Sign("a merge queue's group (merge_group)", _queue_number(group.get("head_ref")))
    ref = environ.get("GITHUB_REF", "")
    if match := _PULL_REF.match(ref):
        yield _Sign(f"GITHUB_REF is {ref}", int(match.group(1)) or None)
    if match := _QUEUE_REF.match(ref):
        yield _Sign(f"GITHUB_REF is the merge queue's {ref}", int(match.group(1)) or None)
    if environ.get("GITHUB_HEAD_REF"):
        yield _Sign("GITHUB_HEAD_REF is set")
    if event and event not in KNOWN_EVENTS and _mentions_pull_request(payload, _SEARCH_DEPTH):
        yield _Sign(f"the {event} payload, an event azureml-deploy does not know, names one")


def _workflow_run_signs(payload: Mapping[str, Any]) -> Iterator[_Sign]:
    run = _dict(payload.get("workflow_run"))
    if not run:
        return
    listed = list(_listed(run.get("pull_requests"), "workflow_run.pull_requests"))
    yield from listed
    triggered_by = run.get("event")
    if triggered_by in PULL_REQUEST_EVENTS or triggered_by == "merge_group":
        # workflow_run.pull_requests is empty for a fork's pull request: the run is still its.
        yield _Sign(f"a workflow_run started by {triggered_by}")


def _listed(items: object, where: str) -> Iterator[_Sign]:
    if not isinstance(items, list) or not items:
        return
    numbers = {_number(_dict(item).get("number")) for item in items}
    number = numbers.pop() if len(numbers) == 1 else None
    yield _Sign(f"{where} names {len(items)} pull request(s)", number)


def _head(event: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The pull request's head: its ref, commit and repository, where the payload has them."""
    head = _dict(_dict(payload.get("pull_request")).get("head"))
    if head:
        return head
    run = _dict(payload.get("workflow_run"))
    if run:
        return {
            "ref": run.get("head_branch"),
            "sha": run.get("head_sha"),
            "repo": _dict(run.get("head_repository")),
        }
    group = _dict(payload.get("merge_group"))
    if group:
        return {"sha": group.get("head_sha")}
    return {}


def _mentions_pull_request(value: object, depth: int) -> bool:
    if depth <= 0:
        return False
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "pull_request" and item:
                return True
            if key == "pull_requests" and isinstance(item, list) and item:
                return True
            if _mentions_pull_request(item, depth - 1):
                return True
    elif isinstance(value, list):
        return any(_mentions_pull_request(item, depth - 1) for item in value[:100])
    return False


def _queue_number(ref: object) -> int | None:
    match = _QUEUE_REF.match(ref) if isinstance(ref, str) else None
    return (int(match.group(1)) or None) if match else None


def _number(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
