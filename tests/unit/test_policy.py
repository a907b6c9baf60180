"""What a run may change or delete, from the endpoint's tags alone (deployer/policy.py), and
what cleanup sweeps (deployer/commands/cleanup.py)."""

from __future__ import annotations

import datetime
from types import MappingProxyType

import pytest

from deployer.commands.cleanup import Lifetimes, stale_endpoints
from deployer.errors import PolicyError
from deployer.policy import check_may_change, check_may_delete
from deployer.state import EndpointState, ProvisioningState
from deployer.tags import Owner, Ownership, utc_timestamp

REPO = "octo-org/octo-repo"
NOW = datetime.datetime(2026, 12, 1, 12, tzinfo=datetime.UTC)


def endpoint(name: str = "ep", **tags: str) -> EndpointState:
    return EndpointState(
        name,
        ProvisioningState.SUCCEEDED,
        "key",
        None,
        None,
        MappingProxyType({}),
        MappingProxyType(tags),
    )


def ours(pr: int | None = None, repository: str = REPO, age_hours: float = 1) -> dict[str, str]:
    return Owner(repository, "preview" if pr else "production", pr).tags(
        NOW - datetime.timedelta(hours=age_hours)
    )


PRODUCTION = Owner(REPO, "production")
PULL_REQUEST_7 = Owner(REPO, "preview", pr=7)


def test_anything_may_create_an_endpoint_that_does_not_exist() -> None:
    check_may_change(PULL_REQUEST_7, "ep", None)
    check_may_change(PRODUCTION, "ep", None)


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        ({}, "not created by azureml-deploy"),
        (ours(), "repository=octo-org/octo-repo"),  # production
        (ours(pr=8), "pr=8"),
        (ours(pr=7, repository="someone/else"), "repository=someone/else"),
        ({"managed-by": "azureml-deploy", "pr": "7"}, "no repository"),  # an older version's
    ],
)
def test_a_pull_request_changes_nothing_but_its_own_preview(tags: dict[str, str], why: str) -> None:
    with pytest.raises(PolicyError) as refused:
        check_may_change(PULL_REQUEST_7, "ep", endpoint(**tags))
    assert "for pull request #7" in refused.value.message and why in refused.value.message
    check_may_change(PULL_REQUEST_7, "ep", endpoint(**ours(pr=7)))


def test_a_release_may_update_its_own_or_an_unowned_endpoint_only() -> None:
    check_may_change(PRODUCTION, "ep", endpoint(**ours()))
    check_may_change(PRODUCTION, "ep", endpoint())  # made by hand: adopted, deployments aside
    check_may_change(PRODUCTION, "ep", endpoint(**{"managed-by": "azureml-deploy"}))
    with pytest.raises(PolicyError, match="belongs to someone/else"):
        check_may_change(PRODUCTION, "ep", endpoint(**ours(repository="someone/else")))
    with pytest.raises(PolicyError, match="it is pull request #7's preview"):
        check_may_change(PRODUCTION, "ep", endpoint(**ours(pr=7)))


def test_delete_takes_only_this_runs_preview() -> None:
    check_may_delete(PULL_REQUEST_7, "ep", endpoint(**ours(pr=7)))
    for tags, why in [
        (ours(), "not a preview endpoint"),
        ({}, "not a preview endpoint"),
        ({"managed-by": "azureml-deploy", "pr": "7"}, "no repository tag"),
        (ours(pr=8), "not this run's preview"),
        (ours(pr=7, repository="someone/else"), "not this run's preview"),
    ]:
        with pytest.raises(PolicyError, match=why):
            check_may_delete(PULL_REQUEST_7, "ep", endpoint(**tags))


def test_cleanup_sweeps_this_repositorys_stale_previews_and_reports_untagged_ones() -> None:
    endpoints = [
        endpoint("mine-old", **ours(pr=1, age_hours=5)),
        endpoint("mine-young", **ours(pr=2, age_hours=0.5)),
        endpoint("theirs-old", **ours(pr=3, repository="someone/else", age_hours=5)),
        endpoint(
            "staging-theirs",
            **{**ours(repository="someone/else", age_hours=500), "environment": "staging"},
        ),
        endpoint(
            "legacy-old",
            **{
                "managed-by": "azureml-deploy",
                "pr": "4",
                "environment": "preview",
                "created-at": utc_timestamp(NOW - datetime.timedelta(hours=5)),
            },
        ),
        endpoint("by-hand", environment="preview", pr="5"),
    ]
    sweep = stale_endpoints(endpoints, Lifetimes({"preview": 1.0, "staging": 1.0}, 72), NOW, REPO)
    assert [item.name for item in sweep.stale] == ["mine-old"]
    assert [item.name for item in sweep.unattributed] == ["legacy-old"]


def preview_of(environment: str, pr: int, age_hours: float) -> dict[str, str]:
    return Owner(REPO, environment, pr).tags(NOW - datetime.timedelta(hours=age_hours))


def test_cleanup_sweeps_previews_of_environments_the_deploy_file_does_not_have() -> None:
    """A preview made under an overlay only a pull request had (or one since renamed) is found
    by its tags and lives the default lifetime, not for ever."""
    endpoints = [
        endpoint("zz-old", **preview_of("zz-preview", pr=103, age_hours=80)),
        endpoint("zz-young", **preview_of("zz-preview", pr=104, age_hours=5)),
        endpoint("renamed-old", **preview_of("preview-old-name", pr=9, age_hours=73)),
    ]
    sweep = stale_endpoints(endpoints, Lifetimes({"preview": 1.0}, 72), NOW, REPO)
    assert [(item.name, item.why) for item in sweep.stale] == [
        ("zz-old", "older than its ttl_hours (72 h)"),
        ("renamed-old", "older than its ttl_hours (72 h)"),
    ]


def test_cleanup_sweeps_a_closed_pull_requests_preview_at_once_and_only_its_own() -> None:
    endpoints = [
        endpoint("pr5", **preview_of("preview", pr=5, age_hours=0.1)),
        endpoint("pr6", **preview_of("preview", pr=6, age_hours=0.1)),
        endpoint("theirs-pr5", **ours(pr=5, repository="someone/else", age_hours=0.1)),
        endpoint("production", **ours(age_hours=500)),
    ]
    sweep = stale_endpoints(endpoints, Lifetimes({"preview": 48.0}, 72), NOW, REPO, closed={5})
    assert [(item.name, item.why) for item in sweep.stale] == [("pr5", "pull request #5 is closed")]


def test_ownership_reads_only_well_formed_tags() -> None:
    assert Ownership.of({"managed-by": "someone", "pr": "7"}).managed is False
    assert Ownership.of({"managed-by": "azureml-deploy", "pr": "seven"}).pr is None
    assert Ownership.of({"managed-by": "azureml-deploy", "pr": "٧"}).pr is None  # not ASCII
    assert Ownership.of({"created-at": "yesterday"}).created_at is None
