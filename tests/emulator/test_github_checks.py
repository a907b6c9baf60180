"""The emulator's GitHub check runs as docs.github.com "REST API endpoints for check runs"
describes them: create, update, get and list for a commit; statuses and conclusions; the output's
limits; the Checks permission a job's token needs."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from emulator.client import Emulator
from emulator.identity import GITHUB_REPOSITORY

pytestmark = pytest.mark.control_plane

SHA = "c" * 40
CHECKS = {"checks": "write"}


def call(
    emulator: Emulator, token: str, method: str, path: str, body: Any = None, **params: str
) -> requests.Response:
    return requests.request(
        method,
        f"{emulator['github_api_url']}/repos/{GITHUB_REPOSITORY}{path}",
        json=body,
        params=params,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
        verify=emulator["ca_bundle"],
        timeout=30,
    )


def test_a_check_run_goes_from_in_progress_to_a_conclusion(emulator: Emulator) -> None:
    emulator.reset()
    token = emulator.github_token(CHECKS)
    created = call(
        emulator,
        token,
        "POST",
        "/check-runs",
        {
            "name": "azureml-deploy preview",
            "head_sha": SHA,
            "status": "in_progress",
            "details_url": "https://github.com/octo-org/octo-repo/actions/runs/1",
            "external_id": "pr7",
            "output": {"title": "Deploying", "summary": "**deploying**"},
        },
    )
    assert created.status_code == 201, created.text
    run = created.json()
    assert (run["status"], run["conclusion"], run["completed_at"]) == ("in_progress", None, None)
    assert run["output"]["summary"] == "**deploying**"
    assert run["app"]["slug"] == "github-actions"
    assert created.headers["x-ratelimit-remaining"]

    # a conclusion completes it, whatever status is sent
    done = call(
        emulator,
        token,
        "PATCH",
        f"/check-runs/{run['id']}",
        {"conclusion": "failure", "output": {"title": "Failed", "summary": "it failed"}},
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["conclusion"]) == ("completed", "failure")
    assert done.json()["completed_at"]
    assert done.json()["details_url"] == "https://github.com/octo-org/octo-repo/actions/runs/1"
    fetched = call(emulator, token, "GET", f"/check-runs/{run['id']}").json()
    assert fetched == done.json()
    assert emulator.github_state()["check_runs"] == [fetched]
    assert call(emulator, token, "GET", "/check-runs/999999").status_code == 404


def test_the_list_for_a_commit_shows_the_latest_run_of_each_name(emulator: Emulator) -> None:
    emulator.reset()
    token = emulator.github_token(CHECKS)
    for name, conclusion in (("preview", "failure"), ("preview", "success"), ("lint", "neutral")):
        body = {"name": name, "head_sha": SHA, "conclusion": conclusion}
        assert call(emulator, token, "POST", "/check-runs", body).status_code == 201
    call(emulator, token, "POST", "/check-runs", {"name": "preview", "head_sha": "d" * 40})

    latest = call(emulator, token, "GET", f"/commits/{SHA}/check-runs").json()
    assert latest["total_count"] == 2
    assert [(run["name"], run["conclusion"]) for run in latest["check_runs"]] == [
        ("lint", "neutral"),
        ("preview", "success"),
    ]
    every = call(emulator, token, "GET", f"/commits/{SHA}/check-runs", filter="all").json()
    assert every["total_count"] == 3
    named = call(
        emulator, token, "GET", f"/commits/{SHA}/check-runs", check_name="lint", status="completed"
    ).json()
    assert [run["name"] for run in named["check_runs"]] == ["lint"]
    queued = call(emulator, token, "GET", f"/commits/{'d' * 40}/check-runs").json()
    assert [run["status"] for run in queued["check_runs"]] == ["queued"]  # the default


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"head_sha": SHA}, "name"),
        ({"name": "x"}, "head_sha"),
        ({"name": "x", "head_sha": SHA, "status": "completed"}, "conclusion"),
        ({"name": "x", "head_sha": SHA, "conclusion": "stale"}, "conclusion"),
        ({"name": "x", "head_sha": SHA, "status": "waiting"}, "status"),
        ({"name": "x", "head_sha": SHA, "output": {"summary": "no title"}}, "output.title"),
        (
            {"name": "x", "head_sha": SHA, "output": {"title": "t", "summary": "s" * 65536}},
            "output.summary",
        ),
        (
            {
                "name": "x",
                "head_sha": SHA,
                "output": {"title": "t", "summary": "s", "text": "t" * 65536},
            },
            "output.text",
        ),
    ],
)
def test_what_github_documents_as_invalid_is_refused_with_422(
    emulator: Emulator, body: dict[str, Any], field: str
) -> None:
    emulator.reset()
    refused = call(emulator, emulator.github_token(CHECKS), "POST", "/check-runs", body)
    assert refused.status_code == 422
    assert refused.json()["message"] == "Validation Failed"
    assert refused.json()["errors"][0]["field"] == field
    assert emulator.github_state()["check_runs"] == []


def test_the_longest_documented_summary_is_kept_whole(emulator: Emulator) -> None:
    emulator.reset()
    summary = "é" * 65535
    created = call(
        emulator,
        emulator.github_token(CHECKS),
        "POST",
        "/check-runs",
        {"name": "x", "head_sha": SHA, "output": {"title": "t", "summary": summary}},
    )
    assert created.status_code == 201
    assert created.json()["output"]["summary"] == summary


def test_check_runs_need_the_checks_permission(emulator: Emulator) -> None:
    emulator.reset()
    body = {"name": "x", "head_sha": SHA, "conclusion": "success"}
    for permissions in ({}, {"checks": "read"}, {"deployments": "write", "statuses": "write"}):
        refused = call(emulator, emulator.github_token(permissions), "POST", "/check-runs", body)
        assert refused.status_code == 403
        assert refused.json()["message"] == "Resource not accessible by integration"
        assert refused.headers["x-accepted-github-permissions"] == "checks=write"
    run = call(emulator, emulator.github_token(CHECKS), "POST", "/check-runs", body).json()
    reader = emulator.github_token({"checks": "read"})
    assert call(emulator, reader, "GET", f"/check-runs/{run['id']}").status_code == 200
    assert call(emulator, reader, "GET", f"/commits/{SHA}/check-runs").status_code == 200
    patched = call(emulator, reader, "PATCH", f"/check-runs/{run['id']}", {"conclusion": "failure"})
    assert patched.status_code == 403
    nobody = emulator.github_token({})
    assert call(emulator, nobody, "GET", f"/commits/{SHA}/check-runs").status_code == 403
    assert call(emulator, "ghs_" + "x" * 36, "GET", f"/check-runs/{run['id']}").status_code == 401
