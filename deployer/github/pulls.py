"""Which pull requests are closed, as GitHub's REST API says ("Get a pull request",
GET /repos/{owner}/{repo}/pulls/{pull_number}: `state` is `open` or `closed`; the job's token
needs `pull-requests: read`). cleanup deletes a closed pull request's preview at once instead of
waiting for its ttl_hours; without the permission, or outside GitHub, previews go by age alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from deployer.errors import GitHubApiError
from deployer.github.rest import GitHubApi
from deployer.github.runner import Runner


def closed_pull_requests(api: GitHubApi | None, numbers: Iterable[int], runner: Runner) -> set[int]:
    """The numbers among `numbers` whose pull request GitHub says is closed. Never fails the
    run: a refusal stops the asking with one line, and those previews are swept by age."""
    closed: set[int] = set()
    if api is None:
        return closed
    for number in sorted(set(numbers)):
        try:
            found = api.get(api.repo_path(f"/pulls/{number}"))
        except GitHubApiError as failure:
            if failure.status == 404:
                continue  # no such pull request (or not visible): its age decides
            runner.warning(
                f"previews are swept by age alone: GitHub did not say whether their pull "
                f"requests are closed ({failure.message}); add `permissions: pull-requests: "
                "read` to the cleanup job"
            )
            return closed
        if isinstance(found, dict) and found.get("state") == "closed":
            closed.add(number)
    return closed
