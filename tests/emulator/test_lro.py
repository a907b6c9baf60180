"""Long-running operations in both timing profiles, as the SDK sees them."""

from __future__ import annotations

import time

from azure.ai.ml.entities import ManagedOnlineEndpoint

from emulator.client import Emulator
from tests.emulator.arm import Arm


def test_fast_profile_asks_for_polls_every_200_ms(emulator: Emulator) -> None:
    arm = Arm(emulator)
    response = arm.call(
        "PUT",
        arm.ws("/onlineEndpoints/lro-fast"),
        {"location": emulator["location"], "properties": {"authMode": "Key"}},
    )
    assert response.status_code == 201
    assert response.headers["retry-after-ms"] == "200"
    assert "Retry-After" not in response.headers  # it would win over retry-after-ms
    assert response.headers["x-ms-async-operation-timeout"] == "PT30M"
    assert response.headers["Location"].startswith(arm.url(arm.ws("/onlineEndpoints/lro-fast"), ""))
    assert response.json()["properties"]["provisioningState"] == "Creating"
    assert response.json()["properties"]["scoringUri"] is None
    status = arm.session.get(
        response.headers["Azure-AsyncOperation"],
        headers={"Authorization": f"Bearer {arm.token}"},
        timeout=30,
    )
    assert status.json()["status"] == "InProgress"
    assert status.headers["retry-after-ms"] == "200"
    assert status.json()["endTime"] == "0001-01-01T00:00:00+00:00"
    assert arm.wait(response)["status"] == "Succeeded"


def test_azure_profile_behaves_like_the_real_service(azure_emulator: Emulator) -> None:
    arm = Arm(azure_emulator)
    started = time.monotonic()
    response = arm.call(
        "PUT",
        arm.ws("/onlineEndpoints/lro-azure"),
        {"location": azure_emulator["location"], "properties": {"authMode": "Key"}},
    )
    assert response.status_code == 201
    assert "Retry-After" not in response.headers
    assert "retry-after-ms" not in response.headers
    status = arm.session.get(
        response.headers["Azure-AsyncOperation"],
        headers={"Authorization": f"Bearer {arm.token}"},
        timeout=30,
    ).json()
    assert status["status"] == "Updating"
    started = time.monotonic()
    assert arm.wait(response)["status"] == "Succeeded"
    # 60 s of Azure's endpoint creation at time scale 0.02
    assert time.monotonic() - started + 0.2 >= 0.8


def test_azure_profile_with_the_sdk_polling_every_second(azure_emulator: Emulator) -> None:
    # Without Retry-After the SDK would wait 30 s between polls; polling_interval=1 is how a
    # client notices completion promptly.
    ml = azure_emulator.ml_client(polling_interval=1)
    started = time.monotonic()
    endpoint = ml.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name="lro-sdk")
    ).result()
    elapsed = time.monotonic() - started
    assert endpoint.provisioning_state == "Succeeded"
    assert elapsed < 10


def test_azure_profile_has_azures_default_quotas_and_provisioning_times(
    azure_emulator: Emulator,
) -> None:
    """how-to-manage-quotas.md: dedicated cores default to 24-300 per family (the emulator
    takes 24), GPU families to 0; the recordings time endpoint create ~60 s, delete ~10 s."""
    usages = {
        usage.name["value"]: usage.limit
        for usage in azure_emulator.ml_client().compute.list_usage()
    }
    assert usages["standardDSv2Family"] == 24
    assert usages["standardNCADSA100v4Family"] == 0
    seconds = azure_emulator.timing()["seconds"]
    assert (seconds["endpoint_create"], seconds["endpoint_delete"]) == (60.0, 10.0)
    assert seconds["deployment_create"] == 300.0  # an assumption: see emulator/README.md
