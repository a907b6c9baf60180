"""Between our state types (state.py) and azure-ai-ml's entities, both ways."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from deployer.assets.deployed import DeployedAssets, parse_deployed
from deployer.spec.model import (
    DataCollectorSpec,
    EndpointIdentity,
    IdentityType,
    InferenceConfig,
    Probe,
    collector_summary,
)
from deployer.state import (
    DeploymentSettings,
    DeploymentState,
    EndpointState,
    ProvisioningState,
    Usage,
)


def _field(entity: Any, snake: str, camel: str) -> Any:
    # azure-ai-ml's Usage copies the REST dict into itself: its fields are spelled as in JSON.
    value = getattr(entity, snake, None)
    return value if value is not None else getattr(entity, camel, None)


def usage_of(usage: Any) -> Usage:
    name = usage.name
    value = name.get("value") if isinstance(name, Mapping) else getattr(name, "value", name)
    return Usage(
        name=str(value or ""),
        id=str(usage.id or ""),
        kind=str(usage.type or ""),
        used=int(_field(usage, "current_value", "currentValue") or 0),
        limit=int(usage.limit or 0),
        location=str(_field(usage, "aml_workspace_location", "amlWorkspaceLocation") or ""),
    )


def endpoint_state(endpoint: Any, deployments: list[Any]) -> EndpointState:
    identity = getattr(endpoint, "identity", None)
    assigned = list(getattr(identity, "user_assigned_identities", None) or [])
    principal = getattr(identity, "principal_id", None)
    if assigned and not principal:  # a user-assigned identity's principal is on its entry
        principal = getattr(assigned[0], "principal_id", None)
    return EndpointState(
        identity_type=str(getattr(identity, "type", None) or "system_assigned").lower(),
        principal_id=str(principal) if principal else None,
        identity_resource_ids=tuple(str(a.resource_id) for a in assigned if a.resource_id),
        name=str(endpoint.name),
        provisioning_state=ProvisioningState.parse(endpoint.provisioning_state),
        auth_mode=str(endpoint.auth_mode or "key"),
        scoring_uri=endpoint.scoring_uri,
        swagger_uri=getattr(endpoint, "openapi_uri", None)
        or getattr(endpoint, "swagger_uri", None),
        traffic=MappingProxyType({k: int(v) for k, v in (endpoint.traffic or {}).items()}),
        mirror=MappingProxyType(
            {k: int(v) for k, v in (getattr(endpoint, "mirror_traffic", None) or {}).items()}
        ),
        tags=MappingProxyType(dict(endpoint.tags or {})),
        description=endpoint.description or None,
        public_network_access=_enum_text(getattr(endpoint, "public_network_access", None)),
        deployments=tuple(
            DeploymentState(
                name=str(d.name),
                provisioning_state=ProvisioningState.parse(d.provisioning_state),
                instance_type=str(d.instance_type or ""),
                instance_count=int(d.instance_count or 0),
                tags=MappingProxyType(dict(d.tags or {})),
                egress_public_network_access=str(d.egress_public_network_access or "enabled"),
                data_collector=_observed_collector(getattr(d, "data_collector", None)),
            )
            for d in deployments
        ),
    )


def _enum_text(value: Any) -> str:
    """azure-ai-ml reads publicNetworkAccess as its PublicNetworkAccessType enum (its str() is
    the member's name), or leaves the string given."""
    return str(getattr(value, "value", value) or "enabled").lower()


def build_deployment(
    endpoint: str, name: str, settings: DeploymentSettings, tags: Mapping[str, str]
) -> Any:
    from azure.ai.ml.entities import (
        Environment,
        ManagedOnlineDeployment,
        OnlineRequestSettings,
        ProbeSettings,
    )

    def probe(value: Probe) -> Any:
        return ProbeSettings(
            initial_delay=value.initial_delay,
            period=value.period,
            timeout=value.timeout,
            success_threshold=value.success_threshold,
            failure_threshold=value.failure_threshold,
        )

    def container(image: str) -> Any:
        """A custom container's inline environment: its image and routes."""
        routes = InferenceConfig(
            settings.liveness_route, settings.readiness_route, settings.scoring_route
        )
        return Environment(image=image, inference_config=inference_config(routes))

    assets = parse_deployed(settings.image)
    runs: dict[str, Any]
    if assets is None:
        runs = {"environment": container(settings.image)}
    else:
        runs = _assets(assets)
        if assets.image is not None:  # a custom container, serving the model it mounts
            runs["environment"] = container(assets.image)
    return ManagedOnlineDeployment(
        name=name,
        endpoint_name=endpoint,
        **runs,
        instance_type=settings.instance_type,
        instance_count=settings.instance_count,
        environment_variables=dict(settings.environment_variables),
        request_settings=OnlineRequestSettings(
            request_timeout_ms=settings.request_timeout_ms,
            max_concurrent_requests_per_instance=settings.max_concurrent_requests_per_instance,
            max_queue_wait_ms=settings.max_queue_wait_ms,
        ),
        liveness_probe=probe(settings.liveness_probe),
        readiness_probe=probe(settings.readiness_probe),
        app_insights_enabled=settings.app_insights_enabled,
        egress_public_network_access=settings.egress_public_network_access,
        data_collector=_data_collector(settings.data_collector),
        tags=dict(tags),
    )


def _data_collector(spec: DataCollectorSpec | None) -> Any:
    """deployment.data_collector as azure-ai-ml's DataCollector: what `az ml` builds from the
    same YAML (azure/ai/ml/_schema/_deployment/online/data_collector_schema.py). A collection's
    `data` is a DataAsset or None: begin_create_or_update registers each collection's data
    asset from it (Azure's defaults where None) and sends the asset's id."""
    if spec is None:
        return None
    from azure.ai.ml.entities import DataCollector, DeploymentCollection
    from azure.ai.ml.entities._deployment.data_asset import DataAsset

    collections = {
        collection.name: DeploymentCollection(
            enabled="true" if collection.enabled else "false",
            data=None
            if collection.data is None
            else DataAsset(
                name=collection.data.name,
                path=collection.data.path,
                version=collection.data.version,  # type: ignore[arg-type]  # az ml passes text
            ),
        )
        for collection in spec.collections
    }
    return DataCollector(
        collections=collections,
        sampling_rate=spec.sampling_rate,
        rolling_rate=spec.rolling_rate,
    )


def _observed_collector(collector: Any) -> str | None:
    """What a deployment's data collector collects, in collector_summary's words."""
    if collector is None or not getattr(collector, "collections", None):
        return None
    enabled = tuple(
        str(name)
        for name, collection in collector.collections.items()
        if str(getattr(collection, "enabled", "")).lower() == "true"
    )
    rate = getattr(collector, "sampling_rate", None)
    rolling = getattr(collector, "rolling_rate", None) or "hour"
    return collector_summary(
        enabled,
        float(rate) if rate is not None else 1.0,
        str(getattr(rolling, "value", rolling)),  # the SDK's RollingRateType, or text
    )


def inference_config(routes: InferenceConfig) -> dict[str, Any]:
    """An environment's `inference_config`, as azure-ai-ml takes it."""
    return {
        name: {"port": route.port, "path": route.path}
        for name, route in (
            ("liveness_route", routes.liveness_route),
            ("readiness_route", routes.readiness_route),
            ("scoring_route", routes.scoring_route),
        )
    }


def _assets(assets: DeployedAssets) -> dict[str, Any]:
    """A deployment's model, code and environment by id, as azure-ai-ml sends them: the ids
    as they are (`azureml:name:version`, a registry's `azureml://registries/...`)."""
    from azure.ai.ml.entities import CodeConfiguration

    runs: dict[str, Any] = {
        "model": assets.model,
        "environment": assets.environment,
        "model_mount_path": assets.model_mount_path,
    }
    if assets.code is not None:
        runs["code_configuration"] = CodeConfiguration(
            code=assets.code, scoring_script=assets.scoring_script
        )
    return runs


def identity_configuration(identity: EndpointIdentity) -> Any:
    """The endpoint's identity as azure-ai-ml takes it: `IdentityConfiguration(type=...)`, with
    `ManagedIdentityConfiguration(resource_id=...)` for a user-assigned one (the SDK sends it as
    the REST body's `identity.userAssignedIdentities` map)."""
    from azure.ai.ml.entities import IdentityConfiguration, ManagedIdentityConfiguration

    if identity.type is IdentityType.USER_ASSIGNED:
        return IdentityConfiguration(
            type="user_assigned",
            user_assigned_identities=[
                ManagedIdentityConfiguration(resource_id=identity.resource_id)
            ],
        )
    return IdentityConfiguration(type="system_assigned")
