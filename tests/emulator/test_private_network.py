"""Private networking with the real azure-ai-ml: an endpoint's public network access (set at
creation, updatable after it) decides whether the gateway answers clients outside the
workspace's network; a deployment with egress disabled pulls only from the workspace's
registry."""

from __future__ import annotations

import pytest
import requests
from azure.ai.ml import MLClient
from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint
from azure.core.exceptions import HttpResponseError

from emulator.client import Emulator
from tests.emulator.test_sdk_flow import environment
from tools.images import model_server_image


def deploy(ml: MLClient, endpoint: str, image: str, egress: str = "enabled") -> None:
    ml.online_deployments.begin_create_or_update(
        ManagedOnlineDeployment(
            name="blue",
            endpoint_name=endpoint,
            environment=environment(image),
            instance_type="Standard_DS3_v2",
            instance_count=1,
            egress_public_network_access=egress,
        )
    ).result()


def serving(ml: MLClient, name: str, image: str, access: str) -> str:
    """Endpoint `name` with `access`, blue serving all its traffic; its primary key."""
    ml.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name=name, auth_mode="key", public_network_access=access)
    ).result()
    deploy(ml, name, image)
    endpoint = ml.online_endpoints.get(name)
    endpoint.traffic = {"blue": 100}
    ml.online_endpoints.begin_create_or_update(endpoint).result()
    return str(ml.online_endpoints.get_keys(name).primary_key)


def score(emulator: Emulator, name: str, key: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.post(
        f"{emulator['gateway_url']}/{name}/score",
        json={"x": 1},
        headers=headers,
        verify=emulator["ca_bundle"],
        timeout=30,
    )


def test_a_private_endpoint_refuses_outside_clients_and_serves_inside_ones(
    emulator: Emulator, image: str
) -> None:
    ml = emulator.ml_client()
    key = serving(ml, "private", image, "disabled")
    assert ml.online_endpoints.get("private").public_network_access == "Disabled"

    outside = score(emulator, "private", key)
    assert outside.status_code == 403
    assert "Public network access to endpoint 'private' is disabled" in outside.text
    assert score(emulator, "private", None).status_code == 403  # before any credential

    emulator.clients_inside_network(True)
    inside = score(emulator, "private", key)
    assert inside.status_code == 200 and inside.json()["deployment"] == "blue"
    assert score(emulator, "private", None).status_code == 401


def test_public_network_access_is_updated_on_an_existing_endpoint(
    emulator: Emulator, image: str
) -> None:
    ml = emulator.ml_client()
    key = serving(ml, "flipped", image, "enabled")
    assert score(emulator, "flipped", key).status_code == 200

    endpoint = ml.online_endpoints.get("flipped")
    endpoint.public_network_access = "disabled"
    ml.online_endpoints.begin_create_or_update(endpoint).result()
    assert ml.online_endpoints.get("flipped").public_network_access == "Disabled"
    assert score(emulator, "flipped", key).status_code == 403

    endpoint = ml.online_endpoints.get("flipped")
    endpoint.public_network_access = "enabled"
    ml.online_endpoints.begin_create_or_update(endpoint).result()
    assert score(emulator, "flipped", key).status_code == 200


def test_an_invalid_value_is_refused(emulator: Emulator) -> None:
    ml = emulator.ml_client()
    with pytest.raises(HttpResponseError) as caught:
        ml.online_endpoints.begin_create_or_update(
            ManagedOnlineEndpoint(name="sideways", public_network_access="sideways")
        ).result()
    assert caught.value.status_code == 400
    assert "Allowed values: Enabled, Disabled" in str(caught.value)


def test_egress_disabled_pulls_only_from_the_workspace_registry(
    emulator: Emulator, image: str
) -> None:
    ml = emulator.ml_client()
    ml.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="egress")).result()
    public = emulator.push_public(model_server_image(), "library/model-server", "v1")
    with pytest.raises(HttpResponseError) as caught:
        deploy(ml, "egress", public, egress="disabled")
    message = str(caught.value)
    assert "Unable to download user container image" in message
    assert f"reaches only the workspace's registry {emulator['registry']}" in message
    logs = ml.online_deployments.get_logs(
        "blue", "egress", 50, container_type="storage-initializer"
    )
    assert "egress_public_network_access is disabled" in logs

    ml.online_deployments.begin_delete("blue", "egress").result()
    deploy(ml, "egress", image, egress="disabled")  # the workspace's own registry
    assert ml.online_deployments.get("blue", "egress").provisioning_state == "Succeeded"
