"""An in-memory Azure ML for the executor's unit tests: the `Platform` Protocol
(deployer/execute.py) with Azure's rules that matter to a rollout — traffic only to Succeeded
deployments and summing to 100 (or all 0), no deleting a deployment that takes traffic, one
operation at a time — plus faults, a crash at any mutating call, and a history of every change
of traffic for the invariants."""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from deployer.agreement import Scorer
from deployer.deadline import Deadline
from deployer.errors import AzureError, EndpointNotSettled
from deployer.load import Sender
from deployer.smoke import SmokeResult
from deployer.spec.model import AutoscaleSpec
from deployer.state import (
    AutoscaleState,
    DeploymentSettings,
    DeploymentState,
    EndpointState,
    NewAutoscale,
    NewEndpoint,
    ProvisioningState,
)
from deployer.tags import Owner, autoscale_tags, deployment_tags


class Killed(BaseException):
    """The process died (SIGKILL): nothing after this runs, nothing is undone."""


@dataclass
class FakeDeployment:
    name: str
    settings: DeploymentSettings
    tags: dict[str, str]
    state: ProvisioningState = ProvisioningState.SUCCEEDED
    tested_with: str | None = None  # the image a passed smoke test saw
    capacity: int | None = None  # what autoscale made of the instance count; None: as deployed

    @property
    def instances(self) -> int:
        return self.capacity if self.capacity is not None else self.settings.instance_count


@dataclass
class FakeSetting:
    """An Azure Monitor autoscale setting on one deployment."""

    name: str
    endpoint: str
    deployment: str
    setting: AutoscaleSpec
    tags: dict[str, str]
    enabled: bool = True


@dataclass
class FakeEndpoint:
    name: str
    tags: dict[str, str]
    description: str | None = None
    traffic: dict[str, int] = field(default_factory=dict)
    deployments: dict[str, FakeDeployment] = field(default_factory=dict)
    mirror: dict[str, int] = field(default_factory=dict)
    public_network_access: str = "enabled"


class FakeOperation:
    def __init__(self, description: str, apply: Callable[[], None]) -> None:
        self.description = description
        self._apply = apply

    def wait(self, deadline: Deadline, progress: Callable[[str], None]) -> None:
        deadline.check(self.description)  # as the real one does while it polls
        apply, self._apply = self._apply, lambda: None
        apply()


@dataclass
class FakeAzure:
    endpoints: dict[str, FakeEndpoint] = field(default_factory=dict)
    mutations: int = 0
    kill_at: int | None = None  # the mutating call (1-based) that never happens
    failures: dict[str, AzureError] = field(default_factory=dict)  # "deploy green" → error
    # deployment PUTs refused while the endpoint reports Updating after Succeeded
    # (Azure/azure-sdk-for-net#36961)
    unsettled: int = 0
    unhealthy: set[str] = field(default_factory=set)  # images whose deployments fail
    history: list[tuple[dict[str, int], dict[str, str | None]]] = field(default_factory=list)
    in_place: bool = False  # previews (replace) update their serving deployment in place
    calls: list[str] = field(default_factory=list)
    autoscale: dict[str, FakeSetting] = field(default_factory=dict)  # by name

    # --- reading ---------------------------------------------------------------------------------

    def endpoint(self, name: str) -> EndpointState | None:
        found = self.endpoints.get(name)
        if found is None:
            return None
        return EndpointState(
            name=found.name,
            provisioning_state=ProvisioningState.SUCCEEDED,
            auth_mode="key",
            scoring_uri=f"https://fake/{name}/score",
            swagger_uri=None,
            traffic=MappingProxyType(dict(found.traffic)),
            mirror=MappingProxyType(dict(found.mirror)),
            tags=MappingProxyType(dict(found.tags)),
            description=found.description,
            public_network_access=found.public_network_access,
            deployments=tuple(
                DeploymentState(
                    d.name,
                    d.state,
                    d.settings.instance_type,
                    d.instances,
                    dict(d.tags),
                    d.settings.egress_public_network_access,
                )
                for d in found.deployments.values()
            ),
        )

    def logs(self, endpoint: str, deployment: str, container: str, lines: int) -> str:
        return f"{container} log of {deployment}"

    def build_log(self, account: str, container: str, path: str, max_bytes: int) -> str:
        return f"build log {account}/{container}/{path}"

    def autoscale_settings(self, endpoint: str) -> tuple[AutoscaleState, ...]:
        return tuple(
            AutoscaleState(s.name, s.deployment, s.enabled, dict(s.tags))
            for s in self.autoscale.values()
            if s.endpoint == endpoint
        )

    # --- autoscale: Azure Monitor's rules (as emulator/resources/autoscale_settings.py has them)

    def put_autoscale(self, wanted: NewAutoscale, tags: Mapping[str, str]) -> None:
        name, endpoint, deployment, setting = (
            wanted.name,
            wanted.endpoint,
            wanted.deployment,
            wanted.setting,
        )
        self._mutate(f"autoscale {name}")
        target = self.endpoints.get(endpoint)
        if target is None or deployment not in target.deployments:
            raise AzureError(
                f"The target resource of autoscale setting {name} was not found",
                code="TargetResourceNotFound",
                status=400,
            )
        if not setting.min_instances <= setting.default_instances <= setting.max_instances:
            raise AzureError("minimum <= default <= maximum", code="BadRequest", status=400)
        room = setting.max_instances - setting.min_instances
        if any(rule.change_count > room for rule in setting.rules):
            raise AzureError("invalid scale action value", code="InvalidActionValue", status=400)
        self.autoscale[name] = FakeSetting(name, endpoint, deployment, setting, dict(tags))

    def enable_autoscale(self, name: str, enabled: bool) -> None:
        self._mutate(f"{'resume' if enabled else 'pause'} autoscale {name}")
        found = self.autoscale.get(name)
        if found is None:
            raise AzureError(
                f"autoscale setting {name} not found", code="ResourceNotFound", status=404
            )
        found.enabled = enabled

    def delete_autoscale(self, name: str) -> None:
        self._mutate(f"delete autoscale {name}")
        self.autoscale.pop(name, None)  # 200, or 204 when there was none

    def scale(self, endpoint: str, deployment: str, instances: int) -> None:
        """What autoscale's engine does with an enabled setting: changes the instance count."""
        setting = next(
            s
            for s in self.autoscale.values()
            if (s.endpoint, s.deployment) == (endpoint, deployment)
        )
        assert setting.enabled, f"autoscale setting {setting.name} is paused"
        found = self.endpoints[endpoint].deployments[deployment]
        found.capacity = setting.setting.clamp(instances)

    # --- changing --------------------------------------------------------------------------------

    def _mutate(self, what: str) -> None:
        self.mutations += 1
        self.calls.append(what)
        if self.kill_at is not None and self.mutations >= self.kill_at:
            raise Killed(what)
        failure = self.failures.pop(what, None)
        if failure is not None:
            raise failure

    def begin_create_endpoint(self, endpoint: NewEndpoint) -> FakeOperation:
        name = endpoint.name
        self._mutate(f"create endpoint {name}")

        def apply() -> None:
            self.endpoints[name] = FakeEndpoint(
                name, dict(endpoint.tags), public_network_access=endpoint.public_network_access
            )

        return FakeOperation(f"creating endpoint {name}", apply)

    def begin_set_public_network_access(self, name: str, access: str) -> FakeOperation:
        self._mutate(f"update endpoint {name} public network access {access}")
        endpoint = self.endpoints[name]

        def apply() -> None:
            endpoint.public_network_access = access

        return FakeOperation(f"setting public network access of {name}", apply)

    def begin_update_endpoint(
        self,
        name: str,
        tags: Mapping[str, str],
        traffic: Mapping[str, int] | None,
        description: str | None = None,
        mirror: Mapping[str, int] | None = None,
    ) -> FakeOperation:
        self._mutate(
            f"update endpoint {name}"
            + (f" traffic {dict(traffic)}" if traffic else "")
            + (f" mirror {dict(mirror)}" if mirror is not None else "")
        )
        endpoint = self.endpoints[name]
        self._check_mirror(endpoint, traffic, mirror)
        if traffic is not None:
            shares = {k: v for k, v in traffic.items() if v}
            if sum(traffic.values()) not in (0, 100):
                raise AzureError("traffic must sum to 100", code="BadArgument", status=400)
            for deployment in shares:
                found = endpoint.deployments.get(deployment)
                if found is None or found.state is not ProvisioningState.SUCCEEDED:
                    raise AzureError(
                        f"deployment {deployment} cannot take traffic",
                        code="BadArgument",
                        status=400,
                    )

        def apply() -> None:
            endpoint.tags = dict(tags)
            if description is not None:
                endpoint.description = description
            if mirror is not None:
                endpoint.mirror = {k: v for k, v in mirror.items() if v}
            if traffic is not None:
                endpoint.traffic = {k: v for k, v in traffic.items() if k in endpoint.deployments}
                self.history.append(
                    (
                        dict(endpoint.traffic),
                        {n: d.tested_with for n, d in endpoint.deployments.items()},
                    )
                )

        return FakeOperation(f"updating endpoint {name}", apply)

    @staticmethod
    def _check_mirror(
        endpoint: FakeEndpoint, traffic: Mapping[str, int] | None, mirror: Mapping[str, int] | None
    ) -> None:
        """Azure ML's mirror rules (as the emulator's emulator/resources/rules.py has them): one
        deployment, at most 50 %, never one that takes live traffic."""
        live = dict(traffic if traffic is not None else endpoint.traffic)
        mirrored = {
            k: v for k, v in (mirror if mirror is not None else endpoint.mirror).items() if v
        }
        if len(mirrored) > 1 or any(v > 50 for v in mirrored.values()):
            raise AzureError("mirror traffic: one deployment, at most 50%", status=400)
        if any(live.get(name, 0) > 0 for name in mirrored):
            raise AzureError(
                "mirror traffic can only go to a deployment with 0% live traffic", status=400
            )

    def begin_deployment(
        self, endpoint: str, name: str, settings: DeploymentSettings, tags: Mapping[str, str]
    ) -> FakeOperation:
        if self.unsettled > 0:
            self.unsettled -= 1
            self.calls.append(f"refused deploy {name}")
            raise EndpointNotSettled(
                f"Azure refused deploying {name}: Cannot create a deployment in endpoint "
                f"{endpoint} because it is in Updating provisioning state.",
                code="Conflict",
                status=409,
            )
        self._mutate(f"deploy {name}")
        target = self.endpoints[endpoint]
        if target.traffic.get(name, 0) > 0 and not self.in_place:
            # Not an Azure rule: the invariant under test (only previews update in place).
            raise AssertionError(f"deployment {name} updated in place while it takes traffic")
        existing = target.deployments.get(name)
        if existing is not None and (
            existing.settings.instance_type.lower() != settings.instance_type.lower()
            or existing.settings.egress_public_network_access.lower()
            != settings.egress_public_network_access.lower()
        ):
            # Azure's rule: neither can be changed on an existing deployment.
            raise AzureError(
                f"The request is invalid: deployment {name} cannot change its instance type "
                "or egress_public_network_access",
                code="BadRequest",
                status=400,
            )
        deployment = FakeDeployment(name, settings, dict(tags), ProvisioningState.UPDATING)
        target.deployments[name] = deployment

        def apply() -> None:
            if settings.image in self.unhealthy:
                deployment.state = ProvisioningState.FAILED
                raise AzureError(
                    f"deployment {name} failed: the container crashed",
                    code="ResourceNotReady",
                    status=None,
                )
            deployment.state = ProvisioningState.SUCCEEDED
            if existing is not None and existing.settings == settings:
                deployment.tested_with = existing.tested_with

        return FakeOperation(f"provisioning deployment {name}", apply)

    def begin_delete_deployment(self, endpoint: str, name: str) -> FakeOperation:
        self._mutate(f"delete {name}")
        target = self.endpoints[endpoint]
        if name not in target.deployments:
            raise AzureError(f"deployment {name} not found", code="NotFound", status=404)
        if target.traffic.get(name, 0) > 0 or target.mirror.get(name, 0) > 0:
            raise AzureError(
                f"deployment {name} takes traffic and cannot be deleted",
                code="BadRequest",
                status=400,
            )

        def apply() -> None:
            target.deployments.pop(name, None)
            target.traffic.pop(name, None)

        return FakeOperation(f"deleting deployment {name}", apply)

    # --- a smoke test against the fake ---------------------------------------------------------

    def smoke(
        self, endpoint: str, failing: set[str]
    ) -> Callable[[str, Deadline, bool], SmokeResult]:
        """A smoke test that passes unless the deployment runs an image in `failing`."""

        def test(deployment: str, deadline: Deadline, once: bool) -> SmokeResult:
            found = self.endpoints[endpoint].deployments[deployment]
            self.calls.append(f"smoke {deployment}")
            if found.settings.image in failing:
                return SmokeResult(False, 1, 500, 1.0, "HTTP 500")
            found.tested_with = found.settings.image
            return SmokeResult(True, 1, 200, 1.0, "")

        return test


def settings(image: str, **changes: object) -> DeploymentSettings:
    from deployer.spec.model import Probe, Route

    base = DeploymentSettings(
        image=image,
        instance_type="Standard_DS3_v2",
        instance_count=1,
        environment_variables=MappingProxyType({}),
        liveness_route=Route(5001, "/health"),
        readiness_route=Route(5001, "/ready"),
        scoring_route=Route(5001, "/score"),
        request_timeout_ms=5000,
        max_concurrent_requests_per_instance=1,
        max_queue_wait_ms=500,
        liveness_probe=Probe(10, 10, 2, 1, 30),
        readiness_probe=Probe(10, 10, 2, 1, 30),
        app_insights_enabled=False,
        egress_public_network_access="enabled",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


# The time the planners are given in the unit tests that need no particular time.
NOW = datetime.datetime.now(datetime.UTC)


class FakeClock:
    """The run's clock without sleeping (deployer/clock.py): a sleep moves time on at once, so
    a watch of minutes takes no time and still sees every second of it."""

    def __init__(self, start: datetime.datetime | None = None) -> None:
        self.start = start or datetime.datetime.now(datetime.UTC)
        self.elapsed = 0.0
        self.slept = 0.0

    def now(self) -> datetime.datetime:
        return self.start + datetime.timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float, interrupt: threading.Event) -> None:
        if interrupt.is_set():
            return
        self.elapsed += max(seconds, 0.0)
        self.slept += max(seconds, 0.0)


@dataclass
class FakeServices:
    """execute.RunServices for the unit tests: the owner's tags (none without an owner), the
    fake endpoint's smoke test, a build callable."""

    owner: Owner | None = None
    smoke: Callable[[str, Deadline, bool], SmokeResult] | None = None
    builder: Callable[[], str] | None = None
    sender: Callable[[str], Sender] | None = None  # rollout.analysis.load's, by deployment
    scoring: Scorer | None = None  # rollout.agreement's

    def deployment_tags(self, image: str, settings_hash: str) -> dict[str, str]:
        return deployment_tags(self.owner, image, settings_hash) if self.owner else {}

    def autoscale_tags(self, fingerprint: str) -> dict[str, str]:
        return autoscale_tags(self.owner, fingerprint) if self.owner else {}

    @property
    def has_smoke_test(self) -> bool:
        return self.smoke is not None

    def smoke_test(self, deployment: str, deadline: Deadline, once: bool) -> SmokeResult:
        assert self.smoke is not None
        return self.smoke(deployment, deadline, once)

    def load_sender(self, deployment: str) -> Sender:
        assert self.sender is not None, "the analysis sent load the test gave no sender for"
        return self.sender(deployment)

    def scorer(self) -> Scorer:
        assert self.scoring is not None, "the rollout compared answers the test gave no scorer for"
        return self.scoring

    def build(self) -> str:
        assert self.builder is not None, "the plan built an image the test gave no build for"
        return self.builder()

    def pull_hint(self, principal_id: str | None) -> str | None:
        return None
