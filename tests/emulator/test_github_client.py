"""azureml-deploy's GitHub REST client against the emulator's GitHub: pagination by the Link
header, rate limits waited out within a budget or given up at once, GitHub's refusals as one
line; "Get a pull request" with its states, permission and 404."""

from __future__ import annotations

import pytest
import requests

from deployer.errors import GitHubApiError
from deployer.github.rest import WAIT_BUDGET_SECONDS, GitHubApi
from emulator.client import AdminError, Emulator
from emulator.identity import GITHUB_REPOSITORY

# ARM, Entra and GitHub alone: the emulator without a data plane (tests/conftest.py).
pytestmark = pytest.mark.control_plane

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


def get_pull(emulator: Emulator, token: str, number: int) -> requests.Response:
    """GET /repos/{owner}/{repo}/pulls/{pull_number}, raw: status, headers and body."""
    return requests.get(
        f"{emulator['github_api_url']}/repos/{GITHUB_REPOSITORY}/pulls/{number}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
        verify=emulator["ca_bundle"],
        timeout=30,
    )


def test_get_a_pull_request_answers_its_state_as_github_does(emulator: Emulator) -> None:
    emulator.reset()
    opened = emulator.github_pull_request(7, head_ref="feature", head_sha="a" * 40)
    emulator.github_pull_request(8, "closed", merged=True)
    emulator.github_pull_request(9, "closed")
    emulator.github_pull_request(10, head_repository="stranger/octo-repo")
    api = client(emulator, emulator.github_token({"pull-requests": "read"}))

    live = api.get(api.repo_path("/pulls/7"))
    assert live == opened
    assert (live["number"], live["state"], live["merged"], live["closed_at"]) == (
        7,
        "open",
        False,
        None,
    )
    assert (live["head"]["ref"], live["head"]["sha"]) == ("feature", "a" * 40)
    assert live["head"]["repo"]["full_name"] == GITHUB_REPOSITORY
    assert live["base"]["ref"] == "main"

    merged = api.get(api.repo_path("/pulls/8"))
    assert (merged["state"], merged["merged"]) == ("closed", True)
    assert merged["closed_at"] and merged["merged_at"]
    abandoned = api.get(api.repo_path("/pulls/9"))
    assert (abandoned["state"], abandoned["merged"], abandoned["merged_at"]) == (
        "closed",
        False,
        None,
    )
    assert abandoned["closed_at"]
    fork = api.get(api.repo_path("/pulls/10"))
    assert fork["head"]["repo"]["full_name"] == "stranger/octo-repo"

    # set up again by number: the pull request was closed since
    emulator.github_pull_request(7, "closed")
    assert api.get(api.repo_path("/pulls/7"))["state"] == "closed"


def test_get_a_pull_request_needs_pull_requests_read(emulator: Emulator) -> None:
    emulator.reset()
    emulator.github_pull_request(7)
    for permissions in ({}, {"deployments": "write", "issues": "write", "contents": "write"}):
        refused = get_pull(emulator, emulator.github_token(permissions), 7)
        assert refused.status_code == 403
        assert refused.json()["message"] == "Resource not accessible by integration"
        assert refused.headers["x-accepted-github-permissions"] == "pull_requests=read"
    for level in ("read", "write"):
        allowed = get_pull(emulator, emulator.github_token({"pull-requests": level}), 7)
        assert allowed.status_code == 200 and allowed.json()["number"] == 7
    assert get_pull(emulator, "ghs_" + "x" * 36, 7).status_code == 401


def test_an_unknown_pull_request_is_404_in_githubs_shape(emulator: Emulator) -> None:
    emulator.reset()
    emulator.github_pull_request(7)
    token = emulator.github_token({"pull-requests": "read"})
    missing = get_pull(emulator, token, 8)
    assert missing.status_code == 404
    body = missing.json()
    assert body["message"] == "Not Found" and body["status"] == "404"
    assert body["documentation_url"].startswith("https://docs.github.com/")
    api = client(emulator, token)
    with pytest.raises(GitHubApiError) as unknown:
        api.get(api.repo_path("/pulls/8"))
    assert unknown.value.status == 404
    # a reset forgets the pull requests
    emulator.reset()
    assert (
        get_pull(emulator, emulator.github_token({"pull-requests": "read"}), 7).status_code == 404
    )


def test_a_pull_request_that_cannot_be_is_refused_by_the_admin_api(emulator: Emulator) -> None:
    emulator.reset()
    for spec in (
        {"number": 7, "state": "open", "merged": True},  # a merged pull request is closed
        {"number": 7, "state": "draft"},
        {"number": 0},
        {"number": 7, "colour": "blue"},
        {"number": 7, "state": "closed", "merged": "yes"},
    ):
        with pytest.raises(AdminError, match="400"):
            emulator.admin("POST", "/github/rest", {"pull_requests": [spec]})
    assert emulator.github_state()["pull_requests"] == {}
