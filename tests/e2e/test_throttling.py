"""Under ARM throttling (a budget far tighter than Azure's, so that it is spent), a deploy and a
cleanup of many previews still succeed: refused requests wait for Retry-After and go again,
and the run's polls share one budget."""

from __future__ import annotations

from emulator.client import Emulator
from tests.e2e.conftest import App
from tests.emulator.arm import Arm

TIGHT = {"reads": [8, 3.0], "writes": [6, 2.0], "deletes": [4, 2.0]}


def throttled(emulator: Emulator, since: int) -> int:
    return sum(1 for e in emulator.requests_since(since, part="arm") if e["status"] == 429)


def test_a_deploy_and_a_cleanup_of_many_previews_ride_out_throttling(app: App, image: str) -> None:
    emulator = app.emulator
    arm = Arm(emulator, image=image)
    names = [f"pr{n}-models" for n in range(1, 13)]
    for n, name in enumerate(names, 1):
        arm.create_preview(name, pr=str(n), age_hours=5)
    emulator.timing(arm_buckets=TIGHT)
    since = emulator.last_request()

    outputs = app.outputs()
    assert outputs["endpoint-name"] == "models"
    result = app.run("cleanup")
    assert result.returncode == 0, result.stderr

    assert all(app.endpoint(name) is None for name in names)
    assert app.endpoint("models") is not None
    assert throttled(emulator, since) > 0  # the budget was spent, and nothing failed


def test_a_poll_still_throttled_after_the_sdks_retries_polls_again(app: App) -> None:
    app.outputs("--environment", "preview", "--pr", "7")
    emulator = app.emulator
    # azure-core sends a request and retries it six times (STATUS_RETRIES); the eighth 429 in
    # a row used to end the run
    emulator.fault(
        kind="status", status=429, retry_after=1, count=9, method="GET", path="mfeOperationsStatus"
    )
    since = emulator.last_request()
    deleted = app.run("delete", "--environment", "preview", "--pr", "7")
    assert deleted.returncode == 0, deleted.stderr
    assert app.endpoint("pr7-models") is None
    assert throttled(emulator, since) == 9


def test_the_polls_of_many_operations_share_one_budget(app: App, image: str) -> None:
    """Forty deletions of 4 s each with no Retry-After (as Azure sends none): polled every
    second each, that would be some 200 status reads in 5 s; one pacer keeps them to its
    budget (deployer/azure/operation.py: a burst of 40, then 8 a second)."""
    emulator = app.emulator
    arm = Arm(emulator, image=image)
    count = 40
    for n in range(1, count + 1):
        arm.create_preview(f"pr{n}-models", pr=str(n), age_hours=5)
    emulator.timing(profile="azure", time_scale=1, seconds={"endpoint_delete": 4})
    since = emulator.last_request()
    result = app.run("cleanup")
    assert result.returncode == 0, result.stderr
    polls = [
        e
        for e in emulator.requests_since(since, part="arm")
        if e["method"] == "GET" and "mfeOperationsStatus" in e["path"]
    ]
    span = polls[-1]["time"] - polls[0]["time"]
    # each operation's first poll is azure-core's own, at once; the rest wait for the pacer
    assert len(polls) <= count + 40 + 8 * span + 5, (len(polls), span)
    assert all(app.endpoint(f"pr{n}-models") is None for n in range(1, count + 1))
