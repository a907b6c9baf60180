"""The control plane's state: workspaces, endpoints, deployments, assets, operations,
quota and the permissions of the app registration."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from emulator.resources import skus
from emulator.resources.assets import AssetStore, AssetVersion
from emulator.resources.autoscale_settings import AutoscaleSetting
from emulator.resources.datastores import Datastore
from emulator.resources.model import Deployment, Endpoint, Operation, Workspace
from emulator.resources.registries import Registry, curated_environments
from emulator.resources.served import ServedLog
from emulator.resources.usage import UsageLog


@dataclass
class Store:
    workspaces: dict[tuple[str, str, str], Workspace] = field(default_factory=dict)
    endpoints: dict[tuple[tuple[str, str, str], str], Endpoint] = field(default_factory=dict)
    # models, codes and environments of every workspace and registry
    assets: AssetStore = field(default_factory=AssetStore)
    datastores: dict[tuple[tuple[str, str, str], str], Datastore] = field(default_factory=dict)
    registries: dict[str, Registry] = field(default_factory=dict)  # by lower-cased name
    operations: dict[str, Operation] = field(default_factory=dict)
    family_quota: dict[str, int] = field(default_factory=dict)  # cores, set by the admin API
    # Azure's default quotas (24 cores per CPU family, none for GPUs) in the `azure` profile;
    # the `fast` profile (tests) gives every family TEST_FAMILY_QUOTA so tests need not ask.
    azure_default_quota: bool = False
    limits: dict[str, int] = field(default_factory=lambda: dict(skus.LIMITS))
    taken_names: set[tuple[str, str]] = field(default_factory=set)  # (region, name) of others
    denied_actions: set[str] = field(default_factory=set)
    # Whether the scoring gateway's clients are inside the workspaces' virtual network (reach
    # them through the private endpoint), as a self-hosted runner in it is; a GitHub-hosted
    # runner is not. Only endpoints with public network access disabled ask.
    clients_inside_network: bool = False
    served: ServedLog = field(default_factory=ServedLog)  # what Azure Monitor's metrics count
    # Whether a mirrored copy counts in the metrics of the deployment it reached: Azure does not
    # document it (README, "Differences from Azure"); the admin API's /monitor sets it.
    mirrored_counted: bool = True
    usage: UsageLog = field(default_factory=UsageLog)  # the instances' CPU and memory
    # Microsoft.Insights/autoscaleSettings by (subscription, resource group, name), lower-cased
    autoscale: dict[tuple[str, str, str], AutoscaleSetting] = field(default_factory=dict)

    def reset(self, workspace: Workspace) -> None:
        """Back to a new store, as re-initialising it gives (the emulator's reset): every field
        from its default but the profile's quota regime, with only `workspace` (the one the
        emulator started with) in it. The two logs that other parts hold (the gateway records
        what it served, the sampler the instances' usage) are emptied in place."""
        fresh = Store(azure_default_quota=self.azure_default_quota)
        fresh.add_workspace(workspace)
        for registry in self.registries.values():
            fresh.add_registry(registry)
        for each in fields(self):
            if each.name in ("served", "usage"):
                getattr(self, each.name).clear()
            else:
                setattr(self, each.name, getattr(fresh, each.name))

    def add_workspace(self, workspace: Workspace) -> None:
        self.workspaces[workspace.key] = workspace
        if workspace.blobstore is not None:
            self.datastores[(workspace.key, workspace.blobstore.name.lower())] = workspace.blobstore

    def add_registry(self, registry: Registry) -> None:
        self.registries[registry.name.lower()] = registry
        if registry.principals is None:  # the curated registry holds Azure ML's environments
            for name, version, properties in curated_environments():
                self.assets.put_version(registry.id, "environments", name, version, properties)

    def workspace_by_id(self, workspace_id: str) -> Workspace | None:
        return next(
            (w for w in self.workspaces.values() if w.id.lower() == workspace_id.lower()), None
        )

    def default_datastore(self, workspace_id: str) -> Datastore | None:
        workspace = self.workspace_by_id(workspace_id)
        if workspace is None:
            return None
        return next(
            (
                d
                for (key, _), d in self.datastores.items()
                if key == workspace.key and d.properties.get("isDefault")
            ),
            None,
        )

    def registry(self, name: str) -> Registry | None:
        return self.registries.get(name.lower())

    def subscriptions(self) -> set[str]:
        return {workspace.subscription.lower() for workspace in self.workspaces.values()}

    def resource_groups(self, subscription: str) -> set[str]:
        return {
            workspace.resource_group.lower()
            for workspace in self.workspaces.values()
            if workspace.subscription.lower() == subscription.lower()
        }

    def workspace(self, subscription: str, resource_group: str, name: str) -> Workspace | None:
        return self.workspaces.get((subscription.lower(), resource_group.lower(), name.lower()))

    def endpoint(self, workspace: Workspace, name: str) -> Endpoint | None:
        return self.endpoints.get((workspace.key, name.lower()))

    def deployment_by_id(self, resource_id: str) -> Deployment | None:
        for endpoint in self.endpoints.values():
            for deployment in endpoint.deployments.values():
                if deployment.id.lower() == resource_id.rstrip("/").lower():
                    return deployment
        return None

    def endpoint_by_id(self, resource_id: str) -> Endpoint | None:
        for endpoint in self.endpoints.values():
            if endpoint.id.lower() == resource_id.rstrip("/").lower():
                return endpoint
        return None

    def endpoints_in(self, workspace: Workspace) -> list[Endpoint]:
        return [ep for (key, _), ep in self.endpoints.items() if key == workspace.key]

    def environment_by_id(self, workspace: Workspace, environment_id: str) -> AssetVersion | None:
        """The environment version an ARM id names in `workspace`, or an `azureml://registries/`
        id names in a registry."""
        environment = self.assets.by_id(environment_id)
        if environment is None or environment.kind != "environments":
            return None
        registry = environment_id.lower().startswith("azureml://registries/")
        if not registry and environment.owner_id.lower() != workspace.id.lower():
            return None
        return environment

    def endpoint_named_in_region(self, name: str, location: str) -> Endpoint | None:
        """Endpoint names are unique per region, across every workspace."""
        for endpoint in self.endpoints.values():
            if endpoint.name.lower() == name.lower() and endpoint.location == location:
                return endpoint
        return None

    def cores_in_use(self, subscription: str, family: str, skip: str | None = None) -> int:
        """Cores held by deployments of `family` in the subscription, with Azure ML's 20 %
        upgrade reserve; `skip` is the ARM id of a deployment being replaced."""
        used = 0
        for endpoint in self.endpoints.values():
            if endpoint.workspace.subscription.lower() != subscription.lower():
                continue
            for deployment in endpoint.deployments.values():
                sku = skus.find(deployment.instance_type)
                if sku is None or sku.family != family or deployment.id == skip:
                    continue
                if deployment.provisioning_state in ("Failed", "Deleting"):
                    continue
                used += reserved_cores(sku, deployment.capacity)
        return used

    def quota(self, family: str) -> int:
        if family in self.family_quota:
            return self.family_quota[family]
        return skus.default_family_quota(family) if self.azure_default_quota else TEST_FAMILY_QUOTA

    def families(self) -> list[str]:
        return sorted({sku.family for sku in skus.SKUS.values()})

    def counts(self, subscription: str, location: str) -> tuple[int, int]:
        """Endpoints and deployments of the subscription in a region."""
        endpoints = [
            ep
            for ep in self.endpoints.values()
            if ep.workspace.subscription.lower() == subscription.lower() and ep.location == location
        ]
        return len(endpoints), sum(len(ep.deployments) for ep in endpoints)


TEST_FAMILY_QUOTA = 128


def reserved_cores(sku: skus.Sku, capacity: int) -> int:
    return sku.reserved_cores(capacity)
