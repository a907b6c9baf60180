"""Azure Monitor autoscale settings on the emulator's ARM, read and written with
azure-mgmt-monitor's MonitorManagementClient, and enforced: a RequestsPerMinute rule scales a
deployment out under load and back in after it, without a failed request; the deployment's CPU,
memory and capacity metrics come from its containers."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.monitor.models import (
    AutoscaleProfile,
    AutoscaleSettingResource,
    AutoscaleSettingResourcePatch,
    MetricTrigger,
    ScaleAction,
    ScaleCapacity,
    ScaleRule,
)

from emulator.client import Emulator
from tests.emulator.arm import Arm
from tests.emulator.test_gateway import score
from tests.emulator.test_metrics import _endpoint_id, _wait_for, arm, key, monitor

__all__ = ["arm", "key", "monitor"]  # fixtures shared with test_metrics.py

MINUTE = datetime.timedelta(minutes=1)


def _rule(
    resource: str,
    direction: str,
    operator: str,
    threshold: float,
    metric: str = "RequestsPerMinute",
    window: datetime.timedelta = 2 * MINUTE,
    value: str = "1",
) -> ScaleRule:
    return ScaleRule(
        metric_trigger=MetricTrigger(
            metric_name=metric,
            metric_resource_uri=resource,
            time_grain=MINUTE,
            statistic="Average",
            time_window=window,
            time_aggregation="Average",
            operator=operator,
            threshold=threshold,
        ),
        scale_action=ScaleAction(
            direction=direction, type="ChangeCount", value=value, cooldown=MINUTE
        ),
    )


def _setting(
    emulator: Emulator,
    rules: list[ScaleRule],
    minimum: int = 1,
    maximum: int = 2,
    default: int = 1,
    enabled: bool = True,
) -> AutoscaleSettingResource:
    return AutoscaleSettingResource(
        location=emulator["location"],
        target_resource_uri=_endpoint_id(emulator, "blue"),
        enabled=enabled,
        tags={"managed-by": "test"},
        profiles=[
            AutoscaleProfile(
                name="default",
                capacity=ScaleCapacity(
                    minimum=str(minimum), maximum=str(maximum), default=str(default)
                ),
                rules=rules,
            )
        ],
    )


def _capacity(arm: Arm) -> tuple[int, str]:
    from tests.emulator.arm import DEPLOYMENTS_API

    body = arm.call(
        "GET", arm.ws("/onlineEndpoints/scoring/deployments/blue"), api_version=DEPLOYMENTS_API
    ).json()
    return int(body["sku"]["capacity"]), str(body["properties"]["provisioningState"])


def _instances(emulator: Emulator) -> list[str]:
    (endpoint,) = emulator.admin("GET", "/state")["endpoints"]
    (deployment,) = endpoint["deployments"]
    return [i["name"] for i in deployment["instances"] if i["ready"]]


def test_settings_are_created_read_updated_listed_and_deleted(
    emulator: Emulator, arm: Arm, monitor: MonitorManagementClient
) -> None:
    arm.create_deployment("scoring", "blue")
    group = emulator["resource_group"]
    resource = _endpoint_id(emulator, "blue")
    setting = _setting(
        emulator,
        [_rule(resource, "Increase", "GreaterThan", 70, metric="CpuUtilizationPercentage")],
        enabled=False,
    )
    created = monitor.autoscale_settings.create_or_update(group, "blue-autoscale", setting)
    assert created.name == "blue-autoscale"
    assert created.type == "Microsoft.Insights/autoscaleSettings"
    assert created.target_resource_uri == resource and created.enabled is False
    (profile,) = created.profiles
    assert profile.capacity.maximum == "2"
    assert profile.rules[0].metric_trigger.time_window == 2 * MINUTE
    read = monitor.autoscale_settings.get(group, "blue-autoscale")
    assert read.tags == {"managed-by": "test"}
    updated = monitor.autoscale_settings.update(
        group, "blue-autoscale", AutoscaleSettingResourcePatch(enabled=True, tags={"a": "b"})
    )
    assert updated.enabled is True and updated.tags == {"a": "b"}
    assert updated.profiles[0].name == "default"
    listed = list(monitor.autoscale_settings.list_by_resource_group(group))
    assert [s.name for s in listed] == ["blue-autoscale"]
    monitor.autoscale_settings.delete(group, "blue-autoscale")
    with pytest.raises(ResourceNotFoundError):
        monitor.autoscale_settings.get(group, "blue-autoscale")
    monitor.autoscale_settings.delete(group, "blue-autoscale")  # 204: nothing to delete


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"minimum": 2, "default": 1}, "BadRequest", "The minimum capacity value '2'"),
        ({"value": "5"}, "InvalidActionValue", "invalid scale action value ('5')"),
        ({"window": datetime.timedelta(hours=13)}, "BadRequest", "timeWindow"),
        ({"profiles": 21}, "BadRequest", "A maximum of 20 profiles"),
        ({"rules": 11}, "BadRequest", "A maximum of 10 rules"),
        ({"target": "missing"}, "TargetResourceNotFound", "missing"),
    ],
)
def test_settings_azure_refuses_are_refused(
    emulator: Emulator,
    arm: Arm,
    monitor: MonitorManagementClient,
    change: dict[str, Any],
    code: str,
    words: str,
) -> None:
    arm.create_deployment("scoring", "blue")
    resource = _endpoint_id(emulator, "blue")
    rule = _rule(
        resource,
        "Increase",
        "GreaterThan",
        10,
        window=change.get("window", 2 * MINUTE),
        value=change.get("value", "1"),
    )
    setting = _setting(
        emulator,
        [rule] * change.get("rules", 1),
        minimum=change.get("minimum", 1),
        default=change.get("default", 1),
    )
    setting.profiles = setting.profiles * change.get("profiles", 1)
    if "target" in change:
        setting.target_resource_uri = resource + change["target"]
    with pytest.raises(HttpResponseError) as refused:
        monitor.autoscale_settings.create_or_update(emulator["resource_group"], "s", setting)
    assert refused.value.status_code == 400
    assert refused.value.error is not None and refused.value.error.code == code
    assert words in str(refused.value)


def test_cpu_memory_and_capacity_come_from_the_instances(
    emulator: Emulator, arm: Arm, key: str, monitor: MonitorManagementClient
) -> None:
    arm.create_deployment("scoring", "blue")
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    for _ in range(60):
        assert score(emulator, key).status_code == 200

    def usage(metric: str, split: str = "instanceId eq '*'") -> dict[tuple[str, ...], Any]:
        end = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=5)
        found = monitor.metrics.list(
            _endpoint_id(emulator, "blue"),
            timespan=f"{(end - 10 * MINUTE).isoformat()}/{end.isoformat()}",
            interval="FULL",
            metricnames=metric,
            aggregation="Average,Maximum",
            filter=split,
        ).value[0]
        assert found.unit in ("Percent", "Count")
        return {
            tuple(str(v.value) for v in series.metadatavalues or []): series.data[0]
            for series in found.timeseries
            if series.data and series.data[0].maximum is not None
        }

    _wait_for(lambda: any(p.maximum > 0 for p in usage("CpuUtilizationPercentage").values()))
    cpu = usage("CpuUtilizationPercentage")
    assert len(cpu) == 1 and 0 < max(p.maximum for p in cpu.values()) <= 100
    memory = usage("CpuMemoryUtilizationPercentage")
    assert all(0 < p.average < 100 for p in memory.values())
    capacity = usage("DeploymentCapacity", split="State eq '*'")
    assert capacity[("Ready",)].maximum == 1


def _load(
    emulator: Emulator, key: str, stop: threading.Event, limit: int
) -> Callable[[], list[int]]:
    statuses: list[int] = []
    lock = threading.Lock()

    def send() -> None:
        while not stop.is_set():
            with lock:
                if len(statuses) >= limit:
                    return
            status = score(emulator, key).status_code
            with lock:
                statuses.append(status)

    workers = [threading.Thread(target=send, daemon=True) for _ in range(3)]
    for worker in workers:
        worker.start()

    def join() -> list[int]:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        return statuses

    return join


def test_requests_per_minute_scale_the_deployment_out_and_back_in_without_a_failed_request(
    emulator: Emulator, arm: Arm, key: str, monitor: MonitorManagementClient
) -> None:
    arm.create_deployment("scoring", "blue")
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    (first,) = _instances(emulator)
    resource = _endpoint_id(emulator, "blue")
    # One minute of a rule lasts one second in the fast profile: > 10 requests a "minute" is
    # > 10 a second, averaged over two such minutes.
    monitor.autoscale_settings.create_or_update(
        emulator["resource_group"],
        "blue-autoscale",
        _setting(
            emulator,
            [
                _rule(resource, "Increase", "GreaterThan", 10),
                _rule(resource, "Decrease", "LessThan", 2),
            ],
        ),
    )
    stop = threading.Event()
    join = _load(emulator, key, stop, limit=800)
    deadline = time.monotonic() + 30
    while _capacity(arm) != (2, "Succeeded"):
        assert time.monotonic() < deadline, "never scaled out"
        time.sleep(0.2)
    scaled = _instances(emulator)
    assert len(scaled) == 2 and first in scaled  # the first instance kept serving
    time.sleep(1)  # some load on both instances
    statuses = join()
    assert statuses and set(statuses) == {200}, statuses
    deadline = time.monotonic() + 30
    while _capacity(arm) != (1, "Succeeded"):
        assert time.monotonic() < deadline, "never scaled back in"
        time.sleep(0.2)
    assert len(_instances(emulator)) == 1
    assert score(emulator, key).status_code == 200
