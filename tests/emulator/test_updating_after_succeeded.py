"""Azure/azure-sdk-for-net#36961: an endpoint whose creation has reported Succeeded reports
Updating for a while, and Azure refuses a deployment meanwhile, in the issue's words. The
emulator plays it when the `updating_after_succeeded` fault asks for it."""

from __future__ import annotations

import time

import pytest
from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint
from azure.core.exceptions import HttpResponseError

from emulator.client import Emulator
from tests.emulator.test_sdk_flow import environment

pytestmark = pytest.mark.control_plane

IMAGE = "contosoml.azurecr.io/credit-risk@sha256:" + "0" * 64


def test_a_deployment_is_refused_while_the_endpoint_reports_updating_after_succeeded(
    emulator: Emulator,
) -> None:
    emulator.fault(
        kind="updating_after_succeeded",
        method="PUT",
        path="/onlineEndpoints/settling$",
        delay_seconds=2,
    )
    ml = emulator.ml_client()
    created = ml.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="settling"))
    created.result()
    assert created.status() == "Succeeded"
    assert ml.online_endpoints.get("settling").provisioning_state == "Updating"
    deployment = ManagedOnlineDeployment(
        name="blue",
        endpoint_name="settling",
        instance_type="Standard_DS3_v2",
        instance_count=1,
        environment=environment(IMAGE),
    )
    with pytest.raises(HttpResponseError) as refused:
        ml.online_deployments.begin_create_or_update(deployment)
    assert refused.value.status_code == 409
    assert (
        "Cannot create a deployment in endpoint settling because it is in Updating "
        "provisioning state." in str(refused.value)
    )
    deadline = time.monotonic() + 10
    while ml.online_endpoints.get("settling").provisioning_state != "Succeeded":
        assert time.monotonic() < deadline, "the endpoint never settled"
        time.sleep(0.3)
    ml.online_deployments.begin_create_or_update(deployment).result()
    assert ml.online_deployments.get("blue", "settling").provisioning_state == "Succeeded"
