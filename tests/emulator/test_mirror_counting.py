"""Whether mirrored copies count in the metrics of the deployment they reached is not
documented by Azure: the emulator's switch (admin API `/monitor`) gives either answer, read
through azure-mgmt-monitor's MonitorManagementClient."""

from __future__ import annotations

import time

import pytest
from azure.mgmt.monitor import MonitorManagementClient

from emulator.client import AdminError, Emulator
from tests.emulator.arm import Arm
from tests.emulator.test_gateway import score
from tests.emulator.test_metrics import _endpoint_id, _totals, _wait_for, arm, key, monitor

__all__ = ["arm", "key", "monitor"]  # the fixtures of test_metrics.py, used here


def _requests(monitor: MonitorManagementClient, emulator: Emulator, deployment: str) -> float:
    """What Azure Monitor counted on the deployment: its minutes' RequestsPerMinute summed."""
    found = _totals(monitor, _endpoint_id(emulator, deployment), "RequestsPerMinute")
    return float(found["series"][()].total)


def test_mirrored_copies_count_on_their_deployment_only_when_the_switch_says_so(
    emulator: Emulator, arm: Arm, key: str, monitor: MonitorManagementClient
) -> None:
    assert emulator.admin("GET", "/monitor") == {"mirrored_requests_counted": True}
    arm.create_deployment("scoring", "blue")
    arm.create_deployment("scoring", "green")
    arm.wait(arm.set_traffic("scoring", {"blue": 100}, mirror={"green": 50}))
    emulator.count_mirrored_requests(False)
    assert all(score(emulator, key).status_code == 200 for _ in range(30))
    _wait_for(lambda: _requests(monitor, emulator, "blue") > 0)
    time.sleep(1.0)  # the mirrored copies are answered after the clients' requests
    assert _requests(monitor, emulator, "green") == 0, "mirrored copies counted though off"

    emulator.count_mirrored_requests(True)
    assert all(score(emulator, key).status_code == 200 for _ in range(30))
    _wait_for(lambda: _requests(monitor, emulator, "green") > 0)


def test_the_switch_takes_only_true_or_false(emulator: Emulator) -> None:
    with pytest.raises(AdminError, match="400"):
        emulator.admin("POST", "/monitor", {"mirrored_requests_counted": "no"})
    assert emulator.admin("GET", "/monitor") == {"mirrored_requests_counted": True}
