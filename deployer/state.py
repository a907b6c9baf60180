"""What the action observes in Azure and asks Azure for, as frozen dataclasses. No SDK here:
deployer/azure/ translates between these and azure-ai-ml's entities."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from deployer.spec.model import AutoscaleSpec, DataCollectorSpec, EndpointIdentity, Probe, Route
from deployer.tags import (
    Ownership,
    Record,
    Tag,
    deployed_image,
    deployed_settings,
    tag_value,
)


class ProvisioningState(StrEnum):
    CREATING = "Creating"
    UPDATING = "Updating"
    DELETING = "Deleting"
    SCALING = "Scaling"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, value: object) -> ProvisioningState:
        """The SDK's str enums and Azure's spellings ('succeeded', 'InProgress') alike."""
        text = str(getattr(value, "value", value) or "").lower()
        for state in cls:
            if state.value.lower() == text:
                return state
        if text in ("inprogress", "running", "accepted", "provisioning"):
            return cls.UPDATING
        return cls.UNKNOWN

    @property
    def transitional(self) -> bool:
        """Another operation is still changing the resource."""
        return self in (self.CREATING, self.UPDATING, self.DELETING, self.SCALING)


def _frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class DeploymentSettings:
    """What a deployment runs and how: everything the action sets on it."""

    image: str  # registry/repository@sha256:…; "" while it is still to be built
    instance_type: str
    instance_count: int
    environment_variables: Mapping[str, str]
    liveness_route: Route
    readiness_route: Route
    scoring_route: Route
    request_timeout_ms: int
    max_concurrent_requests_per_instance: int
    max_queue_wait_ms: int
    liveness_probe: Probe
    readiness_probe: Probe
    app_insights_enabled: bool
    egress_public_network_access: str
    data_collector: DataCollectorSpec | None = None

    @property
    def settings_hash(self) -> str:
        """What identifies the settings, the image aside (kept on the deployment as a tag)."""
        return settings_hash(self)


def _canonical(value: Any) -> Any:
    # Routes and probes hash as the lists earlier versions wrote (port, path / five numbers), so
    # deployments they made are still recognised as unchanged.
    if isinstance(value, Route):
        return [value.port, value.path]
    if isinstance(value, Probe):
        return [
            value.initial_delay,
            value.period,
            value.timeout,
            value.success_threshold,
            value.failure_threshold,
        ]
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, DataCollectorSpec):
        return asdict(value)
    return value


def settings_hash(settings: DeploymentSettings) -> str:
    data = {
        item.name: _canonical(getattr(settings, item.name))
        for item in fields(settings)
        if item.name != "image"
        # a field added later hashes only when set: deployments made before stay unchanged
        and not (item.name == "data_collector" and settings.data_collector is None)
    }
    canonical = json.dumps(data, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DeploymentState:
    name: str
    provisioning_state: ProvisioningState
    instance_type: str
    instance_count: int
    tags: Mapping[str, str] = field(default_factory=_frozen)
    egress_public_network_access: str = "enabled"
    data_collector: str | None = (
        None  # what Azure says it collects (collector_summary); None: no collector
    )

    @property
    def image(self) -> str | None:
        return deployed_image(self.tags)

    @property
    def settings_hash(self) -> str | None:
        return deployed_settings(self.tags)

    @property
    def ownership(self) -> Ownership:
        return Ownership.of(self.tags)

    @property
    def healthy(self) -> bool:
        return self.provisioning_state is ProvisioningState.SUCCEEDED

    def immutable_changes(self, settings: DeploymentSettings) -> tuple[str, ...]:
        """What of `settings` Azure will not update on this existing deployment: the instance
        type (Azure/AML-Kubernetes#247) and egress_public_network_access
        (concept-secure-online-endpoint.md)."""
        pairs = (
            ("instance_type", self.instance_type, settings.instance_type),
            (
                "egress_public_network_access",
                self.egress_public_network_access,
                settings.egress_public_network_access,
            ),
        )
        return tuple(name for name, now, wanted in pairs if now.lower() != wanted.lower())

    def runs(self, settings: DeploymentSettings) -> bool:
        """Whether this deployment runs exactly `settings` (its image and the rest)."""
        return (
            self.healthy
            and self.image == tag_value(settings.image)
            and self.settings_hash == settings.settings_hash
        )


@dataclass(frozen=True)
class AutoscaleState:
    """An Azure Monitor autoscale setting whose target is one of the endpoint's deployments."""

    name: str
    deployment: str
    enabled: bool
    tags: Mapping[str, str] = field(default_factory=_frozen)

    @property
    def ownership(self) -> Ownership:
        return Ownership.of(self.tags)

    @property
    def fingerprint(self) -> str | None:
        return self.tags.get(Tag.AUTOSCALE)


@dataclass(frozen=True)
class NewAutoscale:
    """An autoscale setting to write: `name`, scaling `endpoint`'s `deployment`."""

    name: str
    endpoint: str
    deployment: str
    setting: AutoscaleSpec


@dataclass(frozen=True)
class EndpointState:
    name: str
    provisioning_state: ProvisioningState
    auth_mode: str
    scoring_uri: str | None
    swagger_uri: str | None
    traffic: Mapping[str, int]
    tags: Mapping[str, str]
    deployments: tuple[DeploymentState, ...] = ()
    description: str | None = None
    identity_type: str = "system_assigned"  # as azure-ai-ml names it
    principal_id: str | None = None  # the identity's principal, what a role is granted to
    identity_resource_ids: tuple[str, ...] = ()  # the user-assigned identities' ARM ids
    mirror: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    autoscale: tuple[AutoscaleState, ...] = ()  # settings on its deployments (observed apart)
    public_network_access: str = "enabled"  # lower-cased: Azure answers Enabled / Disabled

    def deployment(self, name: str | None) -> DeploymentState | None:
        return next((d for d in self.deployments if d.name == name), None)

    def autoscale_of(self, deployment: str | None) -> AutoscaleState | None:
        return next((a for a in self.autoscale if a.deployment == deployment), None)

    @property
    def record(self) -> Record:
        """The rollout record the action keeps in the endpoint's tags."""
        return Record.of(self.tags)

    @property
    def ownership(self) -> Ownership:
        return Ownership.of(self.tags)

    def share(self, deployment: str | None) -> int:
        return int(self.traffic.get(deployment or "", 0))

    def basis(self) -> tuple[object, ...]:
        """What a plan is made from: traffic, the deployments and their settings, and the
        record (the lease aside); the executor checks it is unchanged when it takes the lease."""
        deployments = tuple(
            sorted(
                (d.name, str(d.provisioning_state), d.image or "", d.settings_hash or "")
                for d in self.deployments
            )
        )
        record = replace(self.record, holder=None, lease_until=None)
        mirror = tuple(sorted((n, s) for n, s in self.mirror.items() if s))
        return (tuple(sorted(self.traffic.items())), deployments, record, mirror)

    def busy(self) -> list[str]:
        """What of the endpoint another operation is still changing, e.g. 'deployment green
        (Creating)'."""
        parts = [
            f"deployment {d.name} ({d.provisioning_state})"
            for d in self.deployments
            if d.provisioning_state.transitional
        ]
        if self.provisioning_state.transitional:
            parts.insert(0, f"the endpoint ({self.provisioning_state})")
        return parts


@dataclass(frozen=True)
class NewEndpoint:
    """An endpoint to create: what Azure fixes at creation (auth mode, identity) and the rest."""

    name: str
    auth_mode: str
    description: str | None
    tags: Mapping[str, str]
    identity: EndpointIdentity = field(default_factory=EndpointIdentity)
    public_network_access: str = "enabled"


@dataclass(frozen=True)
class Usage:
    """One entry of Azure ML's usages API: a VM family's dedicated cores in a region."""

    name: str  # name.value, e.g. standardDSv2Family or "Standard DSv2 Family Cluster …"
    id: str
    kind: str  # type, e.g. Microsoft.MachineLearningServices/vmFamily/usages
    used: int
    limit: int
    location: str = ""


@dataclass(frozen=True)
class Keys:
    """What the smoke test scores with: the endpoint's keys (`key` endpoints), or a token that
    expires (`expires`: an Azure ML token the endpoint issued, or the run's own Entra token for
    an `aad_token` endpoint), which is never handed on as a step output."""

    primary: str
    secondary: str | None = None
    expires: bool = False


def autoscale_name(endpoint: str, deployment: str) -> str:
    """The action's autoscale setting of a deployment: endpoint and deployment names are
    alphanumerics and hyphens of at most 32 characters each, well inside what Azure takes for
    a resource name in a resource group (resource-name-rules.md)."""
    return f"{endpoint}-{deployment}-autoscale"


def traffic_text(traffic: Mapping[str, int]) -> str:
    """`green 50%, blue 50%`, or `none` when nothing takes traffic."""
    serving = {name: share for name, share in traffic.items() if share}
    return ", ".join(f"{name} {share}%" for name, share in serving.items()) or "none"
