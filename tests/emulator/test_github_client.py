"""azureml-deploy's GitHub REST client against the emulator's GitHub: pagination by the Link
header, rate limits waited out within a budget or given up at once, GitHub's refusals as one
line."""

from __future__ import annotations

import pytest

from deployer.errors import GitHubApiError
from deployer.github.rest import WAIT_BUDGET_SECONDS, GitHubApi
from emulator.client import Emulator
from emulator.identity import GITHUB_REPOSITORY

WRITE = {"deployments": "write", "pull-requests": "write"}


def client(emulator: Emulator, token: str, slept: list[float] | None = None) -> GitHubApi:
    return GitHubApi(
        emulator["github_api_url"],
        GITHUB_REPOSITORY,
        token,
        verify=emulator["ca_bundle"],
        sleep=(slept.append if slept is not None else lambda seconds: None),
    )


def test_every_page_is_read_by_following_the_link_header(emulator: Emulator) -> None:
    emulator.reset()
    api = client(emulator, emulator.github_token(WRITE))
    path = api.repo_path("/issues/5/comments")
    for number in range(230):
        api.post(path, {"body": f"comment {number}"})
    bodies = [comment["body"] for comment in api.paginate(path)]
    assert bodies == [f"comment {number}" for number in range(230)]


def test_a_secondary_limit_is_waited_out_as_retry_after_says(emulator: Emulator) -> None:
    emulator.reset()
    slept: list[float] = []
    api = client(emulator, emulator.github_token(WRITE), slept)
    emulator.github_configure(secondary_limit={"status": 429, "retry_after": 3, "count": 2})
    created = api.post(api.repo_path("/issues/5/comments"), {"body": "after the limit"})
    assert created["body"] == "after the limit"
    assert slept == [3.0, 3.0]


def test_a_limit_that_resets_too_late_is_given_up_without_waiting(emulator: Emulator) -> None:
    emulator.reset()
    slept: list[float] = []
    api = client(emulator, emulator.github_token(WRITE), slept)
    emulator.github_configure(rate_limit_remaining=0)
    with pytest.raises(GitHubApiError) as refused:
        api.get(api.repo_path("/deployments"))
    assert "rate limit" in refused.value.message
    assert sum(slept) <= WAIT_BUDGET_SECONDS
    assert slept == []


def test_githubs_refusals_are_one_line_with_their_status(emulator: Emulator) -> None:
    emulator.reset()
    read_only = client(emulator, emulator.github_token({"deployments": "read"}))
    with pytest.raises(GitHubApiError) as refused:
        read_only.post(read_only.repo_path("/deployments"), {"ref": "main"})
    assert refused.value.status == 403
    assert "Resource not accessible by integration" in refused.value.message
    assert "\n" not in refused.value.message
    stranger = client(emulator, "ghs_" + "x" * 36)
    with pytest.raises(GitHubApiError) as unknown:
        stranger.get(stranger.repo_path("/deployments"))
    assert unknown.value.status == 401


def test_a_success_inactivates_earlier_deployments_as_githubs_auto_inactive_says(
    emulator: Emulator,
) -> None:
    emulator.reset()
    api = client(emulator, emulator.github_token(WRITE))
    ids = {}
    for name, environment, transient in (
        ("staging-1", "staging", False),
        ("preview-1", "staging", True),
        ("staging-2", "staging", False),
    ):
        created = api.post(
            api.repo_path("/deployments"),
            {"ref": "main", "environment": environment, "transient_environment": transient},
        )
        ids[name] = created["id"]
        api.post(api.repo_path(f"/deployments/{created['id']}/statuses"), {"state": "success"})
    latest = {
        name: api.get(api.repo_path(f"/deployments/{identifier}/statuses"))[0]["state"]
        for name, identifier in ids.items()
    }
    # the transient one is left as it was; the earlier non-transient one is inactive
    assert latest == {"staging-1": "inactive", "preview-1": "success", "staging-2": "success"}
    production = api.post(api.repo_path("/deployments"), {"ref": "main"})
    assert production["environment"] == "production"
    assert production["production_environment"] is True


def test_another_repository_and_bad_fields_are_refused_as_github_does(
    emulator: Emulator,
) -> None:
    emulator.reset()
    other = GitHubApi(
        emulator["github_api_url"],
        "octo-org/elsewhere",
        emulator.github_token(WRITE),
        verify=emulator["ca_bundle"],
        sleep=lambda seconds: None,
    )
    with pytest.raises(GitHubApiError) as missing:
        other.get(other.repo_path("/deployments"))
    assert missing.value.status == 404
    api = client(emulator, emulator.github_token(WRITE))
    with pytest.raises(GitHubApiError) as invalid:
        api.post(api.repo_path("/deployments/1/statuses"), {"state": "done"})
    assert invalid.value.status in (404, 422)
    created = api.post(api.repo_path("/deployments"), {"ref": "main"})
    with pytest.raises(GitHubApiError) as bad_state:
        api.post(api.repo_path(f"/deployments/{created['id']}/statuses"), {"state": "done"})
    assert bad_state.value.status == 422
    before = api.rate_limit
    api.get(api.repo_path("/deployments"))
    after = api.rate_limit
    assert before is not None and after is not None
    assert before.remaining is not None and after.remaining == before.remaining - 1
