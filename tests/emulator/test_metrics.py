"""Azure Monitor's metrics API, read with azure-mgmt-monitor's MonitorManagementClient, counts the
requests the gateway really served: per deployment and status on the endpoint, mirrored copies
on the deployment they reached, after the ingestion delay."""

from __future__ import annotations

import datetime
import time
from types import SimpleNamespace
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.monitor import MonitorManagementClient

from emulator.client import Emulator
from tests.emulator.arm import Arm
from tests.emulator.test_gateway import arm as gateway_arm
from tests.emulator.test_gateway import key as gateway_key
from tests.emulator.test_gateway import score
from tools.reliability.autoscaled import monitor as monitor_client


@pytest.fixture
def arm(emulator: Emulator, image: str) -> Arm:
    """An endpoint `scoring`, as in test_gateway.py."""
    return gateway_arm.__wrapped__(emulator, image)  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def key(arm: Arm) -> str:
    return gateway_key.__wrapped__(arm)  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def monitor(emulator: Emulator) -> MonitorManagementClient:
    return monitor_client(emulator)


def _endpoint_id(emulator: Emulator, deployment: str | None = None) -> str:
    resource = (
        f"/subscriptions/{emulator['subscription_id']}/resourceGroups/"
        f"{emulator['resource_group']}/providers/Microsoft.MachineLearningServices/workspaces/"
        f"{emulator['workspace']}/onlineEndpoints/scoring"
    )
    return resource + (f"/deployments/{deployment}" if deployment else "")


def _totals(
    monitor: MonitorManagementClient, resource: str, metric: str, **query: Any
) -> dict[str, Any]:
    """Per series: `total`, the minutes' values summed (a count: RequestsPerMinute's
    per-minute averages), and `average`, their mean (a latency percentile over the span)."""
    end = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=5)
    start = end - datetime.timedelta(minutes=10)
    result = monitor.metrics.list(
        resource,
        timespan=f"{start.isoformat()}/{end.isoformat()}",
        interval="PT1M",
        metricnames=metric,
        aggregation="Average",
        **query,
    )
    (found,) = result.value
    series = {}
    for element in found.timeseries:
        key = tuple(v.value for v in element.metadatavalues or [])
        values = [p.average for p in element.data or [] if p.average is not None]
        series[key] = SimpleNamespace(
            total=sum(values), average=sum(values) / len(values) if values else None
        )
    return {"unit": found.unit, "name": found.name.value, "series": series}


def _wait_for(condition: Any, seconds: float = 20) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "the metrics never showed the requests"
        time.sleep(0.5)


def test_requests_per_deployment_and_status_class(
    emulator: Emulator, arm: Arm, key: str, monitor: MonitorManagementClient
) -> None:
    arm.create_deployment("scoring", "blue")
    arm.create_deployment("scoring", "green", variables={"SCORE_STATUS": "500"})
    arm.wait(arm.set_traffic("scoring", {"blue": 50, "green": 50}))
    answers = [score(emulator, key).status_code for _ in range(30)]
    ok, failed = answers.count(200), answers.count(424)
    assert ok + failed == 30 and ok and failed

    def counted() -> dict[str, Any]:
        return _totals(
            monitor,
            _endpoint_id(emulator),
            "RequestsPerMinute",
            filter="deployment eq '*' and statusCodeClass eq '*'",
        )

    _wait_for(lambda: sum(p.total for p in counted()["series"].values()) == 30)
    found = counted()
    assert found["unit"] == "Count"
    assert {k: p.total for k, p in found["series"].items()} == {
        ("blue", "2xx"): ok,
        ("green", "4xx"): failed,  # the model's 500 reaches clients as 424
    }
    # The model's own status is a dimension of its own.
    model = _totals(
        monitor,
        _endpoint_id(emulator),
        "RequestsPerMinute",
        filter="deployment eq 'green' and modelStatusCode eq '*'",
    )
    assert {k: p.total for k, p in model["series"].items()} == {("green", "500"): failed}
    latency = _totals(
        monitor, _endpoint_id(emulator), "RequestLatency_P99", filter="deployment eq 'blue'"
    )
    assert latency["unit"] == "Milliseconds"
    assert latency["series"][("blue",)].average > 0


def test_mirrored_copies_count_on_their_deployment_not_on_the_endpoint(
    emulator: Emulator, arm: Arm, key: str, monitor: MonitorManagementClient
) -> None:
    arm.create_deployment("scoring", "blue")
    arm.create_deployment("scoring", "green", variables={"SCORE_STATUS": "500"})
    arm.wait(arm.set_traffic("scoring", {"blue": 100}, mirror={"green": 50}))
    answers = [score(emulator, key).status_code for _ in range(30)]
    assert answers == [200] * 30  # clients never see the mirror's answers

    def green() -> dict[str, Any]:
        return _totals(
            monitor,
            _endpoint_id(emulator, "green"),
            "RequestsPerMinute",
            filter="envoy_response_code eq '*'",
        )

    _wait_for(lambda: bool(green()["series"]))
    mirrored = green()["series"][("500",)].total
    assert 0 < mirrored < 30

    def endpoint() -> dict[tuple[str, ...], float]:
        found = _totals(
            monitor,
            _endpoint_id(emulator),
            "RequestsPerMinute",
            filter="deployment eq '*'",
        )
        return {k: p.total for k, p in found["series"].items()}

    _wait_for(lambda: sum(endpoint().values()) >= 30)
    assert endpoint() == {("blue",): 30}


def test_requests_show_only_after_the_ingestion_delay(
    emulator: Emulator, arm: Arm, key: str, monitor: MonitorManagementClient
) -> None:
    emulator.timing(seconds={"metrics_ingestion": 600})
    arm.create_deployment("scoring", "blue")
    arm.wait(arm.set_traffic("scoring", {"blue": 100}))
    assert score(emulator, key).status_code == 200
    time.sleep(1.5)
    found = _totals(monitor, _endpoint_id(emulator), "RequestsPerMinute")
    assert found["series"][()].total == 0
    emulator.timing(seconds={"metrics_ingestion": 0})
    found = _totals(monitor, _endpoint_id(emulator), "RequestsPerMinute")
    assert found["series"][()].total == 1


def test_unknown_metrics_and_dimensions_are_refused_as_azure_does(
    emulator: Emulator, arm: Arm, monitor: MonitorManagementClient
) -> None:
    with pytest.raises(HttpResponseError) as unknown:
        _totals(monitor, _endpoint_id(emulator), "CpuUtilizationPercentage")
    assert unknown.value.status_code == 400
    assert "Valid metrics: RequestsPerMinute" in str(unknown.value)
    with pytest.raises(HttpResponseError) as dimension:
        _totals(monitor, _endpoint_id(emulator), "RequestsPerMinute", filter="region eq '*'")
    assert dimension.value.status_code == 400
    # A grain Azure does not have (here: none at all) is refused, not looped over.
    with pytest.raises(HttpResponseError) as grain:
        monitor.metrics.list(
            _endpoint_id(emulator), interval="PT0S", metricnames="RequestsPerMinute"
        )
    assert grain.value.status_code == 400
    assert "PT1M" in str(grain.value)
