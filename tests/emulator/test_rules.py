"""Service rules Azure ML enforces, each with Azure's status and the SDK's exception."""

from __future__ import annotations

import pytest
from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint
from azure.core.exceptions import HttpResponseError

from emulator.client import Emulator
from tests.emulator.arm import DEPLOYMENTS_API, Arm, error_of
from tests.emulator.test_sdk_flow import environment, sdk_blue

# ARM, Entra and GitHub alone: the emulator without a data plane (tests/conftest.py).
pytestmark = pytest.mark.control_plane


@pytest.fixture
def arm(emulator: Emulator) -> Arm:
    """Deployments of an image by digest that nothing pulls (no data plane)."""
    return Arm(emulator)


@pytest.mark.parametrize("name", ["ab", "a" * 33, "1abc", "abc-", "ab_c"])
def test_endpoint_names_are_3_to_32_letters_digits_dashes(arm: Arm, name: str) -> None:
    response = arm.call(
        "PUT",
        arm.ws(f"/onlineEndpoints/{name}"),
        {"location": arm.emulator["location"], "properties": {"authMode": "Key"}},
    )
    status, code, message = error_of(response)
    assert (status, code) == (400, "BadArgument")
    assert "3-32 characters" in message


@pytest.mark.parametrize("taken_by", ["another workspace", "another customer"])
def test_endpoint_names_are_unique_per_region(emulator: Emulator, taken_by: str) -> None:
    """As Azure answers (Azure/azureml-examples#1931): 400 BadRequest wrapping
    InferencingClientCallFailed, not 409."""
    if taken_by == "another workspace":
        emulator.admin("POST", "/workspaces", {"name": "other-team", "endpoints": ["fraud-check"]})
    else:
        emulator.admin("POST", "/taken-names", {"names": ["fraud-check"]})
    with pytest.raises(HttpResponseError) as caught:
        emulator.ml_client().online_endpoints.begin_create_or_update(
            ManagedOnlineEndpoint(name="fraud-check")
        ).result()
    error = caught.value
    assert error.status_code == 400
    assert error.error is not None
    assert (error.error.code, error.error.message) == ("BadRequest", "The request is invalid.")
    [detail] = error.error.details
    assert detail.code == "InferencingClientCallFailed"
    assert (
        "There is already an endpoint with this name, Endpoint name needs to be unique "
        "within a region" in str(detail.message)
    )


def test_at_most_20_deployments_per_endpoint(emulator: Emulator, arm: Arm) -> None:
    emulator.timing(seconds={"deployment_create": 0.01})
    emulator.admin("POST", "/quota", {"standardDSv2Family": 1000})
    arm.create_endpoint("many")
    environment_id = arm.create_environment()
    for index in range(20):
        assert (
            arm.create_deployment("many", f"dep{index:02d}", environment=environment_id)["status"]
            == "Succeeded"
        )
    status, code, message = error_of(
        arm.put_deployment("many", "dep20", environment=environment_id)
    )
    assert (status, code) == (400, "BadArgument")
    assert "at most 20" in message


@pytest.fixture
def blue(arm: Arm) -> Arm:
    arm.create_endpoint("credit")
    arm.create_deployment("credit", "blue")
    return arm


@pytest.mark.parametrize(
    ("traffic", "fragment"),
    [
        ({"blue": 90}, "add up to 100 (or all be 0); they add up to 90"),
        ({"blue": 100, "green": 0}, "Deployment 'green' in traffic does not exist"),
        ({"blue": 101}, "must be an integer from 0 to 100"),
        ({"blue": -1}, "must be an integer from 0 to 100"),
    ],
)
def test_traffic_rules(blue: Arm, traffic: dict[str, int], fragment: str) -> None:
    status, code, message = error_of(blue.set_traffic("credit", traffic))
    assert (status, code) == (400, "BadArgument")
    assert fragment in message


def test_traffic_all_zero_is_allowed(blue: Arm) -> None:
    response = blue.set_traffic("credit", {"blue": 0})
    assert response.status_code == 200
    assert blue.wait(response)["status"] == "Succeeded"


def test_traffic_only_to_succeeded_deployments(blue: Arm) -> None:
    blue.emulator.fault(kind="provisioning_delay", path="/deployments/green", delay_seconds=2)
    creating = blue.put_deployment("credit", "green")
    assert creating.status_code == 201
    # While green is being created the endpoint is busy, so try once it has failed instead.
    blue.emulator.wait_idle()
    blue.emulator.fault(kind="lro_fail", path="/deployments/red", code="OutOfQuota")
    assert blue.create_deployment("credit", "red")["status"] == "Failed"
    status, _, message = error_of(blue.set_traffic("credit", {"blue": 50, "red": 50}))
    assert status == 400
    assert "provisioning state is 'Failed'" in message


def test_the_sdk_raises_for_a_traffic_rule(emulator: Emulator, blue: Arm) -> None:
    ml = emulator.ml_client()
    endpoint = ml.online_endpoints.get("credit")
    endpoint.traffic = {"blue": 50}
    with pytest.raises(HttpResponseError, match="add up to 100") as caught:
        ml.online_endpoints.begin_create_or_update(endpoint).result()
    assert caught.value.status_code == 400


def test_a_deployment_with_traffic_cannot_be_deleted(emulator: Emulator, blue: Arm) -> None:
    blue.wait(blue.set_traffic("credit", {"blue": 100}))
    with pytest.raises(HttpResponseError, match="has 100% traffic") as caught:
        emulator.ml_client().online_deployments.begin_delete("blue", "credit").result()
    assert caught.value.status_code == 400
    blue.wait(blue.set_traffic("credit", {"blue": 0}))
    emulator.ml_client().online_deployments.begin_delete("blue", "credit").result()


def test_unknown_instance_type(emulator: Emulator, blue: Arm) -> None:
    status, code, message = error_of(
        blue.put_deployment("credit", "green", instance_type="Standard_XYZ")
    )
    assert (status, code) == (400, "UserError")
    assert message == "Invalid instance type Standard_XYZ"


def test_quota_is_enforced_with_the_upgrade_reserve(emulator: Emulator, arm: Arm) -> None:
    emulator.admin("POST", "/quota", {"standardDSv2Family": 20})
    arm.create_endpoint("quota")
    # 2 x Standard_DS3_v2 (4 cores) with the 20 % reserve: ceil(2.4) = 3 instances = 12 cores
    arm.create_deployment("quota", "blue", capacity=2)
    ml = emulator.ml_client()
    with pytest.raises(HttpResponseError, match="OutOfQuota") as caught:
        ml.online_deployments.begin_create_or_update(
            ManagedOnlineDeployment(
                name="green",
                endpoint_name="quota",
                environment=environment(arm.image),
                instance_type="Standard_DS3_v2",
                instance_count=2,
            )
        ).result()
    assert "Current usage/limit: 12/20. Additional needed: 12" in str(caught.value)
    assert caught.value.status_code == 400


def test_a_second_operation_while_one_runs_is_a_conflict(emulator: Emulator, blue: Arm) -> None:
    emulator.fault(kind="provisioning_delay", path="/deployments/green", delay_seconds=3)
    assert blue.put_deployment("credit", "green").status_code == 201
    status, code, message = error_of(blue.set_traffic("credit", {"blue": 100}))
    assert (status, code) == (409, "Conflict")
    assert "Another operation is in progress" in message
    status, code, _ = error_of(blue.put_deployment("credit", "yellow"))
    assert (status, code) == (409, "Conflict")
    response = blue.call("DELETE", blue.ws("/onlineEndpoints/credit"))
    assert error_of(response)[:2] == (409, "Conflict")


def test_mirror_traffic_rules(blue: Arm) -> None:
    blue.create_deployment("credit", "green")
    blue.wait(blue.set_traffic("credit", {"blue": 100, "green": 0}))
    status, _, message = error_of(blue.set_traffic("credit", {"blue": 100}, {"green": 60}))
    assert status == 400 and "at most 50% can be mirrored" in message
    status, _, message = error_of(blue.set_traffic("credit", {"blue": 100}, {"blue": 10}))
    assert status == 400 and "mirror traffic can only go to a deployment with 0% live" in message
    response = blue.set_traffic("credit", {"blue": 100, "green": 0}, {"green": 20})
    assert response.status_code == 200
    blue.wait(response)
    endpoint = blue.call("GET", blue.ws("/onlineEndpoints/credit")).json()
    assert endpoint["properties"]["mirrorTraffic"] == {"green": 20}


def test_deployment_needs_an_existing_endpoint(emulator: Emulator, arm: Arm) -> None:
    response = arm.put_deployment("nowhere", "blue")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"


def test_deployment_needs_a_registered_environment(arm: Arm) -> None:
    arm.create_endpoint("credit")
    response = arm.put_deployment(
        "credit", "blue", environment=arm.ws("/environments/x/versions/1")
    )
    status, _, message = error_of(response)
    assert status == 400 and "was not found" in message


def test_request_timeout_limit(arm: Arm) -> None:
    arm.create_endpoint("credit")
    body = {
        "location": arm.emulator["location"],
        "properties": {
            "environmentId": arm.create_environment(),
            "instanceType": "Standard_DS3_v2",
            "endpointComputeType": "Managed",
            "requestSettings": {"requestTimeout": "PT4M"},
        },
        "sku": {"capacity": 1},
    }
    response = arm.call(
        "PUT", arm.ws("/onlineEndpoints/credit/deployments/blue"), body, DEPLOYMENTS_API
    )
    status, _, message = error_of(response)
    assert status == 400 and "requestTimeout must be between 1 ms and 180 s" in message


def test_deleting_a_missing_endpoint_is_204(arm: Arm) -> None:
    assert arm.call("DELETE", arm.ws("/onlineEndpoints/never-was")).status_code == 204


def test_deleting_an_endpoint_deletes_its_deployments(arm: Arm) -> None:
    arm.create_endpoint("credit")
    arm.create_deployment("credit", "blue")
    response = arm.call("DELETE", arm.ws("/onlineEndpoints/credit"))
    assert response.status_code == 202
    assert "Location" in response.headers and "Azure-AsyncOperation" in response.headers
    assert arm.wait(response)["status"] == "Succeeded"
    assert arm.call("GET", arm.ws("/onlineEndpoints/credit")).status_code == 404


def test_unknown_workspace_resource_group_and_subscription(arm: Arm) -> None:
    sub, rg, ws = (arm.emulator[k] for k in ("subscription_id", "resource_group", "workspace"))
    base = "/providers/Microsoft.MachineLearningServices/workspaces"
    cases = [
        (f"/subscriptions/{sub}/resourceGroups/{rg}{base}/nope", "ResourceNotFound"),
        (f"/subscriptions/{sub}/resourceGroups/nope{base}/{ws}", "ResourceGroupNotFound"),
        (
            f"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/{rg}{base}/{ws}",
            "SubscriptionNotFound",
        ),
    ]
    for path, code in cases:
        response = arm.call("GET", path, api_version="2024-10-01-preview")
        assert (response.status_code, response.json()["error"]["code"]) == (404, code)


def test_api_version_is_required(arm: Arm) -> None:
    response = arm.session.get(
        arm.base + arm.ws(), headers={"Authorization": f"Bearer {arm.token}"}, timeout=30
    )
    assert error_of(response)[:2] == (400, "MissingApiVersionParameter")


def test_a_missing_permission_is_403(emulator: Emulator, arm: Arm) -> None:
    action = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/write"
    emulator.admin("POST", "/authorization", {"deny": [action]})
    with pytest.raises(HttpResponseError, match="does not have authorization") as caught:
        emulator.ml_client().online_endpoints.begin_create_or_update(
            ManagedOnlineEndpoint(name="denied")
        ).result()
    assert caught.value.status_code == 403
    assert action in str(caught.value)


def test_an_endpoints_identity_cannot_be_changed(arm: Arm) -> None:
    """ "The identity for an endpoint is immutable" (how-to-access-resources-from-endpoints-
    managed-identities.md); the tags of the same request are not applied either."""
    arm.create_endpoint("keeps")
    identity = (
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/"
        "userAssignedIdentities/u"
    )
    response = arm.call(
        "PUT",
        arm.ws("/onlineEndpoints/keeps"),
        {
            "location": arm.emulator["location"],
            "tags": {"changed": "yes"},
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}},
            "properties": {"authMode": "Key", "traffic": {}},
        },
    )
    status, code, message = error_of(response)
    assert (status, code) == (400, "BadArgument")
    assert "cannot be changed" in message
    endpoint = arm.call("GET", arm.ws("/onlineEndpoints/keeps")).json()
    assert endpoint["identity"]["type"] == "SystemAssigned"
    assert endpoint["tags"] == {}


def test_the_instance_type_of_a_deployment_cannot_be_updated(blue: Arm) -> None:
    """Azure/AML-Kubernetes#247: an update cannot change the instance type."""
    response = blue.put_deployment("credit", "blue", instance_type="Standard_DS2_v2")
    status, code, message = error_of(response)
    assert (status, code, message) == (400, "BadRequest", "The request is invalid.")
    [detail] = response.json()["error"]["details"]
    assert detail["target"] == "properties.instanceType"
    assert "cannot be updated" in detail["message"]


def test_egress_public_network_access_cannot_be_updated(emulator: Emulator) -> None:
    """concept-secure-online-endpoint.md: changing the flag on an update fails."""
    ml = emulator.ml_client()
    ml.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="egress")).result()

    def deployment(egress: str) -> ManagedOnlineDeployment:
        return sdk_blue("egress", Arm(emulator).image, egress_public_network_access=egress)

    ml.online_deployments.begin_create_or_update(deployment("enabled")).result()
    with pytest.raises(HttpResponseError) as caught:
        ml.online_deployments.begin_create_or_update(deployment("disabled")).result()
    assert caught.value.status_code == 400
    assert "egressPublicNetworkAccess of deployment 'blue' cannot be updated" in str(caught.value)


def test_liveness_success_threshold_is_fixed_at_one(arm: Arm) -> None:
    arm.create_endpoint("probes")
    probe = {"initialDelay": "PT0.2S", "period": "PT0.2S", "timeout": "PT1S", "successThreshold": 2}
    status, code, message = error_of(arm.put_deployment("probes", "blue", probe=probe))
    assert (status, code) == (400, "BadArgument")
    assert "fixed as 1" in message


def test_usages_report_family_quota_and_the_reserved_cores_in_use(
    emulator: Emulator, blue: Arm
) -> None:
    """azure-rest-api-specs examples/Usage/list.json: one vmFamily entry per family."""
    emulator.admin("POST", "/quota", {"standardDSv2Family": 20})
    usages = list(emulator.ml_client().compute.list_usage())
    [dsv2] = [usage for usage in usages if usage.name["value"] == "standardDSv2Family"]
    # azure-ai-ml's Usage keeps the JSON spelling of its fields
    assert (dsv2.currentValue, dsv2.limit, dsv2.unit) == (8, 20, "Count")
    assert dsv2.type == "Microsoft.MachineLearningServices/vmFamily/usages"


def test_endpoints_per_subscription_and_region_are_limited(emulator: Emulator, arm: Arm) -> None:
    emulator.admin("POST", "/limits", {"endpoints_per_subscription_region": 1})
    arm.create_endpoint("first")
    response = arm.call(
        "PUT",
        arm.ws("/onlineEndpoints/second"),
        {"location": arm.emulator["location"], "properties": {"authMode": "Key"}},
    )
    status, _, message = error_of(response)
    assert status == 400 and "the limit is 1 per subscription and region" in message


def test_deployments_per_subscription_and_region_are_limited(emulator: Emulator, blue: Arm) -> None:
    emulator.admin("POST", "/limits", {"deployments_per_subscription_region": 1})
    blue.create_endpoint("second")
    status, _, message = error_of(blue.put_deployment("second", "blue"))
    assert status == 400 and "already has 1 deployments in" in message
