"""The unmodified azure-ai-ml SDK, through the whole call sequence of the reference."""

from __future__ import annotations

from typing import Any

import pytest
from azure.ai.ml.entities import (
    Environment,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
)
from azure.core.exceptions import ResourceNotFoundError

from emulator.client import Emulator
from tests.emulator.arm import ROUTES


def environment(image: str) -> Environment:
    return Environment(image=image, inference_config=ROUTES)


def sdk_blue(endpoint: str, image: str, **settings: Any) -> ManagedOnlineDeployment:
    """Deployment blue of `image` on one Standard_DS3_v2, with `settings` besides."""
    return ManagedOnlineDeployment(
        name="blue",
        endpoint_name=endpoint,
        environment=environment(image),
        instance_type="Standard_DS3_v2",
        instance_count=1,
        **settings,
    )


def test_endpoint_deployment_traffic_keys_logs_delete(emulator: Emulator, image: str) -> None:
    ml = emulator.ml_client()
    since = emulator.last_request()

    endpoint = ml.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name="credit-risk", auth_mode="key", tags={"team": "risk"})
    ).result()
    assert endpoint.provisioning_state == "Succeeded"
    assert endpoint.scoring_uri == f"{emulator['gateway_url']}/credit-risk/score"
    assert endpoint.tags == {"team": "risk"}

    deployment = ml.online_deployments.begin_create_or_update(
        ManagedOnlineDeployment(
            name="blue",
            endpoint_name="credit-risk",
            environment=environment(image),
            instance_type="Standard_DS3_v2",
            instance_count=2,
            environment_variables={"LOG_LEVEL": "info"},
        )
    ).result()
    assert deployment.provisioning_state == "Succeeded"
    assert deployment.instance_count == 2
    assert deployment.environment_variables == {"LOG_LEVEL": "info"}
    # Server-side defaults the SDK relies on
    assert deployment.scale_settings.type == "default"
    assert deployment.readiness_probe.failure_threshold == 30

    endpoint = ml.online_endpoints.get("credit-risk")
    endpoint.traffic = {"blue": 100}
    endpoint = ml.online_endpoints.begin_create_or_update(endpoint).result()
    assert endpoint.traffic == {"blue": 100}

    keys = ml.online_endpoints.get_keys("credit-risk")
    assert keys.primary_key and keys.secondary_key and keys.primary_key != keys.secondary_key

    logs = ml.online_deployments.get_logs("blue", "credit-risk", lines=10)
    assert isinstance(logs, str)
    # The SDK's argument-order trap: endpoint and deployment swapped must be a 404.
    with pytest.raises(ResourceNotFoundError):
        ml.online_deployments.get_logs("credit-risk", "blue", lines=10)

    assert [e.name for e in ml.online_endpoints.list()] == ["credit-risk"]
    assert [d.name for d in ml.online_deployments.list("credit-risk")] == ["blue"]

    ml.online_endpoints.begin_delete("credit-risk").result()
    with pytest.raises(ResourceNotFoundError):
        ml.online_endpoints.get("credit-risk")

    calls = {
        (entry["method"], entry["api_version"], entry["status"])
        for entry in emulator.requests_since(since, part="arm")
    }
    # The four api-versions of the reference flow, each answered successfully.
    assert ("GET", "2024-10-01-preview", 200) in calls  # workspace
    assert ("PUT", "2022-02-01-preview", 201) in calls  # endpoint create
    assert ("PUT", "2023-04-01-preview", 201) in calls  # deployment create
    assert ("PUT", "2022-02-01-preview", 200) in calls  # traffic update
    assert ("POST", "2022-02-01-preview", 200) in calls  # listKeys
    assert ("DELETE", "2022-02-01-preview", 202) in calls


def test_entra_token_is_requested_once_and_reused(emulator: Emulator) -> None:
    ml = emulator.ml_client()
    since = emulator.last_request()
    ml.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="ep-a")).result()
    list(ml.online_endpoints.list())
    token_posts = [e for e in emulator.requests_since(since, part="entra") if e["method"] == "POST"]
    assert len(token_posts) == 1


def test_deployment_update_and_delete(emulator: Emulator, image: str) -> None:
    ml = emulator.ml_client()
    ml.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="ep-upd")).result()
    deployment = ManagedOnlineDeployment(
        name="green",
        endpoint_name="ep-upd",
        environment=environment(image),
        instance_type="Standard_DS2_v2",
        instance_count=1,
    )
    ml.online_deployments.begin_create_or_update(deployment).result()
    deployment.instance_count = 3
    updated = ml.online_deployments.begin_create_or_update(deployment).result()
    assert updated.instance_count == 3
    ml.online_deployments.begin_delete("green", "ep-upd").result()
    assert list(ml.online_deployments.list("ep-upd")) == []


def test_aml_token_endpoint_gives_tokens_not_keys(emulator: Emulator) -> None:
    ml = emulator.ml_client()
    ml.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name="ep-token", auth_mode="aml_token")
    ).result()
    token = ml.online_endpoints.get_keys("ep-token")
    assert token.access_token.count(".") == 2
    assert token.token_type == "Bearer"
    assert token.expiry_time_utc > token.refresh_after_time_utc


def test_regenerate_keys(emulator: Emulator) -> None:
    ml = emulator.ml_client()
    ml.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="ep-keys")).result()
    before = ml.online_endpoints.get_keys("ep-keys")
    ml.online_endpoints.begin_regenerate_keys("ep-keys", key_type="secondary").result()
    after = ml.online_endpoints.get_keys("ep-keys")
    assert after.primary_key == before.primary_key
    assert after.secondary_key != before.secondary_key


def test_client_secret_credential_works_too(emulator: Emulator) -> None:
    ml = emulator.ml_client(emulator.secret_credential())
    assert ml.workspaces.get(emulator["workspace"]).location == emulator["location"]
