"""Service rules Azure ML enforces on online endpoints and deployments, with its status codes."""

from __future__ import annotations

import re
from typing import Any

from emulator.arm import skus
from emulator.arm.model import Deployment, Endpoint
from emulator.arm.store import Store, reserved_cores
from emulator.http import ArmError

NAME = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
MAX_DEPLOYMENTS = 20
MAX_MIRROR_PERCENT = 50
AUTH_MODES = {"key": "Key", "amltoken": "AMLToken", "aadtoken": "AADToken"}


def check_name(kind: str, name: str) -> None:
    if not 3 <= len(name) <= 32 or not NAME.match(name):
        raise ArmError(
            400,
            "BadArgument",
            f"Invalid {kind} name '{name}': it must be 3-32 characters long, start with a "
            "letter, contain only letters, digits and '-', and not end with '-'.",
            target="name",
        )


def auth_mode(value: Any) -> str:
    mode = AUTH_MODES.get(str(value).lower())
    if mode is None:
        raise ArmError(
            400,
            "BadArgument",
            f"Invalid authMode '{value}'. Allowed values: Key, AMLToken, AADToken.",
            target="properties.authMode",
        )
    return mode


def _percent(value: Any, deployment: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ArmError(
            400,
            "BadArgument",
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
        raise ArmError(400, "BadArgument", "traffic and mirrorTraffic must be objects.")
    live = {name: _percent(value, name, "traffic") for name, value in traffic.items()}
    mirrored = {name: _percent(value, name, "mirrorTraffic") for name, value in mirror.items()}
    for field, values in (("traffic", live), ("mirrorTraffic", mirrored)):
        for name, value in values.items():
            deployment = endpoint.deployment(name)
            if deployment is None:
                raise ArmError(
                    400,
                    "BadArgument",
                    f"Deployment '{name}' in {field} does not exist on endpoint '{endpoint.name}'.",
                    target=f"properties.{field}",
                )
            if value > 0 and deployment.provisioning_state != "Succeeded":
                raise ArmError(
                    400,
                    "BadArgument",
                    f"Deployment '{name}' cannot receive {field}: its provisioning state is "
                    f"'{deployment.provisioning_state}'. Only deployments in state 'Succeeded' "
                    "can receive traffic.",
                    target=f"properties.{field}",
                )
    total = sum(live.values())
    if live and total not in (0, 100):
        raise ArmError(
            400,
            "BadArgument",
            f"Traffic values must add up to 100 (or all be 0); they add up to {total}.",
            target="properties.traffic",
        )
    targets = {name: value for name, value in mirrored.items() if value > 0}
    if len(targets) > 1:
        raise ArmError(
            400,
            "BadArgument",
            "Mirror traffic can go to one deployment only.",
            target="properties.mirrorTraffic",
        )
    for name, value in targets.items():
        if value > MAX_MIRROR_PERCENT:
            raise ArmError(
                400,
                "BadArgument",
                f"Mirror traffic for deployment '{name}' is {value}%; at most "
                f"{MAX_MIRROR_PERCENT}% can be mirrored.",
                target="properties.mirrorTraffic",
            )
        if live.get(name, 0) > 0:
            raise ArmError(
                400,
                "BadArgument",
                f"Deployment '{name}' receives live traffic; mirror traffic can only go to a "
                "deployment with 0% live traffic.",
                target="properties.mirrorTraffic",
            )
    return live, mirrored


def check_deployment_count(endpoint: Endpoint) -> None:
    if len(endpoint.deployments) >= MAX_DEPLOYMENTS:
        raise ArmError(
            400,
            "BadArgument",
            f"Endpoint '{endpoint.name}' already has {len(endpoint.deployments)} deployments; "
            f"an endpoint can have at most {MAX_DEPLOYMENTS}. Delete unused deployments first.",
        )


def check_instance_type(instance_type: str) -> skus.Sku:
    sku = skus.find(instance_type)
    if sku is None:
        raise ArmError(
            400,
            "UserError",
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
        raise ArmError(
            400,
            "OutOfQuota",
            f"Not enough quota available for {sku.name} in SubscriptionId {subscription}. "
            f"Current usage/limit: {used}/{limit}. Additional needed: {needed}. "
            "Azure ML reserves 20% extra instances for upgrades; request a quota increase "
            f"for the {sku.family} VM family or use fewer instances. "
            "Please see troubleshooting guide, available here: "
            "https://aka.ms/oe-tsg#error-outofquota",
        )


def check_busy(endpoint: Endpoint, what: str) -> None:
    operation = endpoint.busy()
    if operation is not None:
        raise ArmError(
            409,
            "Conflict",
            f"Another operation is in progress on endpoint '{endpoint.name}' "
            f"({operation.kind.replace('_', ' ')}, operation {operation.id}); {what} must wait "
            "until it completes.",
        )
