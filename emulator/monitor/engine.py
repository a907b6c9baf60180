"""The autoscale engine: every `autoscale_evaluation` seconds of the timing it runs each enabled
autoscale setting whose target is an online deployment, as Azure Monitor's autoscale job does
(autoscale-understanding-settings.md, "Autoscale evaluation"), and changes the deployment's
instance count (`sku.capacity`) — what autoscale scales for managed online endpoints
(how-to-autoscale-endpoints.md: the setting's `--resource` is the deployment's id; its rules read
the deployment's or the endpoint's metrics).

The rules as Azure documents them: the profile's minimum and maximum hold first; if any
scale-out rule (`Increase`) fires, the highest capacity any of them asks for; otherwise, only if
every scale-in rule (`Decrease`) fires, the highest (least reduced) capacity they ask for, unless
that capacity would make a scale-out rule fire at once (flapping, autoscale-flapping.md: the
per-instance metric projected onto the fewer instances); no metric at all and a capacity below
the default: the default. A rule fires only once its cooldown has passed since the last scale
action. A rule's metric is sampled per `timeGrain` (`statistic` across instances), the grains of
the `timeWindow` combined by `timeAggregation`. The window is "the past N minutes" up to now
(autoscale-understanding-settings.md: "timeWindow = PT10M means that every time autoscale runs,
it queries metrics for the past 10 minutes"), newest minutes included, and it sees only what
has been ingested (`metrics_ingestion`): the newest minutes read low or empty, as the
autoscale REST specification warns (autoscale_API.json 2022-10-01, timeWindow "must be greater
than the delay in metric collection"). One minute of a rule lasts `metrics_minute` seconds of
the timing.
"""

from __future__ import annotations

import logging
import math
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass

from emulator.http import ArmError
from emulator.monitor import metrics
from emulator.monitor.periodic import Periodic
from emulator.resources import rules, skus
from emulator.resources.autoscale_settings import AutoscaleSetting, Profile, Rule, Trigger
from emulator.resources.model import Deployment, Endpoint
from emulator.resources.operations import OperationEngine
from emulator.resources.provisioning import Outcome, Provisioner
from emulator.resources.store import Store
from emulator.timing import Timing

log = logging.getLogger("emulator.autoscale")

DEPLOYMENTS_API = "2023-04-01-preview"
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "Equals": operator.eq,
    "NotEquals": operator.ne,
    "GreaterThan": operator.gt,
    "GreaterThanOrEqual": operator.ge,
    "LessThan": operator.lt,
    "LessThanOrEqual": operator.le,
}
_STATISTIC = {"Average": "average", "Min": "minimum", "Max": "maximum", "Sum": "total"}


@dataclass(frozen=True)
class Measured:
    value: float | None  # None: no data in the window
    per_instance: bool  # shrinks with more instances (projected when scaling in)


def fires(rule: Rule, measured: Measured) -> bool:
    return measured.value is not None and _COMPARE[rule.trigger.operator](
        measured.value, rule.trigger.threshold
    )


def target_capacity(rule: Rule, current: int) -> int:
    action = rule.action
    sign = {"Increase": 1, "Decrease": -1}.get(action.direction, 0)
    if action.type == "ExactCount":
        return action.value if sign else current
    if action.type == "PercentChangeCount":
        return current + sign * math.ceil(current * action.value / 100)
    if action.type == "ServiceAllowedNextValue":
        return current + sign
    return current + sign * action.value


def decide(
    profile: Profile, current: int, measured: dict[int, Measured], cooled: Callable[[Rule], bool]
) -> int:
    """The capacity a profile asks for; `measured` by the rule's index in the profile."""
    if current < profile.minimum:
        return profile.minimum
    if current > profile.maximum:
        return profile.maximum
    ups = [(i, r) for i, r in enumerate(profile.rules) if r.action.direction == "Increase"]
    downs = [(i, r) for i, r in enumerate(profile.rules) if r.action.direction == "Decrease"]
    out = [target_capacity(r, current) for i, r in ups if cooled(r) and fires(r, measured[i])]
    if out:
        return max(current, min(profile.maximum, max(out)))
    if downs and all(cooled(r) and fires(r, measured[i]) for i, r in downs):
        new = max(profile.minimum, *(target_capacity(r, current) for _, r in downs))
        if new < current and not any(
            fires(r, _projected(measured[i], current, new)) for i, r in ups
        ):
            return new
        return current
    if all(m.value is None for m in measured.values()) and current < profile.default:
        return profile.default
    return current


def _projected(measured: Measured, current: int, new: int) -> Measured:
    if measured.value is None or not measured.per_instance:
        return measured
    return Measured(measured.value * current / new, True)


def active_profile(setting: AutoscaleSetting) -> Profile:
    """The default profile (one without a fixedDate or recurrence); schedules are not run."""
    return next((p for p in setting.profiles if not p.scheduled), setting.profiles[0])


class AutoscaleEngine:
    def __init__(
        self,
        store: Store,
        operations: OperationEngine,
        provisioner: Provisioner,
        timing: Callable[[], Timing],
    ) -> None:
        self.store = store
        self.operations = operations
        self.provisioner = provisioner
        self.timing = timing
        self.job = Periodic("the autoscale engine", "autoscale_evaluation", timing, self.run)

    async def run(self) -> None:
        for setting in list(self.store.autoscale.values()):
            try:
                self.evaluate(setting)
            except Exception:  # one setting must never stop the others
                log.exception("evaluating autoscale setting %s failed", setting.id)

    def evaluate(self, setting: AutoscaleSetting) -> None:
        deployment = self.store.deployment_by_id(setting.target)
        if not setting.enabled or deployment is None or not setting.profiles:
            return
        if deployment.provisioning_state != "Succeeded" or deployment.endpoint.busy():
            return  # scaled once the running operation has ended
        profile = active_profile(setting)
        current = deployment.capacity
        minute = self.timing().duration("metrics_minute") / 60
        measured = {
            i: self._measure(r.trigger, current, minute) for i, r in enumerate(profile.rules)
        }

        def cooled(rule: Rule) -> bool:
            last = setting.last_scale
            return last is None or time.monotonic() - last >= rule.action.cooldown * minute

        new = decide(profile, current, measured, cooled)
        if new != current:
            self._scale(setting, deployment, new)

    def _measure(self, trigger: Trigger, current: int, minute: float) -> Measured:
        resource = self.store.deployment_by_id(trigger.metric_resource_uri)
        endpoint: Endpoint | None = None
        catalog = metrics.DEPLOYMENT_METRICS
        if resource is None:
            endpoint = self.store.endpoint_by_id(trigger.metric_resource_uri)
            catalog = metrics.ENDPOINT_METRICS
        definition = catalog.get(trigger.metric_name.lower())
        if definition is None or (resource is None and endpoint is None):
            return Measured(None, False)
        end = time.time()
        ingested = end - self.timing().duration("metrics_ingestion")
        grain = trigger.time_grain * minute
        start = end - trigger.time_window * minute
        count = max(1, round((end - start) / grain))
        values: list[float] = []
        for index in range(count):
            lo, hi = start + index * grain, min(end, start + (index + 1) * grain)
            value = self._grain(
                definition,
                trigger,
                deployment=resource,
                endpoint=endpoint,
                span=(lo, hi),
                ingested=ingested,
                minute=minute,
            )
            if value is not None:
                values.append(value)
        per_instance = definition.kind in ("cpu", "memory") or trigger.divide_per_instance
        if not values:
            return Measured(None, per_instance)
        combined = metrics.summary(values)[trigger.time_aggregation.lower()]
        if trigger.divide_per_instance:
            combined /= max(current, 1)
        return Measured(combined, per_instance)

    def _grain(
        self,
        definition: metrics.Definition,
        trigger: Trigger,
        *,
        deployment: Deployment | None,
        endpoint: Endpoint | None,
        span: tuple[float, float],
        ingested: float,
        minute: float,
    ) -> float | None:
        lo, hi = span
        seen = min(hi, ingested)  # the rest of the grain has not filled in yet
        statistic = _STATISTIC.get(trigger.statistic, "count")
        if definition.kind in metrics.USAGE_KINDS:
            assert deployment is not None
            samples = [
                s
                for s in self.store.usage.between(lo, seen)
                if s.deployment_id == deployment.id.lower() and _wanted(trigger, s, definition)
            ]
            return metrics.usage_values(samples, definition.kind)[statistic] if samples else None
        resource_id = (deployment.id if deployment else endpoint.id if endpoint else "").lower()
        served = [
            s
            for s in self.store.served.between(lo, seen)
            if (s.deployment_id if deployment else s.endpoint_id) == resource_id
            and (deployment is not None or not s.mirrored)
            and _wanted(trigger, s, definition)
        ]
        if definition.kind == "requests":
            minutes = max((hi - lo) / (60 * minute), 1e-9)  # a rule's minutes
            per_minute = len(served) / minutes
            return {"total": float(len(served)), "count": minutes}.get(statistic, per_minute)
        if not served:
            return None
        latencies = sorted(s.latency_ms for s in served)
        if definition.kind == "latency":
            return sum(latencies) / len(latencies)
        return metrics.percentile(latencies, int(definition.kind[1:]))

    def _scale(self, setting: AutoscaleSetting, deployment: Deployment, new: int) -> None:
        sku = skus.find(deployment.instance_type)
        if sku is None:
            return
        try:
            rules.check_quota(self.store, deployment.workspace.subscription, sku, new, deployment)
        except ArmError as refusal:
            log.warning("autoscale of %s to %d refused: %s", deployment.id, new, refusal.message)
            return
        log.info("autoscale %s: %s %d -> %d", setting.name, deployment.id, deployment.capacity, new)
        setting.last_scale = time.monotonic()
        deployment.sku = {**deployment.sku, "capacity": new}
        deployment.provisioning_state = "Scaling"
        provisioner = self.provisioner

        async def work() -> Outcome:
            return await provisioner.scale(deployment)

        self.operations.provision(
            kind="deployment_update",
            method="PATCH",
            resource=deployment,
            api_version=DEPLOYMENTS_API,
            work=work,
        )


def _wanted(trigger: Trigger, item: metrics.Item, definition: metrics.Definition) -> bool:
    names = {d.lower(): d for d in definition.dimensions}
    for dimension in trigger.dimensions:
        name = names.get(dimension.name.lower())
        if name is None:
            continue
        value = metrics.dimension(item, name)
        inside = value in dimension.values
        if inside != (dimension.operator == "Equals"):
            return False
    return True
