"""Azure Monitor autoscale settings on an endpoint's deployments, through azure-mgmt-monitor's
`autoscale_settings` (create_or_update, update, list_by_resource_group, delete; api-version
2022-10-01) with the run's credential.

Azure ML scales a managed online deployment only this way: a setting whose targetResourceUri
is the deployment's ARM id, in the workspace's resource group and region
(how-to-autoscale-endpoints.md). One setting per resource ("A resource can have only one
autoscale setting", autoscale-best-practices.md). Rules read the deployment's own metrics
(metricResourceUri = the deployment), with a one-minute grain, the finest Azure takes."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError

from deployer.azure.failures import Translated
from deployer.azure.metrics import AzureMonitor
from deployer.spec.model import AutoscaleRule, Direction
from deployer.state import AutoscaleState, NewAutoscale

if TYPE_CHECKING:
    from azure.mgmt.monitor import MonitorManagementClient

MINUTE = datetime.timedelta(minutes=1)
_DIRECTIONS = {Direction.OUT: "Increase", Direction.IN: "Decrease"}


class AutoscaleSettings:
    """The resource group's settings, through the run's Azure Monitor client."""

    def __init__(self, monitor: AzureMonitor, resource_group: str) -> None:
        self.monitor, self.resource_group = monitor, resource_group
        self.sign_in, self.workspace_id = monitor.sign_in, monitor.workspace_id

    @property
    def client(self) -> MonitorManagementClient:
        return self.monitor.client

    def deployment_id(self, endpoint: str, deployment: str) -> str:
        return f"{self.workspace_id}/onlineEndpoints/{endpoint}/deployments/{deployment}"

    def of_endpoint(self, endpoint: str) -> tuple[AutoscaleState, ...]:
        """The resource group's settings that scale one of `endpoint`'s deployments."""
        prefix = f"{self.workspace_id}/onlineEndpoints/{endpoint}/deployments/".lower()
        with Translated("reading the autoscale settings", self.sign_in):
            found = list(self.client.autoscale_settings.list_by_resource_group(self.resource_group))
        states = []
        for setting in found:
            target = str(setting.target_resource_uri or "")
            if not target.lower().startswith(prefix):
                continue
            deployment = target[len(prefix) :].strip("/")
            states.append(
                AutoscaleState(
                    name=str(setting.name),
                    deployment=deployment,
                    enabled=bool(setting.enabled),
                    tags=dict(setting.tags or {}),
                )
            )
        return tuple(states)

    def put(self, wanted: NewAutoscale, tags: Mapping[str, str], location: str) -> None:
        from azure.mgmt.monitor.models import (
            AutoscaleProfile,
            AutoscaleSettingResource,
            ScaleCapacity,
        )

        name, setting = wanted.name, wanted.setting
        target_id = self.deployment_id(wanted.endpoint, wanted.deployment)
        resource = AutoscaleSettingResource(
            location=location,
            tags=dict(tags),
            target_resource_uri=target_id,
            enabled=True,
            profiles=[
                AutoscaleProfile(
                    name="default",
                    capacity=ScaleCapacity(
                        minimum=str(setting.min_instances),
                        maximum=str(setting.max_instances),
                        default=str(setting.default_instances),
                    ),
                    rules=[_rule(rule, target_id) for rule in setting.rules],
                )
            ],
        )
        with Translated(f"writing autoscale setting {name}", self.sign_in):
            self.client.autoscale_settings.create_or_update(self.resource_group, name, resource)

    def enable(self, name: str, enabled: bool) -> None:
        from azure.mgmt.monitor.models import AutoscaleSettingResourcePatch

        verb = "resuming" if enabled else "pausing"
        with Translated(f"{verb} autoscale setting {name}", self.sign_in):
            self.client.autoscale_settings.update(
                self.resource_group, name, AutoscaleSettingResourcePatch(enabled=enabled)
            )

    def delete(self, name: str) -> None:
        with Translated(f"deleting autoscale setting {name}", self.sign_in):
            try:
                self.client.autoscale_settings.delete(self.resource_group, name)
            except ResourceNotFoundError:
                return


def _rule(rule: AutoscaleRule, target: str) -> Any:
    from azure.mgmt.monitor.models import MetricTrigger, ScaleAction, ScaleRule

    return ScaleRule(
        metric_trigger=MetricTrigger(
            metric_name=rule.metric,
            metric_resource_uri=target,
            time_grain=MINUTE,
            statistic=rule.statistic,
            time_window=rule.window_minutes * MINUTE,
            time_aggregation=rule.time_aggregation,
            operator=rule.operator,
            threshold=rule.threshold,
        ),
        scale_action=ScaleAction(
            direction=_DIRECTIONS[rule.direction],
            type="ChangeCount",
            value=str(rule.change_count),
            cooldown=rule.cooldown_minutes * MINUTE,
        ),
    )
