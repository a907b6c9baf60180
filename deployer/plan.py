"""Desired state + observed state (the endpoint, its deployments and its rollout record) → an
ordered, immutable plan of typed steps. No I/O here.

The planner starts from the rollout record, not from traffic shares: the known-good deployment
(the last to serve 100 % after a passed smoke test) is never updated or deleted while a rollout
is unfinished, and a deployment that takes traffic is never updated in place (previews'
`replace` aside). A re-run after any crash restarts the candidate's rollout: the smoke test
again before its traffic grows. Deployments the action did not create are left alone.

A plan with no steps means the known-good deployment already serves 100 % with exactly this
image and these settings, and nothing the action owns is idle: `deploy` changes nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from deployer.collector_plan import collector_notes
from deployer.errors import PolicyError
from deployer.spec.model import AutoscaleSpec, EndpointIdentity, IdentityType, ShadowSpec, Strategy
from deployer.state import (
    AutoscaleState,
    DeploymentSettings,
    EndpointState,
    autoscale_name,
    traffic_text,
)
from deployer.steps import (
    BUILD_THE_IMAGE,
    WATCHES,
    Bake,
    BuildImage,
    CreateEndpoint,
    EndpointChange,
    Mark,
    PinAutoscale,
    PlanStep,
    Provision,
    Retire,
    SetAutoscale,
    SetTraffic,
    Shadow,
    SmokeTest,
    Traffic,
    Watch,
    step_dict,
)
from deployer.tags import Record, Step, user_tags

BLUE, GREEN = "blue", "green"
# Names for the action's deployments; later ones only when someone else's deployments already
# use the first ones (the action never touches those).
DEPLOYMENT_NAMES = (BLUE, GREEN, *(f"{color}-{n}" for n in range(2, 10) for color in (BLUE, GREEN)))

# --- what is wanted, and the plan ------------------------------------------------------------


@dataclass(frozen=True)
class Desired:
    endpoint: str
    auth_mode: str
    settings: DeploymentSettings  # settings.image is "" while the image is still to be built
    strategy: Strategy
    canary_steps: tuple[int, ...] = (10, 50, 100)
    step_wait_seconds: int = 60
    keep_previous: bool = False
    keep_for: datetime.timedelta | None = None  # with keep_previous: then retired; None: kept
    smoke_test: bool = True
    image_pending: bool = False
    making: str = BUILD_THE_IMAGE  # the BuildImage step's words while pending
    description: str | None = None
    tags: Mapping[str, str] | None = None  # the deploy file's endpoint tags; None: not managed
    identity: EndpointIdentity = field(default_factory=EndpointIdentity)
    shadow: ShadowSpec | None = None
    bake_seconds: float = 0
    autoscale: AutoscaleSpec | None = None  # deployment.autoscale; None: no setting wanted
    public_network_access: str = "enabled"  # endpoint.public_network_access

    @property
    def settings_hash(self) -> str:
        return self.settings.settings_hash


@dataclass(frozen=True)
class Plan:
    endpoint: str
    endpoint_exists: bool
    strategy: Strategy
    previous: str | None  # the known-good deployment before
    target: str | None  # the deployment serving after
    steps: tuple[PlanStep, ...]
    traffic_before: Traffic = field(default_factory=lambda: MappingProxyType({}))
    mirror_before: Traffic = field(default_factory=lambda: MappingProxyType({}))
    left_alone: tuple[str, ...] = ()  # deployments not created by azureml-deploy
    record: Record = field(default_factory=Record)  # the record as observed
    notes: tuple[str, ...] = ()  # what the plan found, for the log (a resumed rollout, …)
    basis: tuple[object, ...] = ()  # EndpointState.basis() of what it was made from
    refused: tuple[str, ...] = ()  # changes of the endpoint Azure (or the action) will not make
    paused: str | None = None  # the known-good's autoscale setting paused: resumed on undo

    @property
    def is_noop(self) -> bool:
        return not self.steps

    @property
    def changes_azure(self) -> bool:
        return any(not isinstance(step, BuildImage) for step in self.steps)

    @property
    def traffic_after(self) -> dict[str, int]:
        traffic = dict(self.traffic_before)
        for step in self.steps:
            if isinstance(step, SetTraffic):
                traffic = dict(step.traffic)
            if isinstance(step, Retire):
                traffic.pop(step.deployment, None)
        return traffic

    def has(self, step_type: type[Any] | tuple[type[Any], ...]) -> bool:
        return any(isinstance(step, step_type) for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "endpoint_exists": self.endpoint_exists,
            "strategy": str(self.strategy),
            "previous_deployment": self.previous,
            "target_deployment": self.target,
            "traffic_before": dict(self.traffic_before),
            "traffic_after": self.traffic_after,
            "steps": [step_dict(step) for step in self.steps],
            "left_alone": list(self.left_alone),
            "notes": list(self.notes),
        }


# --- the planner -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """The endpoint as the planner reads it."""

    observed: EndpointState | None
    own: tuple[str, ...]
    foreign: tuple[str, ...]
    known_good: str | None
    candidate: str | None
    record: Record

    @property
    def traffic(self) -> dict[str, int]:
        return dict(self.observed.traffic) if self.observed else {}

    @property
    def mirror(self) -> dict[str, int]:
        return {n: s for n, s in self.observed.mirror.items() if s} if self.observed else {}

    @property
    def own_mirror(self) -> bool:
        """Whether live traffic is mirrored to one of the action's deployments (an earlier
        run's shadow stage, killed before it stopped the mirror)."""
        return any(name in self.own for name in self.mirror)

    def share(self, name: str | None) -> int:
        return self.observed.share(name) if self.observed else 0


def read(endpoint: str, observed: EndpointState | None) -> Seen:
    """Who is who on the endpoint: the action's deployments and everyone else's, the known-good
    one and the unfinished candidate. PolicyError when someone else's deployment takes traffic,
    or when traffic is split and no record says which deployment is known-good."""
    if observed is None:
        return Seen(None, (), (), None, None, Record())
    own = tuple(d.name for d in observed.deployments if d.ownership.managed)
    foreign = tuple(d.name for d in observed.deployments if not d.ownership.managed)
    serving_foreign = {n: observed.share(n) for n in foreign if observed.share(n) > 0}
    if serving_foreign:
        raise PolicyError(
            f"endpoint {endpoint} sends traffic to deployments azureml-deploy did not create "
            f"({traffic_text(serving_foreign)}); refusing to move traffic away from them",
            hint="set their traffic to 0% yourself (az ml online-endpoint update --traffic), or "
            "delete them, then run again; the action changes only its own deployments",
        )
    record = observed.record
    known_good = _known_good(endpoint, observed, own, record)
    candidate = record.candidate if record.candidate in own else None
    if candidate == known_good:
        candidate = None
    if candidate is None:
        # Traffic on one of the action's deployments that the record does not name: a rollout
        # whose record was cleared first (abort killed half-way). It is the candidate.
        candidate = next((n for n in own if n != known_good and observed.share(n) > 0), None)
    return Seen(observed, own, foreign, known_good, candidate, record)


def _known_good(
    endpoint: str, observed: EndpointState, own: tuple[str, ...], record: Record
) -> str | None:
    named = observed.deployment(record.known_good) if record.known_good in own else None
    if named is not None and (
        record.known_good_image is None or named.image == record.known_good_image
    ):
        return named.name
    # No record (a first deploy, an earlier version of the action), or its known-good is gone
    # or was changed behind its back: only a deployment alone at 100 % can be trusted.
    serving = {name: observed.share(name) for name in own if observed.share(name) > 0}
    if not serving:
        return None
    if len(serving) == 1 and next(iter(serving.values())) == 100:
        return next(iter(serving))
    raise PolicyError(
        f"traffic on endpoint {endpoint} is split ({traffic_text(serving)}) and no rollout "
        "record says which deployment is known-good",
        hint="send 100% to the deployment you trust (az ml online-endpoint update --traffic "
        "NAME=100), then run again; or run `azureml-deploy abort` after a rollout of this action",
    )


# Every planner is given the time: none reads the clock itself.
Planner = Callable[["Desired", EndpointState | None, datetime.datetime], "Plan"]


def make_plan(desired: Desired, observed: EndpointState | None, now: datetime.datetime) -> Plan:
    """The steps from `observed` to `desired`."""
    seen = read(desired.endpoint, observed)
    if desired.strategy is Strategy.REPLACE:
        return _replace(desired, seen, now)
    return _side_by_side(desired, seen, now)


def assemble(
    desired: Desired,
    seen: Seen,
    target: str | None,
    steps: list[PlanStep],
    notes: tuple[str, ...] = (),
) -> Plan:
    steps = _with_autoscale_retired(seen, steps)
    pinned = owned_setting(seen, seen.known_good)
    paused = (
        pinned.name
        if pinned is not None
        and (not pinned.enabled or any(isinstance(s, PinAutoscale) for s in steps))
        else None
    )
    return Plan(
        paused=paused,
        refused=tuple(_refused(desired, seen)),
        endpoint=desired.endpoint,
        endpoint_exists=seen.observed is not None,
        strategy=desired.strategy,
        previous=seen.known_good,
        target=target,
        steps=tuple(steps),
        traffic_before=MappingProxyType(seen.traffic),
        mirror_before=MappingProxyType(seen.mirror),
        left_alone=seen.foreign,
        record=seen.record,
        notes=(*_notes(seen), *_foreign_autoscale(seen), *notes, *_collector(desired, seen, steps)),
        basis=seen.observed.basis() if seen.observed is not None else (),
    )


def _collector(desired: Desired, seen: Seen, steps: list[PlanStep]) -> tuple[str, ...]:
    provisioned = [step.deployment for step in steps if isinstance(step, Provision)]
    if not provisioned:
        return ()
    serving = seen.observed.deployment(seen.known_good) if seen.observed else None
    return collector_notes(desired.settings.data_collector, serving, provisioned[-1])


def _notes(seen: Seen) -> list[str]:
    notes = []
    if seen.candidate is not None:
        share = seen.share(seen.candidate)
        notes.append(
            f"an earlier rollout of {seen.candidate} did not finish ({share}% of traffic); "
            f"{seen.known_good or 'nothing'} is the known-good deployment"
        )
    return notes


# --- autoscale: one setting of the action's, on the deployment that serves ---------------------


def _setting(seen: Seen, name: str | None) -> AutoscaleState | None:
    return seen.observed.autoscale_of(name) if seen.observed is not None and name else None


def owned_setting(seen: Seen, name: str | None) -> AutoscaleState | None:
    setting = _setting(seen, name)
    return setting if setting is not None and setting.ownership.managed else None


def _foreign_autoscale(seen: Seen) -> list[str]:
    """Settings someone else made on the action's deployments: never changed or deleted."""
    if seen.observed is None:
        return []
    return [
        f"autoscale setting {setting.name} on deployment {setting.deployment} was not made by "
        "azureml-deploy: left alone"
        for setting in seen.observed.autoscale
        if not setting.ownership.managed and setting.deployment in seen.own
    ]


def autoscale_serving(desired: Desired, seen: Seen, target: str) -> list[PlanStep]:
    """`target` (serving 100 %) with the deploy file's setting, enabled, or none of the action's;
    every other deployment of the action's without one (a setting scales what serves)."""
    steps: list[PlanStep] = []
    current = _setting(seen, target)
    if current is None or current.ownership.managed:
        if desired.autoscale is not None and not (
            current is not None
            and current.enabled
            and current.fingerprint == desired.autoscale.fingerprint
        ):
            name = current.name if current else autoscale_name(desired.endpoint, target)
            steps.append(SetAutoscale(target, desired.autoscale, name))
        elif desired.autoscale is None and current is not None:
            steps.append(SetAutoscale(target, None, current.name))
    for name in seen.own:
        other = owned_setting(seen, name)
        if name != target and other is not None:
            steps.append(SetAutoscale(name, None, other.name))
    return steps


def _with_autoscale_retired(seen: Seen, steps: list[PlanStep]) -> list[PlanStep]:
    """The action's setting of a deployment deleted just before the deployment."""
    deleted = {s.deployment for s in steps if isinstance(s, SetAutoscale) and s.setting is None}
    result: list[PlanStep] = []
    for step in steps:
        setting = owned_setting(seen, step.deployment) if isinstance(step, Retire) else None
        if setting is not None and setting.deployment not in deleted:
            result.append(SetAutoscale(setting.deployment, None, setting.name))
        result.append(step)
    return result


def _capacity(desired: Desired, seen: Seen, running: str | None) -> int | None:
    """With autoscale: the instances a deployment is provisioned with, at least what `running`
    (the known-good one, which autoscale may have scaled out) runs now, within the setting's
    bounds; None: the deploy file's instance_count."""
    if desired.autoscale is None:
        return None
    deployment = seen.observed.deployment(running) if seen.observed is not None else None
    now = deployment.instance_count if deployment is not None else 0
    count = desired.autoscale.clamp(max(desired.settings.instance_count, now))
    return count if count != desired.settings.instance_count else None


def pin(seen: Seen, live: list[PlanStep]) -> list[PlanStep]:
    """The known-good's setting paused while the candidate is watched beside it."""
    setting = owned_setting(seen, seen.known_good)
    watched = any(isinstance(step, WATCHES) for step in live)
    if setting is None or not setting.enabled or not watched or seen.known_good is None:
        return []
    return [PinAutoscale(seen.known_good, False, setting.name)]


def _immutable(desired: Desired, seen: Seen, name: str | None) -> tuple[str, ...]:
    """What the deploy file changes of deployment `name` that Azure cannot update in place."""
    deployment = seen.observed.deployment(name) if seen.observed else None
    return deployment.immutable_changes(desired.settings) if deployment else ()


def _new_deployment_notes(desired: Desired, seen: Seen, target: str) -> tuple[str, ...]:
    """Why a deployment of the action's is not updated in place: its immutable fields."""
    notes = []
    for name in seen.own:
        changed = _immutable(desired, seen, name)
        if changed and name != target:
            fields = " and ".join(changed)
            notes.append(
                f"{fields} cannot be updated in place ({name} has "
                f"{_fields_text(seen, name, changed)}): new deployment {target}"
            )
    return tuple(notes)


def _fields_text(seen: Seen, name: str, changed: tuple[str, ...]) -> str:
    deployment = seen.observed.deployment(name) if seen.observed else None
    if deployment is None:
        return ""
    values = {
        "instance_type": deployment.instance_type,
        "egress_public_network_access": deployment.egress_public_network_access,
    }
    return ", ".join(f"{field} {values[field]}" for field in changed)


def _runs_desired(desired: Desired, seen: Seen, name: str | None) -> bool:
    if desired.image_pending or seen.observed is None:
        return False
    deployment = seen.observed.deployment(name)
    return deployment is not None and deployment.runs(desired.settings)


def _endpoint_change(desired: Desired, seen: Seen) -> EndpointChange | None:
    """What Azure can update of an existing endpoint that differs from the deploy file."""
    if seen.observed is None:
        return None
    tags = None
    theirs = user_tags(seen.observed.tags)
    if desired.tags is not None and {**theirs, **desired.tags} != theirs:
        # The deploy file's tags are set; tags someone else put on the endpoint stay.
        tags = {**theirs, **desired.tags}
    description = None
    if desired.description is not None and desired.description != seen.observed.description:
        description = desired.description
    # Updatable after creation ("After you've created the endpoint, you can update this
    # setting", concept-secure-online-endpoint.md).
    access = None
    if seen.observed.public_network_access.lower() != desired.public_network_access.lower():
        access = desired.public_network_access
    if tags is None and description is None and access is None:
        return None
    return EndpointChange(tags, description, access)


def _refused(desired: Desired, seen: Seen) -> list[str]:
    """What of an existing endpoint the deploy file changes but the action will not."""
    observed = seen.observed
    if observed is None:
        return []
    refused = []
    if observed.auth_mode.lower() != desired.auth_mode.lower():
        refused.append(
            f"endpoint.auth_mode: the endpoint uses {observed.auth_mode}, the deploy file says "
            f"{desired.auth_mode}; azureml-deploy sets the auth mode only when it creates an "
            "endpoint (Azure's documentation describes it as chosen then, and every client's "
            "credentials depend on it): delete and recreate the endpoint to change it, or keep "
            f"auth_mode: {observed.auth_mode}"
        )
    if not _same_identity(desired.identity, observed):
        refused.append(
            f"endpoint.identity: the endpoint runs with {_observed_identity(observed)}, the "
            f"deploy file says {desired.identity.describe()}; Azure does not change an "
            "endpoint's identity after it is created (\"The identity for an endpoint is "
            'immutable", how-to-access-resources-from-endpoints-managed-identities.md): delete '
            "and recreate the endpoint to change it, or keep the identity it has"
        )
    return refused


def _same_identity(identity: EndpointIdentity, observed: EndpointState) -> bool:
    if identity.type is IdentityType.SYSTEM_ASSIGNED:
        return observed.identity_type == "system_assigned"
    wanted = (identity.resource_id or "").lower()
    return observed.identity_type == "user_assigned" and wanted in {
        resource_id.lower() for resource_id in observed.identity_resource_ids
    }


def _observed_identity(observed: EndpointState) -> str:
    if observed.identity_type == "user_assigned":
        return f"user-assigned identity {', '.join(observed.identity_resource_ids)}"
    return "a system-assigned identity"


def _start(desired: Desired, seen: Seen, record: Record) -> list[PlanStep]:
    """The first steps of every plan that changes something: the endpoint created, or the
    rollout recorded on it, with the run's lease (the first change a run makes) and what the
    deploy file changes of the endpoint itself; then the image."""
    first: PlanStep = (
        CreateEndpoint(record, desired.public_network_access)
        if seen.observed is None
        else Mark(record, _endpoint_change(desired, seen), seen.own_mirror)
    )
    steps: list[PlanStep] = [first]
    if desired.image_pending:
        steps.append(BuildImage(desired.making))
    return steps


def final_record(
    desired: Desired, seen: Seen, target: str, now: datetime.datetime
) -> tuple[Record, str | None]:
    """The record once `target` serves 100 %, and the deployment kept for rollback."""
    kept = None
    if desired.keep_previous and seen.known_good not in (None, target):
        kept = seen.known_good
    record = Record(
        known_good=target,
        known_good_image=desired.settings.image or None,
        known_good_settings=desired.settings_hash,
        kept=kept,
        kept_until=now + desired.keep_for if kept and desired.keep_for else None,
    )
    return record, kept


def retire_idle(
    seen: Seen, keep: set[str], now: datetime.datetime, why: str = "idle"
) -> list[PlanStep]:
    """Every deployment of the action's that will take no traffic and is not kept: retired."""
    steps: list[PlanStep] = []
    for name in seen.own:
        if name in keep:
            continue
        if name == seen.record.kept and seen.record.kept_expired(now):
            steps.append(Retire(name, "kept for rollback until " + when_text(seen.record)))
        elif name == seen.known_good:
            steps.append(Retire(name, "the previous deployment"))
        else:
            steps.append(Retire(name, why))
    return steps


def when_text(record: Record) -> str:
    return record.kept_until.strftime("%Y-%m-%d %H:%M UTC") if record.kept_until else "replaced"


def kept_still(seen: Seen, now: datetime.datetime) -> set[str]:
    record = seen.record
    if record.kept in seen.own and not record.kept_expired(now):
        return {record.kept} if record.kept else set()
    return set()


def _side_by_side(desired: Desired, seen: Seen, now: datetime.datetime) -> Plan:
    """Blue-green and canary: the candidate beside the known-good one, tested at 0 %."""
    known_good = seen.known_good
    if (
        known_good is not None
        and seen.candidate is None
        and seen.share(known_good) == 100
        and _runs_desired(desired, seen, known_good)
    ):
        # Up to date: only what is idle goes (a candidate left over, an expired kept one).
        return _tidy(desired, seen, known_good, {known_good} | kept_still(seen, now), now)

    candidate = seen.candidate
    resume = candidate is not None and _runs_desired(desired, seen, candidate)
    # A candidate Azure cannot update to the deploy file (its instance type, its egress) is
    # not reused: a new deployment is, and the old candidate retired with the idle ones.
    reusable = candidate if resume or not _immutable(desired, seen, candidate) else None
    target = reusable or _free_name(seen, desired)
    steps = _start(desired, seen, _rolling(seen, target, Step.PROVISIONING))
    if candidate is not None and seen.share(candidate) > 0 and not resume:
        # An unfinished rollout of something else: the known-good deployment takes all traffic
        # back first, so that the old candidate is changed at 0 %.
        steps.append(
            SetTraffic(all_to(known_good, seen), _rolling(seen, target, Step.PROVISIONING))
        )
    final, kept = final_record(desired, seen, target, now)
    notes = _new_deployment_notes(desired, seen, target)
    start = seen.share(target) if resume else 0
    live, live_notes = live_steps(desired, seen, target, start, final)
    steps += pin(seen, live)
    if not resume:
        count = _capacity(desired, seen, known_good)
        steps.append(Provision(target, create=target not in seen.own, instance_count=count))
        if count is not None:
            notes += (f"autoscale: {target} starts with {count} instances, as {known_good} runs",)
    if desired.smoke_test:
        steps.append(SmokeTest(target))
    steps += live
    steps += autoscale_serving(desired, seen, target)
    notes += live_notes
    # The record names one kept deployment: an older one it no longer names is retired.
    still = set() if kept else kept_still(seen, now) - {known_good}
    keep = {target} | ({kept} if kept else set()) | still
    steps += retire_idle(seen, keep, now)
    return assemble(desired, seen, target, steps, notes)


def live_steps(
    desired: Desired, seen: Seen, target: str, start: int, final: Record
) -> tuple[list[PlanStep], tuple[str, ...]]:
    """From the smoke test on: the shadow stage, the canary steps with their watches, 100 %,
    the bake, the final record. `start`: the share `target` already takes."""
    known_good = seen.known_good
    steps: list[PlanStep] = []
    notes: list[str] = []
    if desired.shadow is not None and start == 0:
        foreign = {n: s for n, s in seen.mirror.items() if n not in seen.own}
        if known_good is None:
            notes.append("no shadow stage: nothing serves live traffic yet to mirror")
        elif foreign:
            notes.append(
                f"no shadow stage: live traffic is mirrored to {traffic_text(foreign)}, a "
                "deployment azureml-deploy did not create, and Azure ML mirrors to one only"
            )
        else:
            record = _rolling(seen, target, Step.SHADOW)
            steps.append(Shadow(target, desired.shadow.percent, desired.shadow.seconds, record))
    shares = [100]
    if desired.strategy is Strategy.CANARY and known_good is not None:
        shares = [share for share in desired.canary_steps if share > start] or [100]
    for share in shares:
        if share < 100 and known_good is not None:
            record = _rolling(seen, target, Step.SHIFTING)
            steps.append(SetTraffic(_split(target, share, known_good, seen), record))
            steps.append(Watch(target, desired.step_wait_seconds, share))
        elif desired.bake_seconds and known_good is not None:
            steps.append(SetTraffic(all_to(target, seen), _rolling(seen, target, Step.BAKING)))
            steps.append(Bake(target, desired.bake_seconds))
            steps.append(SetTraffic(all_to(target, seen), final))
        else:
            steps.append(SetTraffic(all_to(target, seen), final))
    if desired.bake_seconds and known_good is None:
        notes.append("no bake: there is no previous deployment to go back to")
    return steps, tuple(notes)


def _tidy(
    desired: Desired, seen: Seen, target: str, keep: set[str], now: datetime.datetime
) -> Plan:
    """Nothing to roll out: retire what of the action's is idle and update what the deploy file
    changes of the endpoint itself, or do nothing at all."""
    retire = [*autoscale_serving(desired, seen, target), *retire_idle(seen, keep, now)]
    change = _endpoint_change(desired, seen)
    mirror = seen.own_mirror
    steps: list[PlanStep] = (
        [Mark(seen.record, change, mirror), *retire] if retire or change or mirror else []
    )
    return assemble(desired, seen, target, steps)


def _rolling(seen: Seen, candidate: str, step: Step) -> Record:
    """The record while `candidate` is being rolled out."""
    return replace(seen.record, candidate=candidate, step=step, holder=None, lease_until=None)


def _replace(desired: Desired, seen: Seen, now: datetime.datetime) -> Plan:
    """Previews: their single deployment updated in place; recreated where Azure cannot
    update it (a new deployment beside it, tested, given the traffic, then the old one
    deleted), so that the endpoint is never without a serving deployment."""
    known_good = seen.known_good
    target = known_good or seen.candidate or (sorted(seen.own)[0] if seen.own else _free_name(seen))
    if _immutable(desired, seen, target):
        return _side_by_side(replace(desired, keep_previous=False), seen, now)
    if (
        known_good is not None
        and seen.candidate is None
        and seen.share(known_good) == 100
        and _runs_desired(desired, seen, known_good)
    ):
        return _tidy(desired, seen, target, {target}, now)
    steps = _start(desired, seen, _rolling(seen, target, Step.PROVISIONING))
    count = _capacity(desired, seen, target)
    steps.append(Provision(target, create=target not in seen.own, instance_count=count))
    if desired.smoke_test:
        steps.append(SmokeTest(target))
    final, _ = final_record(replace(desired, keep_previous=False), seen, target, now)
    steps.append(SetTraffic(all_to(target, seen), final))
    steps += autoscale_serving(desired, seen, target)
    steps += retire_idle(seen, {target}, now)
    return assemble(desired, seen, target, steps)


def _free_name(seen: Seen, desired: Desired | None = None) -> str:
    """The first of blue, green, blue-2, … that is neither someone else's nor the known-good
    one (an idle one of the action's, e.g. the one kept for rollback, is updated in place,
    unless Azure cannot update it to `desired`)."""
    taken = set(seen.foreign) | {seen.known_good}
    if desired is not None:
        taken |= {name for name in seen.own if _immutable(desired, seen, name)}
    for name in DEPLOYMENT_NAMES:
        if name not in taken:
            return name
    raise PolicyError(
        "every deployment name azureml-deploy uses is taken",
        hint="delete deployments you no longer need; the action never changes deployments it "
        "did not create",
    )


def all_to(target: str | None, seen: Seen) -> dict[str, int]:
    traffic = {name: 0 for name in seen.traffic}
    if target is not None:
        traffic[target] = 100
    return traffic


def _split(target: str, share: int, known_good: str, seen: Seen) -> dict[str, int]:
    traffic = {name: 0 for name in seen.traffic}
    traffic[known_good] = 100 - share
    traffic[target] = share
    return traffic
