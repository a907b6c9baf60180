"""Injected faults, and the SDK's own retry policy recovering from the transient ones."""

from __future__ import annotations

import time

import pytest
from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint
from azure.core.exceptions import HttpResponseError

from emulator.client import Emulator
from tests.emulator.test_sdk_flow import environment


def faulted(emulator: Emulator, since: int) -> list[dict[str, object]]:
    return [e for e in emulator.requests_since(since, part="arm") if e["fault"]]


def test_throttling_with_retry_after_is_retried(emulator: Emulator) -> None:
    emulator.fault(
        kind="status", status=429, retry_after=1, count=2, method="PUT", path="/onlineEndpoints/"
    )
    since = emulator.last_request()
    started = time.monotonic()
    endpoint = (
        emulator.ml_client()
        .online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="throttled"))
        .result()
    )
    assert endpoint.provisioning_state == "Succeeded"
    assert time.monotonic() - started >= 2  # Retry-After was honoured twice
    assert [(e["status"], e["fault"]) for e in faulted(emulator, since)] == [
        (429, "status"),
        (429, "status"),
    ]


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_retried(emulator: Emulator, status: int) -> None:
    emulator.fault(kind="status", status=status, count=2, method="GET", path="/workspaces/[^/]+$")
    since = emulator.last_request()
    workspace = emulator.ml_client().workspaces.get(emulator["workspace"])
    assert workspace.name == emulator["workspace"]
    assert len(faulted(emulator, since)) == 2


def test_dropped_connections_are_retried(emulator: Emulator) -> None:
    emulator.fault(kind="drop", count=2, method="GET", path="/workspaces/[^/]+$")
    since = emulator.last_request()
    workspace = emulator.ml_client().workspaces.get(emulator["workspace"])
    assert workspace.name == emulator["workspace"]
    assert [e["fault"] for e in faulted(emulator, since)] == ["drop", "drop"]


def test_slow_responses(emulator: Emulator) -> None:
    emulator.fault(kind="delay", delay_seconds=1.5, method="GET", path="/workspaces/[^/]+$")
    started = time.monotonic()
    emulator.ml_client().workspaces.get(emulator["workspace"])
    assert time.monotonic() - started >= 1.5


def test_an_operation_that_ends_failed(emulator: Emulator, image: str) -> None:
    ml = emulator.ml_client()
    ml.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="fails")).result()
    emulator.fault(
        kind="lro_fail",
        path="/deployments/blue",
        code="BadArgument",
        message="Unable to download user container image contosoml.azurecr.io/credit-risk",
    )
    with pytest.raises(
        HttpResponseError, match=r"\(BadArgument\) Unable to download user container image"
    ) as caught:
        ml.online_deployments.begin_create_or_update(
            ManagedOnlineDeployment(
                name="blue",
                endpoint_name="fails",
                environment=environment(image),
                instance_type="Standard_DS3_v2",
                instance_count=1,
            )
        ).result()
    assert caught.value.error is not None and caught.value.error.code == "BadArgument"
    assert ml.online_deployments.get("blue", "fails").provisioning_state == "Failed"


def test_provisioning_delay(emulator: Emulator) -> None:
    emulator.fault(kind="provisioning_delay", path="/onlineEndpoints/slow", delay_seconds=2)
    started = time.monotonic()
    emulator.ml_client().online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name="slow")
    ).result()
    assert time.monotonic() - started >= 2


def test_faults_are_used_up(emulator: Emulator) -> None:
    emulator.fault(kind="status", status=503, count=1, path="/workspaces/")
    assert len(emulator.admin("GET", "/faults")["faults"]) == 1
    emulator.ml_client().workspaces.get(emulator["workspace"])
    assert emulator.admin("GET", "/faults")["faults"] == []


def test_the_request_log_holds_no_secrets(emulator: Emulator) -> None:
    since = emulator.last_request()
    emulator.ml_client().online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name="logged")
    ).result()
    keys = emulator.ml_client().online_endpoints.get_keys("logged")
    text = str(emulator.requests_since(since))
    for secret in (
        keys.primary_key,
        keys.secondary_key,
        emulator["client_secret"],
        emulator["oidc"]["request_token"],
    ):
        assert secret not in text
