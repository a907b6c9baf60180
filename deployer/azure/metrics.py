"""What a deployment served, from Azure Monitor's metrics API on ARM (azure-mgmt-monitor's
MonitorManagementClient, `metrics.list`, api-version 2024-02-01), through the run's credential.

azure-monitor-query's MetricsQueryClient was the usual client for this; its 2.0 removed it and
sends its users here (azure-monitor-query CHANGELOG, 2.0.0). The names are Azure's supported
metrics of Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments:
`RequestsPerMinute` (unit Count, dimension `envoy_response_code`, the status the client got)
and `RequestLatency_P99` (Milliseconds), both offering the Average aggregation only (the
supported-metrics table's "Aggregation" column; Azure Monitor refuses another).

Azure keeps one value a minute. `RequestsPerMinute` is "the number of requests sent to online
deployment within a minute": read per minute (PT1M) its Average is that minute's count, and the
requests of a window are the sum over its minutes — per-minute average times minutes, without
counting a minute that has no value. `RequestLatency_P99` over the window (FULL) is "the
average P99 request latency aggregated by all request latency values collected over the
selected time period": Azure's own P99 of a span, the mean of its minutes' P99."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from deployer.analysis import Query, Served, is_error
from deployer.auth import SignIn
from deployer.azure.failures import Translated
from deployer.cloud import Cloud
from deployer.errors import AzureError

if TYPE_CHECKING:
    from azure.mgmt.monitor import MonitorManagementClient

REQUESTS = "RequestsPerMinute"
P99 = "RequestLatency_P99"
STATUS_SERIES = 1000  # HTTP has fewer status codes than this


class AzureMonitor:
    """`deployer.analysis.Metrics` over Azure Monitor."""

    def __init__(self, cloud: Cloud, sign_in: SignIn, subscription_id: str, workspace_id: str):
        self.cloud = cloud
        self.sign_in = sign_in
        self.subscription_id = subscription_id
        self.workspace_id = workspace_id
        self._client: MonitorManagementClient | None = None

    @property
    def client(self) -> MonitorManagementClient:
        if self._client is None:
            self._client = monitor_client(self.cloud, self.sign_in, self.subscription_id)
        return self._client

    def served(self, query: Query) -> Served:
        deployment = query.deployment
        resource = f"{self.workspace_id}/onlineEndpoints/{query.endpoint}/deployments/{deployment}"
        timespan = f"{_iso(query.start)}/{_iso(query.end)}"
        try:
            by_status, latency = self._read(resource, timespan, deployment)
        except AzureError as failure:
            if failure.status == 403:
                failure.hint = (
                    "rollout.analysis reads the deployments' metrics: grant the identity "
                    "Monitoring Reader (Microsoft.Insights/metrics/read) on the workspace"
                )
            raise
        requests = errors = 0
        for series in _series(by_status):
            status = _status(series)
            count = round(sum(point.average or 0 for point in series.data or []))
            requests += count
            if status is not None and is_error(status, query.count_4xx):
                errors += count
        values = [
            point.average
            for series in _series(latency)
            for point in series.data or []
            if point.average is not None
        ]
        return Served(requests, errors, max(values) if values and requests else None)

    def _read(self, resource: str, timespan: str, deployment: str) -> tuple[Any, Any]:
        """The requests by the status their clients got, and the p99, over `timespan`."""
        with Translated(f"reading the metrics of deployment {deployment}", self.sign_in):
            by_status = self.client.metrics.list(
                resource,
                timespan=timespan,
                interval="PT1M",
                metricnames=REQUESTS,
                aggregation="Average",
                filter="envoy_response_code eq '*'",
                # at most 10 series without it (Metrics - List, `top`): one per status code,
                # and a deployment can answer more than ten
                top=STATUS_SERIES,
            )
            latency = self.client.metrics.list(
                resource, timespan=timespan, interval="FULL", metricnames=P99, aggregation="Average"
            )
        return by_status, latency


def monitor_client(cloud: Cloud, sign_in: SignIn, subscription_id: str) -> MonitorManagementClient:
    """azure-mgmt-monitor's client on the cloud's ARM, with the run's credential."""
    from azure.mgmt.monitor import MonitorManagementClient

    options: dict[str, Any] = {}
    if cloud.ca_bundle:
        options["connection_verify"] = cloud.ca_bundle
    return MonitorManagementClient(
        sign_in.credential,
        subscription_id,
        base_url=cloud.resource_manager,
        credential_scopes=[cloud.arm_scope],
        **options,
    )


def _series(result: Any) -> list[Any]:
    return [series for metric in result.value or [] for series in metric.timeseries or []]


def _status(series: Any) -> int | None:
    for value in series.metadatavalues or []:
        if str(value.name.value).lower() == "envoy_response_code":
            try:
                return int(value.value)
            except (TypeError, ValueError):
                return None
    return None


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
