"""A deployment's dataCollector as the ARM side keeps it, and the data assets azure-ai-ml
registers for it (OnlineDeploymentOperations._register_collection_data_assets)."""

from __future__ import annotations

import pytest
from azure.ai.ml.entities import (
    Data,
    DataCollector,
    DeploymentCollection,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
)
from azure.core.exceptions import HttpResponseError

from emulator.client import Emulator
from tests.emulator.arm import Arm
from tests.emulator.test_sdk_flow import sdk_blue

pytestmark = pytest.mark.control_plane


def deployment(emulator: Emulator, collector: DataCollector) -> ManagedOnlineDeployment:
    return sdk_blue("collects", Arm(emulator).image, data_collector=collector)


def test_a_collector_is_kept_with_a_data_asset_per_collection(emulator: Emulator) -> None:
    ml = emulator.ml_client()
    ml.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="collects")).result()
    collector = DataCollector(
        collections={
            "request": DeploymentCollection(enabled="true"),
            "model_inputs": DeploymentCollection(enabled="false"),
        },
        sampling_rate=0.25,
        rolling_rate="day",
    )
    ml.online_deployments.begin_create_or_update(deployment(emulator, collector)).result()

    kept = ml.online_deployments.get("blue", "collects").data_collector
    # kept in the service's spellings (the SDK sent "day" and "enabled")
    assert kept.sampling_rate == 0.25 and kept.rolling_rate == "Day"
    assert {name: c.enabled for name, c in kept.collections.items()} == {
        "request": "true",
        "model_inputs": "false",
    }
    request = ml.data.get("collects-blue-request", "1")
    assert request.path.endswith("/paths/modelDataCollector/collects/blue/request")
    assert kept.collections["request"].data.endswith("/data/collects-blue-request/versions/1")

    # a data version is immutable like every asset version: its path cannot change
    moved = Data(
        name="collects-blue-request",
        version="1",
        path="azureml://datastores/workspaceblobstore/paths/elsewhere",
    )
    with pytest.raises(Exception, match="Asset paths cannot be updated"):
        ml.data.create_or_update(moved)


@pytest.mark.parametrize(
    ("collector", "refusal"),
    [
        (DataCollector(collections={}), "dataCollector.collections is required"),
        (
            DataCollector(
                collections={"request": DeploymentCollection(enabled="true")},
                rolling_rate="weekly",
            ),
            "Invalid rollingRate 'weekly'",
        ),
    ],
)
def test_what_the_specification_refuses_is_refused(
    emulator: Emulator, collector: DataCollector, refusal: str
) -> None:
    ml = emulator.ml_client()
    ml.online_endpoints.begin_create_or_update(ManagedOnlineEndpoint(name="collects")).result()
    with pytest.raises(HttpResponseError) as caught:
        ml.online_deployments.begin_create_or_update(deployment(emulator, collector)).result()
    assert caught.value.status_code == 400
    assert refusal in str(caught.value)
