"""The step vocabulary of a plan: one frozen dataclass per instruction, each with its kind
(the name the plan's JSON and the job summary show), its description and its details. The
planners (plan.py) make them; the executor (execute.py) runs them, its dispatch exhaustive
(`assert_never`), so a new step is a type error until the executor knows it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from deployer.spec.model import AutoscaleSpec
from deployer.tags import Record

Traffic = Mapping[str, int]


@dataclass(frozen=True)
class BaseStep:
    """What every step has: a kind, a sentence, and the details the plan's JSON shows."""

    KIND: ClassVar[str] = ""

    @property
    def kind(self) -> str:
        return self.KIND

    def describe(self) -> str:
        raise NotImplementedError

    def details(self) -> dict[str, Any]:
        deployment = getattr(self, "deployment", None)
        return {"deployment": deployment} if deployment else {}


@dataclass(frozen=True)
class CreateEndpoint(BaseStep):
    """Create the endpoint, with `record` (and the run's lease) in its tags."""

    record: Record
    public_network_access: str = "enabled"

    KIND: ClassVar[str] = "create-endpoint"

    def describe(self) -> str:
        if self.public_network_access.lower() == "disabled":
            return "create the endpoint, public network access disabled"
        return "create the endpoint"


@dataclass(frozen=True)
class EndpointChange:
    """What of the endpoint itself changes: the deploy file's tags, its description, its
    public network access."""

    tags: Mapping[str, str] | None = None
    description: str | None = None
    public_network_access: str | None = None

    def describe(self) -> str:
        parts = [
            "tags" if self.tags is not None else "",
            "description" if self.description is not None else "",
            f"public network access (to {self.public_network_access})"
            if self.public_network_access is not None
            else "",
        ]
        return " and ".join(part for part in parts if part)


@dataclass(frozen=True)
class Mark(BaseStep):
    """Write `record` to the endpoint's tags (taking the run's lease with it), and `change`;
    with `stop_mirror`, stop the mirror an earlier run left to one of the action's deployments."""

    record: Record
    change: EndpointChange | None = None
    stop_mirror: bool = False

    KIND: ClassVar[str] = "record"

    def describe(self) -> str:
        change = f"; update the endpoint's {self.change.describe()}" if self.change else ""
        if self.stop_mirror:
            change += "; stop the mirrored traffic an earlier run left"
        if self.record.candidate:
            return f"record the rollout of {self.record.candidate}{change}"
        return f"record the run on the endpoint{change}"


BUILD_THE_IMAGE = "build and push the image"  # BuildImage's words for a container image


@dataclass(frozen=True)
class BuildImage(BaseStep):
    """Make what is deployed: build and push the image, or register Azure ML's assets."""

    KIND: ClassVar[str] = "build-image"
    making: str = BUILD_THE_IMAGE

    def describe(self) -> str:
        return self.making


@dataclass(frozen=True)
class Provision(BaseStep):
    """Create the deployment, or update it in place (only ever one with no traffic, or a
    preview's single deployment)."""

    deployment: str
    create: bool
    instance_count: int | None = None  # autoscale's: at least what the known-good one runs

    @property
    def kind(self) -> str:
        return "create-deployment" if self.create else "update-deployment"

    def describe(self) -> str:
        verb = "create" if self.create else "update"
        count = f" with {self.instance_count} instances" if self.instance_count else ""
        return f"{verb} deployment {self.deployment}{count}" + (
            " at 0% traffic" if self.create else ""
        )


@dataclass(frozen=True)
class SmokeTest(BaseStep):
    deployment: str

    KIND: ClassVar[str] = "smoke-test"

    def describe(self) -> str:
        return f"smoke-test deployment {self.deployment}"


@dataclass(frozen=True)
class SetTraffic(BaseStep):
    """Move traffic, writing `record` in the same request: the record never says more than
    the traffic does."""

    traffic: Traffic
    record: Record

    KIND: ClassVar[str] = "set-traffic"

    def details(self) -> dict[str, Any]:
        return {"traffic": dict(self.traffic)}

    def describe(self) -> str:
        return f"set traffic: {', '.join(f'{n} {s}%' for n, s in self.traffic.items())}"


@dataclass(frozen=True)
class Watch(BaseStep):
    """Wait between canary steps, testing the candidate every second and, with
    rollout.analysis, judging its live traffic."""

    deployment: str
    seconds: int
    share: int = 0  # of live traffic the candidate takes meanwhile

    KIND: ClassVar[str] = "watch"

    def details(self) -> dict[str, Any]:
        return {**super().details(), "seconds": self.seconds}

    def describe(self) -> str:
        return f"watch {self.deployment} for {self.seconds} s"


@dataclass(frozen=True)
class Shadow(BaseStep):
    """Before any live traffic: mirror `percent` of live traffic to the candidate (writing
    `record`), judge it for `seconds`; the next change of traffic stops the mirror."""

    deployment: str
    percent: int
    seconds: int
    record: Record

    KIND: ClassVar[str] = "shadow"

    def details(self) -> dict[str, Any]:
        return {
            **super().details(),
            "seconds": self.seconds,
            "mirror": {self.deployment: self.percent},
        }

    def describe(self) -> str:
        return f"mirror {self.percent}% of live traffic to {self.deployment} for {self.seconds} s"


@dataclass(frozen=True)
class Bake(BaseStep):
    """At 100 %, the known-good deployment kept: watch and judge the candidate for `seconds`
    (a breach puts all traffic back)."""

    deployment: str
    seconds: float

    KIND: ClassVar[str] = "bake"

    def details(self) -> dict[str, Any]:
        return {**super().details(), "seconds": self.seconds}

    def describe(self) -> str:
        return f"bake {self.deployment} at 100% for {self.seconds:g} s, the previous one kept"


@dataclass(frozen=True)
class Retire(BaseStep):
    deployment: str
    why: str

    KIND: ClassVar[str] = "delete-deployment"

    def describe(self) -> str:
        return f"delete deployment {self.deployment} ({self.why})"


@dataclass(frozen=True)
class SetAutoscale(BaseStep):
    """Write the action's autoscale setting `name` on `deployment`, enabled; with `setting`
    None, delete it."""

    deployment: str
    setting: AutoscaleSpec | None
    name: str

    @property
    def kind(self) -> str:
        return "set-autoscale" if self.setting is not None else "delete-autoscale"

    def describe(self) -> str:
        if self.setting is None:
            return f"delete autoscale setting {self.name} of {self.deployment}"
        rules = len(self.setting.rules)
        return (
            f"set autoscale on {self.deployment}: {self.setting.min_instances}-"
            f"{self.setting.max_instances} instances, {rules} rule{'s' if rules != 1 else ''}"
        )


@dataclass(frozen=True)
class PinAutoscale(BaseStep):
    """Pause (`enabled` false: the instance count stays as it is) or resume the action's
    autoscale setting `name` on `deployment`, so that autoscale cannot fight a rollout."""

    deployment: str
    enabled: bool
    name: str

    @property
    def kind(self) -> str:
        return "resume-autoscale" if self.enabled else "pause-autoscale"

    def describe(self) -> str:
        if self.enabled:
            return f"resume autoscale on {self.deployment}"
        return (
            f"pause autoscale on {self.deployment} (its instance count pinned during the rollout)"
        )


PlanStep = (
    CreateEndpoint
    | Mark
    | BuildImage
    | Provision
    | SmokeTest
    | Shadow
    | SetTraffic
    | Watch
    | Bake
    | Retire
    | SetAutoscale
    | PinAutoscale
)

# The steps that watch the candidate take traffic (live or mirrored): where the analysis judges.
WATCHES = (Shadow, Watch, Bake)


def kind(step: PlanStep) -> str:
    return step.kind


def step_dict(step: PlanStep) -> dict[str, Any]:
    return {"step": step.kind, "description": step.describe(), **step.details()}
