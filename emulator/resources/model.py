"""Resources of the emulated Azure ML control plane and their REST shapes."""

from __future__ import annotations

import asyncio
import datetime
import secrets
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from emulator.ledger import LEDGER

if TYPE_CHECKING:
    from emulator.resources.datastores import Datastore

PROVIDER = "Microsoft.MachineLearningServices"
RUNNING_STATES = {"Creating", "Updating", "Deleting", "Scaling"}


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def arm_time(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f0+00:00")


def endpoint_key() -> str:
    key = secrets.token_urlsafe(24)
    LEDGER.record("endpoint-key", key)
    return key


@dataclass
class Workspace:
    subscription: str
    resource_group: str
    name: str
    location: str
    workspace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    container_registry: str | None = None  # ARM id of the workspace's ACR
    storage_account: str | None = None  # ARM id of the workspace's storage account
    blobstore: Datastore | None = None  # its default datastore, workspaceblobstore

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{PROVIDER}/workspaces/{self.name}"
        )

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.subscription.lower(), self.resource_group.lower(), self.name.lower())

    def rest(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": f"{PROVIDER}/workspaces",
            "location": self.location,
            "kind": "Default",
            "identity": {
                "type": "SystemAssigned",
                "principalId": str(uuid.uuid5(uuid.NAMESPACE_URL, self.id)),
                "tenantId": None,
            },
            "sku": {"name": "Basic", "tier": "Basic"},
            "tags": {},
            "properties": {
                "friendlyName": self.name,
                "workspaceId": self.workspace_id,
                "provisioningState": "Succeeded",
                "containerRegistry": self.container_registry,
                "storageAccount": self.storage_account,
                "discoveryUrl": f"https://{self.location}.api.azureml.ms/discovery",
                "mlFlowTrackingUri": f"azureml://{self.location}.api.azureml.ms/mlflow/v1.0"
                f"{self.id}",
                "hbiWorkspace": False,
                "publicNetworkAccess": "Enabled",
                "v1LegacyMode": False,
            },
        }


@dataclass
class Operation:
    id: str
    kind: str  # endpoint_create, deployment_update, ...
    location: str
    subscription: str
    api_version: str
    target: str  # ARM id of the resource it changes
    status: str
    started: datetime.datetime = field(default_factory=utc_now)
    ended: datetime.datetime | None = None
    error: dict[str, Any] | None = None
    task: asyncio.Task[None] | None = None

    @property
    def done(self) -> bool:
        return self.status in ("Succeeded", "Failed", "Canceled")

    def path(self, results: bool = False) -> str:
        collection = "mfeOperationResults" if results else "mfeOperationsStatus"
        return (
            f"/subscriptions/{self.subscription}/providers/{PROVIDER}/locations/{self.location}"
            f"/{collection}/{self.id}"
        )

    def rest(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.path(),
            "name": self.id,
            "startTime": arm_time(self.started),
            "endTime": arm_time(self.ended) if self.ended else "0001-01-01T00:00:00+00:00",
            "percentComplete": 100.0 if self.done else 0.0,
            "status": self.status,
        }
        if self.error is not None:
            body["error"] = self.error
        return body


@dataclass
class Deployment:
    endpoint: Endpoint
    name: str
    location: str
    properties: dict[str, Any]
    sku: dict[str, Any]
    tags: dict[str, str]
    provisioning_state: str = "Creating"
    created: datetime.datetime = field(default_factory=utc_now)
    modified: datetime.datetime = field(default_factory=utc_now)
    operation: Operation | None = None
    logs: dict[str, list[str]] = field(
        default_factory=lambda: {"InferenceServer": [], "StorageInitializer": []}
    )

    @property
    def id(self) -> str:
        return f"{self.endpoint.id}/deployments/{self.name}"

    @property
    def workspace(self) -> Workspace:
        return self.endpoint.workspace

    @property
    def instance_type(self) -> str:
        return str(self.properties.get("instanceType", ""))

    @property
    def capacity(self) -> int:
        return int(self.sku.get("capacity", 1))

    @property
    def environment_id(self) -> str:
        return str(self.properties.get("environmentId", ""))

    def rest(self) -> dict[str, Any]:
        properties = {**self.properties, "provisioningState": self.provisioning_state}
        return {
            "id": self.id,
            "name": self.name,
            "type": f"{PROVIDER}/workspaces/onlineEndpoints/deployments",
            "kind": "Managed",
            "location": self.location,
            "tags": self.tags,
            "sku": {"name": "Default", "tier": "Standard", **self.sku},
            "properties": properties,
            "systemData": _system_data(self.created, self.modified),
        }


@dataclass
class Endpoint:
    workspace: Workspace
    name: str
    location: str
    auth_mode: str
    description: str | None
    tags: dict[str, str]
    identity: dict[str, Any]
    traffic: dict[str, int]
    mirror_traffic: dict[str, int]
    user_properties: dict[str, str]
    scoring_base: str  # e.g. https://127.0.0.1:8446 (the scoring gateway)
    scoring_host_suffix: str | None = None  # host-style URIs (emulator/scoring_hosts.py)
    public_network_access: str = "Enabled"
    provisioning_state: str = "Creating"
    created: datetime.datetime = field(default_factory=utc_now)
    modified: datetime.datetime = field(default_factory=utc_now)
    primary_key: str = field(default_factory=endpoint_key)
    secondary_key: str = field(default_factory=endpoint_key)
    # What the scoring gateway routes by: traffic as of the last completed operation.
    live_traffic: dict[str, int] = field(default_factory=dict)
    live_mirror_traffic: dict[str, int] = field(default_factory=dict)
    operation: Operation | None = None
    async_operation_uri: str | None = None
    deployments: dict[str, Deployment] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.workspace.id}/onlineEndpoints/{self.name}"

    @property
    def scoring_root(self) -> str:
        """`https://<name>.<region>.inference.localhost:<port>` (host style, like Azure's
        `https://<name>.<region>.inference.ml.azure.com`), else `<gateway>/<name>`."""
        if self.scoring_host_suffix:
            port = self.scoring_base.rpartition(":")[2]
            return f"https://{self.name}.{self.scoring_host_suffix}:{port}"
        return f"{self.scoring_base}/{self.name}"

    @property
    def scoring_uri(self) -> str:
        return f"{self.scoring_root}/score"

    def deployment(self, name: str) -> Deployment | None:
        return self.deployments.get(name.lower())

    def busy(self) -> Operation | None:
        """An operation in progress on the endpoint or any of its deployments."""
        if self.operation is not None and not self.operation.done:
            return self.operation
        for deployment in self.deployments.values():
            if deployment.operation is not None and not deployment.operation.done:
                return deployment.operation
        return None

    def rest(self) -> dict[str, Any]:
        creating = self.provisioning_state == "Creating"
        properties: dict[str, Any] = {
            "azureml.onlineendpointid": self.id.lower(),
            **self.user_properties,
        }
        if self.async_operation_uri:
            properties["AzureAsyncOperationUri"] = self.async_operation_uri
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": f"{PROVIDER}/workspaces/onlineEndpoints",
            "kind": "Managed",
            "location": self.location,
            "tags": self.tags,
            "identity": self.identity,
            "properties": {
                "description": self.description,
                "properties": properties,
                "scoringUri": None if creating else self.scoring_uri,
                "swaggerUri": None if creating else f"{self.scoring_root}/swagger.json",
                "authMode": self.auth_mode,
                "provisioningState": self.provisioning_state,
                "compute": None,
                "traffic": self.traffic,
                "mirrorTraffic": self.mirror_traffic,
                "publicNetworkAccess": self.public_network_access,
            },
            "systemData": _system_data(self.created, self.modified),
        }
        return body


def _system_data(created: datetime.datetime, modified: datetime.datetime) -> dict[str, Any]:
    return {
        "createdAt": arm_time(created),
        "createdBy": "azureml-deploy emulator",
        "createdByType": "Application",
        "lastModifiedAt": arm_time(modified),
        "lastModifiedBy": "azureml-deploy emulator",
        "lastModifiedByType": "Application",
    }
