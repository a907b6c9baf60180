"""Before anything is built or changed: would Azure accept what the plan creates? The VM size
(Microsoft's managed online SKU list), its family's quota (the usages API, with Azure ML's 20 %
upgrade reserve where the SKU list does not skip it) and the endpoint and deployment limits
(how-to-manage-quotas.md). What the rollout really needs is counted: blue-green and canary run
the new deployment beside the old one; a deployment reused as it is needs nothing new.

The check is pure; `preflight()` fetches what it reads."""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from deployer.analysis import Analysis, Query
from deployer.errors import PreflightFailed
from deployer.plan import Plan
from deployer.spec.skus import LIMITS, RESERVE_FACTOR, Size, find
from deployer.state import DeploymentSettings, EndpointState, Usage
from deployer.steps import WATCHES, CreateEndpoint, Provision

QUOTA_HELP = "https://ml.azure.com/quota"


class Quotas(Protocol):
    def usages(self) -> list[Usage]: ...

    def endpoints(self) -> Sequence[EndpointState]: ...


@dataclass(frozen=True)
class Need:
    deployment: str
    size: Size
    instances: int
    cores: int  # of family quota, net of what the deployment it updates holds already


def needs(plan: Plan, settings: DeploymentSettings, observed: EndpointState | None) -> list[Need]:
    """The family quota each deployment the plan provisions takes on top of what is in use."""
    size = find(settings.instance_type)
    if size is None:
        return []
    found = []
    for step in plan.steps:
        if not isinstance(step, Provision):
            continue
        cores = size.quota_cores(settings.instance_count)
        existing = observed.deployment(step.deployment) if observed else None
        held = find(existing.instance_type) if existing and not step.create else None
        if existing is not None and held is not None and held.family == size.family:
            cores -= held.quota_cores(existing.instance_count)
        found.append(Need(step.deployment, size, settings.instance_count, max(cores, 0)))
    return found


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def family_usage(usages: Sequence[Usage], family: str) -> Usage | None:
    """The family's dedicated-core entry. The usages API names it `standardDSv2Family` or, in
    the REST specification's example, `Standard DSv2 Family Cluster Dedicated vCPUs`."""
    wanted = _normal(family)
    for usage in usages:
        if usage.kind and not usage.kind.lower().endswith("vmfamily/usages"):
            continue
        for text in (usage.name, usage.id.rsplit("/", 1)[-1]):
            name = _normal(text)
            if name == wanted or (name.startswith(wanted) and "dedicated" in name):
                return usage
    return None


def _reserve_text(need: Need) -> str:
    if need.size.skip_reserve:
        return f"{need.instances} x {need.size.name} ({need.size.cores} cores; no upgrade reserve)"
    reserved = math.ceil(round(RESERVE_FACTOR * need.instances, 6))
    return (
        f"{need.instances} x {need.size.name} ({need.size.cores} cores) with Azure ML's 20% "
        f"upgrade reserve: ceil(1.2 x {need.instances}) = {reserved} instances"
    )


def check(
    plan: Plan,
    settings: DeploymentSettings,
    observed: EndpointState | None,
    usages: Sequence[Usage],
    endpoints_in_workspace: int,
) -> list[str]:
    """Warnings for what cannot be checked; PreflightFailed for what Azure would refuse."""
    warnings: list[str] = []
    provisions = [step for step in plan.steps if isinstance(step, Provision)]
    if provisions and find(settings.instance_type) is None:
        warnings.append(
            f"{settings.instance_type} is not in Microsoft's managed online endpoint SKU list: "
            "its quota is not checked before the rollout"
        )
    _check_counts(plan, observed, provisions, endpoints_in_workspace)
    total: dict[str, int] = {}
    for need in needs(plan, settings, observed):
        total[need.size.family] = total.get(need.size.family, 0) + need.cores
    for need in needs(plan, settings, observed):
        family = need.size.family
        usage = family_usage(usages, family)
        if usage is None:
            warnings.append(f"the usages API reports no quota for {family}: not checked")
            continue
        free = max(usage.limit - usage.used, 0)
        wanted = total.pop(family, 0)
        if wanted <= free:
            continue
        where = f" in {usage.location}" if usage.location else ""
        beside = (
            " (the new deployment runs beside the one serving until it takes the traffic)"
            if plan.previous and need.deployment != plan.previous
            else ""
        )
        raise PreflightFailed(
            f"deployment {need.deployment} needs {wanted} cores of {family}{where}, {free} free "
            f"(quota {usage.limit}, used {usage.used}): {_reserve_text(need)}{beside}",
            code="OutOfQuota",
            hint=f"request more {family} quota{where}: the workspace's Usage + quotas page in "
            f"the Azure portal, or {QUOTA_HELP} (see the usage with `az ml compute list-usage -g "
            "RESOURCE_GROUP -w WORKSPACE -o table`); or use fewer or smaller instances "
            "(deployment.instance_count / instance_type)",
        )
    return warnings


def _check_counts(
    plan: Plan,
    observed: EndpointState | None,
    provisions: list[Provision],
    endpoints_in_workspace: int,
) -> None:
    limit = LIMITS["endpoints_per_subscription_region"]
    if plan.has(CreateEndpoint) and endpoints_in_workspace >= limit:
        raise PreflightFailed(
            f"the workspace already has {endpoints_in_workspace} endpoints; a subscription can "
            f"have {limit} per region by default",
            code="EndpointLimit",
            hint="delete endpoints no longer needed (azureml-deploy cleanup removes expired "
            "previews), or ask for an endpoint limit increase (support request, quota type "
            "'Machine Learning Service: Endpoint Limits')",
        )
    per_endpoint = LIMITS["deployments_per_endpoint"]
    existing = len(observed.deployments) if observed else 0
    created = sum(1 for step in provisions if step.create)
    if existing + created > per_endpoint:
        raise PreflightFailed(
            f"endpoint {plan.endpoint} has {existing} deployments; creating {created} more "
            f"exceeds the {per_endpoint} an endpoint can have",
            code="DeploymentLimit",
            hint="delete deployments the endpoint no longer needs, then run again",
        )


def preflight(
    quotas: Quotas, plan: Plan, settings: DeploymentSettings, observed: EndpointState | None
) -> list[str]:
    """Reads the usages (and the workspace's endpoints, when the plan creates one), then
    checks. A plan that provisions nothing reads nothing."""
    provisions = plan.has(Provision)
    if not provisions and not plan.has(CreateEndpoint):
        return []
    usages = quotas.usages() if provisions else []
    endpoints = len(quotas.endpoints()) if plan.has(CreateEndpoint) else 0
    return check(plan, settings, observed, usages, endpoints)


def check_metrics_readable(analysis: Analysis, plan: Plan) -> None:
    """Before anything changes: the metrics the analysis will judge by can be read (a missing
    Monitoring Reader role fails the run here, not half-way through a canary)."""
    if not plan.has(WATCHES) or plan.previous is None:
        return
    now = datetime.datetime.now(datetime.UTC)
    minute = datetime.timedelta(minutes=1)
    analysis.metrics.served(Query(plan.endpoint, plan.previous, now - minute, now, False))
