"""Desired state + observed state → an ordered, immutable plan. No I/O here.

A plan with no steps means the endpoint already runs exactly this image with exactly these
settings at 100 % traffic: `deploy` then changes nothing at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from deployer.azure import DeploymentSettings, EndpointState
from deployer.errors import PolicyError
from deployer.spec.model import Strategy

BLUE, GREEN = "blue", "green"
# Names for the action's deployments; later ones only when someone else's deployments already
# use the first ones (the action never touches those).
DEPLOYMENT_NAMES = (BLUE, GREEN, *(f"{color}-{n}" for n in range(2, 10) for color in (BLUE, GREEN)))


class StepKind(StrEnum):
    CREATE_ENDPOINT = "create-endpoint"
    BUILD_IMAGE = "build-image"
    CREATE_DEPLOYMENT = "create-deployment"
    UPDATE_DEPLOYMENT = "update-deployment"
    SMOKE_TEST = "smoke-test"
    SET_TRAFFIC = "set-traffic"
    WAIT = "wait"
    DELETE_DEPLOYMENT = "delete-deployment"


@dataclass(frozen=True)
class Step:
    kind: StepKind
    deployment: str | None = None
    traffic: Mapping[str, int] | None = None
    seconds: int | None = None

    def describe(self) -> str:
        if self.kind is StepKind.SET_TRAFFIC and self.traffic is not None:
            shares = ", ".join(f"{name} {share}%" for name, share in self.traffic.items())
            return f"set traffic: {shares}"
        if self.kind is StepKind.WAIT:
            return f"watch for {self.seconds} s"
        if self.kind is StepKind.CREATE_DEPLOYMENT:
            return f"create deployment {self.deployment} at 0% traffic"
        if self.kind is StepKind.UPDATE_DEPLOYMENT:
            return f"update deployment {self.deployment}"
        if self.kind is StepKind.SMOKE_TEST:
            return f"smoke-test deployment {self.deployment}"
        if self.kind is StepKind.DELETE_DEPLOYMENT:
            return f"delete deployment {self.deployment}"
        if self.kind is StepKind.BUILD_IMAGE:
            return "build and push the image"
        return "create the endpoint"

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"step": str(self.kind), "description": self.describe()}
        if self.deployment:
            data["deployment"] = self.deployment
        if self.traffic is not None:
            data["traffic"] = dict(self.traffic)
        if self.seconds is not None:
            data["seconds"] = self.seconds
        return data


@dataclass(frozen=True)
class Desired:
    endpoint: str
    auth_mode: str
    settings: DeploymentSettings  # settings.image is "" while the image is still to be built
    strategy: Strategy
    canary_steps: tuple[int, ...] = (10, 50, 100)
    step_wait_seconds: int = 60
    keep_previous: bool = False
    smoke_test: bool = True
    image_pending: bool = False

    @property
    def settings_hash(self) -> str:
        return settings_hash(self.settings)


@dataclass(frozen=True)
class Plan:
    endpoint: str
    endpoint_exists: bool
    strategy: Strategy
    previous: str | None  # the deployment serving before
    target: str | None  # the deployment serving after
    steps: tuple[Step, ...]
    traffic_before: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    left_alone: tuple[str, ...] = ()  # deployments not created by azureml-deploy

    @property
    def is_noop(self) -> bool:
        return not self.steps

    @property
    def traffic_after(self) -> dict[str, int]:
        traffic = dict(self.traffic_before)
        for step in self.steps:
            if step.kind is StepKind.SET_TRAFFIC and step.traffic is not None:
                traffic = dict(step.traffic)
            if step.kind is StepKind.DELETE_DEPLOYMENT and step.deployment:
                traffic.pop(step.deployment, None)
        return traffic

    def has(self, kind: StepKind) -> bool:
        return any(step.kind is kind for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "endpoint_exists": self.endpoint_exists,
            "strategy": str(self.strategy),
            "previous_deployment": self.previous,
            "target_deployment": self.target,
            "traffic_before": dict(self.traffic_before),
            "traffic_after": self.traffic_after,
            "steps": [step.as_dict() for step in self.steps],
            "left_alone": list(self.left_alone),
        }


def settings_hash(settings: DeploymentSettings) -> str:
    """What identifies a deployment's settings, the image aside."""
    data = {
        item.name: getattr(settings, item.name) for item in fields(settings) if item.name != "image"
    }
    canonical = json.dumps(data, sort_keys=True, default=dict)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def make_plan(desired: Desired, observed: EndpointState | None) -> Plan:
    """The steps from `observed` to `desired`. Deployments the action did not create are left
    alone: the plan neither updates nor deletes them, and refuses (PolicyError) while one of
    them takes traffic, since moving traffic would change what it serves."""
    traffic_before = dict(observed.traffic) if observed else {}
    own, foreign = _split_by_owner(observed)
    serving = {name: traffic_before[name] for name in foreign if traffic_before.get(name, 0) > 0}
    if serving:
        shares = ", ".join(f"{name} {share}%" for name, share in serving.items())
        raise PolicyError(
            f"endpoint {desired.endpoint} sends traffic to deployments azureml-deploy did not "
            f"create ({shares}); refusing to move traffic away from them",
            hint="set their traffic to 0% yourself (az ml online-endpoint update --traffic), or "
            "delete them, then run again; the action changes only its own deployments",
        )
    live = _live(own, traffic_before)
    if observed is not None and _already_deployed(desired, observed, live):
        return Plan(
            desired.endpoint, True, desired.strategy, live, live, (), traffic_before, foreign
        )

    steps: list[Step] = []
    if observed is None:
        steps.append(Step(StepKind.CREATE_ENDPOINT))
    if desired.image_pending:
        steps.append(Step(StepKind.BUILD_IMAGE))
    if desired.strategy is Strategy.REPLACE:
        target = live or (sorted(own)[0] if own else _free_name(foreign, avoid=None))
        steps += _replace(desired, target, set(own), traffic_before)
    else:
        target = _free_name(foreign, avoid=live)
        steps += _side_by_side(desired, target, live, set(own), traffic_before)
    return Plan(
        desired.endpoint,
        observed is not None,
        desired.strategy,
        live,
        target,
        tuple(steps),
        traffic_before,
        foreign,
    )


def _split_by_owner(observed: EndpointState | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the action's deployments, everyone else's), by their tags."""
    if observed is None:
        return (), ()
    own = tuple(d.name for d in observed.deployments if d.ownership.managed)
    foreign = tuple(d.name for d in observed.deployments if not d.ownership.managed)
    return own, foreign


def _live(own: tuple[str, ...], traffic: Mapping[str, int]) -> str | None:
    """The action's deployment with the most traffic (None when none of them has any)."""
    serving = [(traffic.get(name, 0), name) for name in own if traffic.get(name, 0) > 0]
    return max(serving)[1] if serving else None


def _free_name(foreign: tuple[str, ...], avoid: str | None) -> str:
    """The first of blue, green, blue-2, … that is neither someone else's nor `avoid`."""
    for name in DEPLOYMENT_NAMES:
        if name not in foreign and name != avoid:
            return name
    raise PolicyError(
        "every deployment name azureml-deploy uses is taken by deployments it did not create",
        hint="delete some of them; the action never changes deployments it did not create",
    )


def _provision(target: str, existing: set[str]) -> Step:
    kind = StepKind.UPDATE_DEPLOYMENT if target in existing else StepKind.CREATE_DEPLOYMENT
    return Step(kind, target)


def _replace(
    desired: Desired, target: str, existing: set[str], before: Mapping[str, int]
) -> list[Step]:
    """Update the single deployment in place (previews)."""
    steps = [_provision(target, existing)]
    if desired.smoke_test:
        steps.append(Step(StepKind.SMOKE_TEST, target))
    if before.get(target) != 100:
        steps.append(Step(StepKind.SET_TRAFFIC, traffic=_all_to(target, before)))
    return steps


def _side_by_side(
    desired: Desired,
    target: str,
    live: str | None,
    existing: set[str],
    before: Mapping[str, int],
) -> list[Step]:
    """Blue-green and canary: the new deployment beside the live one, tested at 0 %."""
    steps = [_provision(target, existing)]
    if desired.smoke_test:
        steps.append(Step(StepKind.SMOKE_TEST, target))
    if desired.strategy is Strategy.CANARY and live is not None:
        for share in desired.canary_steps:
            steps.append(Step(StepKind.SET_TRAFFIC, traffic=_split(target, share, live, before)))
            if share < 100:
                steps.append(Step(StepKind.WAIT, seconds=desired.step_wait_seconds))
                if desired.smoke_test:
                    steps.append(Step(StepKind.SMOKE_TEST, target))
    else:
        steps.append(Step(StepKind.SET_TRAFFIC, traffic=_all_to(target, before)))
    keep = desired.strategy is Strategy.BLUE_GREEN and desired.keep_previous
    if live is not None and not keep:
        steps.append(Step(StepKind.DELETE_DEPLOYMENT, live))
    return steps


def _already_deployed(desired: Desired, observed: EndpointState, live: str | None) -> bool:
    if desired.image_pending or live is None or observed.traffic.get(live) != 100:
        return False
    deployment = observed.deployment(live)
    return (
        deployment is not None
        and deployment.provisioning_state == "Succeeded"
        and deployment.image == desired.settings.image
        and deployment.settings_hash == desired.settings_hash
    )


def _all_to(target: str, before: Mapping[str, int]) -> dict[str, int]:
    traffic = {name: 0 for name in before}
    traffic[target] = 100
    return traffic


def _split(target: str, share: int, live: str, before: Mapping[str, int]) -> dict[str, int]:
    traffic = {name: 0 for name in before}
    traffic[live] = 100 - share
    traffic[target] = share
    return traffic
