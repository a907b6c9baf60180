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
