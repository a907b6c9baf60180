"""ARM's request budget (emulator/arm/throttling.py): token buckets per principal, region and
kind of request, 429 with Retry-After once one is spent; on in the `azure` profile, off in
`fast`."""

from __future__ import annotations

import time

import pytest

from emulator.client import Emulator
from tests.emulator.arm import Arm

# ARM, Entra and GitHub alone: the emulator without a data plane (tests/conftest.py).
pytestmark = pytest.mark.control_plane


def test_a_spent_read_budget_answers_429_with_retry_after_until_it_refills(
    emulator: Emulator,
) -> None:
    emulator.timing(arm_buckets={"reads": [3, 2.0], "writes": [200, 10], "deletes": [200, 10]})
    arm = Arm(emulator)
    answers = [arm.call("GET", arm.ws("/onlineEndpoints")) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ms-ratelimit-remaining-subscription-reads"] for a in answers[:3]] == [
        "2",
        "1",
        "0",
    ]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    assert "Please try again after '1' seconds" in refused.json()["error"]["message"]
    assert refused.headers["Retry-After"] == "1"
    # writes are a budget of their own
    created = arm.call(
        "PUT",
        arm.ws("/onlineEndpoints/budget"),
        {"location": emulator["location"], "properties": {"authMode": "Key"}},
    )
    assert created.status_code == 201, created.text
    assert created.headers["x-ms-ratelimit-remaining-subscription-writes"] == "199"
    time.sleep(1.0)  # 2 tokens a second
    assert arm.call("GET", arm.ws("/onlineEndpoints")).status_code == 200


def test_the_azure_profile_has_the_documented_budget_and_fast_none(emulator: Emulator) -> None:
    assert emulator.timing()["arm_buckets"] is None
    arm = Arm(emulator)
    assert "x-ms-ratelimit-remaining-subscription-reads" not in arm.call("GET", arm.ws()).headers
    azure = emulator.timing(profile="azure")
    assert azure["arm_buckets"] == {
        "reads": [250, 25.0],
        "writes": [200, 10.0],
        "deletes": [200, 10.0],
    }
    assert arm.call("GET", arm.ws()).headers["x-ms-ratelimit-remaining-subscription-reads"] == (
        "249"
    )
