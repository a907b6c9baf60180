"""Service rules Azure ML enforces on online endpoints and deployments, with its status codes."""

from __future__ import annotations

import json
import re
from typing import Any

from emulator.errors import BadArgument, BadRequest, Conflict, OutOfQuota, UserError
from emulator.http import ArmError
from emulator.resources import skus
from emulator.resources.model import Deployment, Endpoint
from emulator.resources.store import Store, reserved_cores

NAME = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
MAX_DEPLOYMENTS = skus.LIMITS["deployments_per_endpoint"]
MAX_MIRROR_PERCENT = 50
AUTH_MODES = {"key": "Key", "amltoken": "AMLToken", "aadtoken": "AADToken"}


def check_name(kind: str, name: str) -> None:
    if not 3 <= len(name) <= 32 or not NAME.match(name):
        raise BadArgument(
            f"Invalid {kind} name '{name}': it must be 3-32 characters long, start with a "
            "letter, contain only letters, digits and '-', and not end with '-'.",
            target="name",
        )


PUBLIC_NETWORK_ACCESS = {"enabled": "Enabled", "disabled": "Disabled"}


def auth_mode(value: Any) -> str:
    return _one_of(value, AUTH_MODES, "authMode")


def public_network_access(value: Any) -> str:
    """PublicNetworkAccessType: Enabled or Disabled, case-insensitive like the SDK's enum."""
    return _one_of(value, PUBLIC_NETWORK_ACCESS, "publicNetworkAccess")


def _one_of(value: Any, allowed: dict[str, str], field: str) -> str:
    found = allowed.get(str(value).lower())
    if found is None:
        raise BadArgument(
            f"Invalid {field} '{value}'. Allowed values: {', '.join(allowed.values())}.",
            target=f"properties.{field}",
        )
    return found


def _percent(value: Any, deployment: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise BadArgument(
            f"{field} for deployment '{deployment}' must be an integer from 0 to 100 "
            f"(got {value!r}).",
            target=f"properties.{field}",
        )
    return value


def check_traffic(
    endpoint: Endpoint, traffic: Any, mirror: Any
) -> tuple[dict[str, int], dict[str, int]]:
    """Validated (traffic, mirrorTraffic) for `endpoint`, or the error Azure ML answers."""
    if not isinstance(traffic, dict) or not isinstance(mirror, dict):
        raise BadArgument("traffic and mirrorTraffic must be objects.")
    live = {name: _percent(value, name, "traffic") for name, value in traffic.items()}
    mirrored = {name: _percent(value, name, "mirrorTraffic") for name, value in mirror.items()}
    for field, values in (("traffic", live), ("mirrorTraffic", mirrored)):
        for name, value in values.items():
            deployment = endpoint.deployment(name)
            if deployment is None:
                raise BadArgument(
                    f"Deployment '{name}' in {field} does not exist on endpoint '{endpoint.name}'.",
                    target=f"properties.{field}",
                )
            if value > 0 and deployment.provisioning_state != "Succeeded":
                raise BadArgument(
                    f"Deployment '{name}' cannot receive {field}: its provisioning state is "
                    f"'{deployment.provisioning_state}'. Only deployments in state 'Succeeded' "
                    "can receive traffic.",
                    target=f"properties.{field}",
                )
    total = sum(live.values())
    if live and total not in (0, 100):
        raise BadArgument(
            f"Traffic values must add up to 100 (or all be 0); they add up to {total}.",
            target="properties.traffic",
        )
    targets = {name: value for name, value in mirrored.items() if value > 0}
    if len(targets) > 1:
        raise BadArgument(
            "Mirror traffic can go to one deployment only.",
            target="properties.mirrorTraffic",
        )
    for name, value in targets.items():
        if value > MAX_MIRROR_PERCENT:
            raise BadArgument(
                f"Mirror traffic for deployment '{name}' is {value}%; at most "
                f"{MAX_MIRROR_PERCENT}% can be mirrored.",
                target="properties.mirrorTraffic",
            )
        if live.get(name, 0) > 0:
            raise BadArgument(
                f"Deployment '{name}' receives live traffic; mirror traffic can only go to a "
                "deployment with 0% live traffic.",
                target="properties.mirrorTraffic",
            )
    return live, mirrored


def name_taken() -> ArmError:
    """Endpoint names are unique per region across every customer. Azure's answer (the inner
    message as Azure/azureml-examples#1931 quotes it, wrapped as in
    Azure/azure-cli-extensions#7660): 400 BadRequest around InferencingClientCallFailed, whose
    message is the inferencing service's own JSON."""
    inner = {
        "errors": {
            "": [
                "There is already an endpoint with this name, Endpoint name needs to be "
                "unique within a region. Try some other name."
            ]
        },
        "title": "One or more validation errors occurred.",
    }
    return BadRequest(
        "The request is invalid.",
        details=[
            {
                "code": "InferencingClientCallFailed",
                "message": json.dumps(inner),
                "details": [],
                "additionalInfo": [],
            }
        ],
    )


def check_endpoint_count(store: Store, subscription: str, location: str) -> None:
    """how-to-manage-quotas.md: endpoints per subscription and region (100 by default)."""
    endpoints, _ = store.counts(subscription, location)
    limit = store.limits["endpoints_per_subscription_region"]
    if endpoints >= limit:
        raise BadArgument(
            f"The subscription already has {endpoints} endpoints in {location}; the limit is "
            f"{limit} per subscription and region. Delete endpoints or request an endpoint "
            "limit increase.",
        )


def check_deployment_count(store: Store, endpoint: Endpoint) -> None:
    _, deployments = store.counts(endpoint.workspace.subscription, endpoint.location)
    limit = store.limits["deployments_per_subscription_region"]
    if deployments >= limit:
        raise BadArgument(
            f"The subscription already has {deployments} deployments in {endpoint.location}; "
            f"the limit is {limit} per subscription and region. Delete deployments or request "
            "an endpoint limit increase.",
        )
    if len(endpoint.deployments) >= MAX_DEPLOYMENTS:
        raise BadArgument(
            f"Endpoint '{endpoint.name}' already has {len(endpoint.deployments)} deployments; "
            f"an endpoint can have at most {MAX_DEPLOYMENTS}. Delete unused deployments first.",
        )


def check_instance_type(instance_type: str) -> skus.Sku:
    sku = skus.find(instance_type)
    if sku is None:
        raise UserError(
            f"Invalid instance type {instance_type}",
            target="properties.instanceType",
            details=[
                {
                    "code": "InvalidValue",
                    "message": f"Instance type {instance_type} is not supported for managed "
                    "online deployments.",
                    "target": "properties.instanceType",
                }
            ],
        )
    return sku


def check_quota(
    store: Store, subscription: str, sku: skus.Sku, capacity: int, replacing: Deployment | None
) -> None:
    limit = store.quota(sku.family)
    used = store.cores_in_use(subscription, sku.family, skip=replacing.id if replacing else None)
    needed = reserved_cores(sku, capacity)
    if used + needed > limit:
        raise OutOfQuota(
            f"Not enough quota available for {sku.name} in SubscriptionId {subscription}. "
            f"Current usage/limit: {used}/{limit}. Additional needed: {needed}. "
            "Azure ML reserves 20% extra instances for upgrades; request a quota increase "
            f"for the {sku.family} VM family or use fewer instances. "
            "Please see troubleshooting guide, available here: "
            "https://aka.ms/oe-tsg#error-outofquota",
        )


# What an update cannot change on a managed online deployment: egressPublicNetworkAccess
# (concept-secure-online-endpoint.md: "Once you've created the deployment, you can't update
# (enable or disable) the egress_public_network_access flag. Attempting to change the flag while
# updating the deployment fails with an error.") and
# the instance type (Azure/AML-Kubernetes#247: "deployment update can't change instance type";
# the advice is a new deployment, traffic moved to it, the old one deleted).
IMMUTABLE = ("instanceType", "egressPublicNetworkAccess")


def check_immutable(existing: Deployment, properties: dict[str, Any]) -> None:
    """Azure's envelope for a refused update (400 BadRequest "The request is invalid." around
    the reason, as in Azure/azureml-examples#1474); the inner code and words are ours: the
    documentation gives no text for this refusal."""
    for field in IMMUTABLE:
        before = str(existing.properties.get(field) or "")
        after = str(properties.get(field) or "")
        if field == "egressPublicNetworkAccess":
            before, after = before or "Enabled", after or "Enabled"
        if before.lower() != after.lower():
            raise BadRequest(
                "The request is invalid.",
                details=[
                    {
                        "code": "NotSupported",
                        "message": f"{field} of deployment '{existing.name}' cannot be updated "
                        f"(from {before} to {after}). Create a new deployment, move traffic "
                        "to it, then delete the old one.",
                        "target": f"properties.{field}",
                    }
                ],
            )


def check_liveness_success_threshold(value: Any) -> None:
    """reference-yaml-deployment-managed-online.md: "The value for liveness probe is fixed as
    1"."""
    if value != skus.LIVENESS_SUCCESS_THRESHOLD:
        raise BadArgument(
            f"livenessProbe.successThreshold must be {skus.LIVENESS_SUCCESS_THRESHOLD} "
            f"(got {value!r}): the value for liveness probe is fixed as 1.",
            target="properties.livenessProbe.successThreshold",
        )


def check_busy(endpoint: Endpoint, what: str) -> None:
    operation = endpoint.busy()
    if operation is not None:
        raise Conflict(
            f"Another operation is in progress on endpoint '{endpoint.name}' "
            f"({operation.kind.replace('_', ' ')}, operation {operation.id}); {what} must wait "
            "until it completes.",
        )


# The REST specification's DataCollector: `collections` is required, `rollingRate` one of
# RollingRateType, each collection's `dataCollectionMode` one of DataCollectionMode. Kept in the
# service's spellings, whatever case was sent (azure-ai-ml sends `enabled` and `hour`, and
# reads a collection back as enabled only when it says exactly "Enabled":
# DeploymentCollection._from_rest_object). "the sampling rate (ranging from 0 – 100%)" (Learn,
# concept-data-collection); samplingRate 1.0 is 100 %.
ROLLING_RATES = {rate.lower(): rate for rate in ("Year", "Month", "Day", "Hour", "Minute")}
MODES = {"enabled": "Enabled", "disabled": "Disabled"}


def data_collector(collector: Any) -> dict[str, Any] | None:
    """The dataCollector to keep, or BadArgument."""
    if collector is None:
        return None
    target = "properties.dataCollector"
    collections = collector.get("collections") if isinstance(collector, dict) else None
    if not isinstance(collections, dict) or not collections:
        raise BadArgument("dataCollector.collections is required.", target=f"{target}.collections")
    kept = dict(collector)
    rolling = collector.get("rollingRate")
    if rolling is not None:
        if str(rolling).lower() not in ROLLING_RATES:
            raise BadArgument(
                f"Invalid rollingRate '{rolling}'. Allowed values: Year, Month, Day, Hour, Minute.",
                target=f"{target}.rollingRate",
            )
        kept["rollingRate"] = ROLLING_RATES[str(rolling).lower()]
    kept["collections"] = {
        name: _collection(name, given, f"{target}.collections.{name}")
        for name, given in collections.items()
    }
    return kept


def _collection(name: str, given: Any, target: str) -> dict[str, Any]:
    settings = dict(given) if isinstance(given, dict) else {}
    mode = settings.get("dataCollectionMode")
    if mode is not None:
        if str(mode).lower() not in MODES:
            raise BadArgument(
                f"Invalid dataCollectionMode '{mode}' of collection '{name}'. Allowed values: "
                "Enabled, Disabled.",
                target=f"{target}.dataCollectionMode",
            )
        settings["dataCollectionMode"] = MODES[str(mode).lower()]
    rate = settings.get("samplingRate")
    if rate is not None and not (isinstance(rate, int | float) and 0 <= rate <= 1):
        raise BadArgument(
            f"samplingRate of collection '{name}' must be between 0.0 and 1.0 (got {rate}).",
            target=f"{target}.samplingRate",
        )
    return settings
