"""Azure Monitor autoscale settings (`Microsoft.Insights/autoscaleSettings`, api-version
2022-10-01 as azure-mgmt-monitor 7.0 sends it): the resource, and the checks Azure documents.

Sources: the REST specification as azure-mgmt-monitor's models carry it (AutoscaleSettingResource:
location and profiles required, "A maximum of 20 profiles", `enabled` defaults to false, at most
15 tags of keys up to 128 and values up to 256 characters; AutoscaleProfile: name, capacity and
rules required, "A maximum of 10 rules"; MetricTrigger: metricName, metricResourceUri,
timeGrain, statistic, timeWindow, timeAggregation, operator and threshold required, timeGrain
"between 12 hours and 1 minute"; ScaleAction: direction, type and cooldown required, value "1 or
greater", cooldown "between 1 week and 1 minute"); the time window's lower bound is one minute,
not the specification's five (Azure/azure-powershell#11556: "we support a minimum of 1 minute
(PT1M)" for all but Cloud Services). Messages Azure is known to send: the minimum above the
default (microsoft/onefuzz#2249) and a ChangeCount larger than maximum - minimum
(`InvalidActionValue`, Azure/bicep-types-az#1859).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from emulator.http import ArmError
from emulator.resources import durations

TYPE = "Microsoft.Insights/autoscaleSettings"
MAX_PROFILES = 20
MAX_RULES = 10
MAX_TAGS = 15
STATISTICS = ("Average", "Min", "Max", "Sum", "Count")
TIME_AGGREGATIONS = ("Average", "Minimum", "Maximum", "Total", "Count", "Last")
OPERATORS = (
    "Equals",
    "NotEquals",
    "GreaterThan",
    "GreaterThanOrEqual",
    "LessThan",
    "LessThanOrEqual",
)
DIRECTIONS = ("None", "Increase", "Decrease")
SCALE_TYPES = ("ChangeCount", "PercentChangeCount", "ExactCount", "ServiceAllowedNextValue")
DIMENSION_OPERATORS = ("Equals", "NotEquals")
MINUTE, HOUR, WEEK = 60.0, 3600.0, 7 * 86400.0


@dataclass(frozen=True)
class Dimension:
    name: str
    operator: str  # Equals: any of the values; NotEquals: none of them
    values: tuple[str, ...]


@dataclass(frozen=True)
class Trigger:
    metric_name: str
    metric_resource_uri: str
    time_grain: float  # seconds of Azure's clock
    statistic: str
    time_window: float
    time_aggregation: str
    operator: str
    threshold: float
    dimensions: tuple[Dimension, ...]
    divide_per_instance: bool


@dataclass(frozen=True)
class Action:
    direction: str
    type: str
    value: int
    cooldown: float


@dataclass(frozen=True)
class Rule:
    trigger: Trigger
    action: Action


@dataclass(frozen=True)
class Profile:
    name: str
    minimum: int
    maximum: int
    default: int
    rules: tuple[Rule, ...]
    scheduled: bool  # has a fixedDate or a recurrence


@dataclass
class AutoscaleSetting:
    subscription: str
    resource_group: str
    name: str
    location: str
    tags: dict[str, str]
    properties: dict[str, Any]  # as stored and answered
    profiles: tuple[Profile, ...]
    created: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))
    modified: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))
    last_scale: float | None = None  # time.monotonic() of the engine's last scale action

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.subscription.lower(), self.resource_group.lower(), self.name.lower())

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/microsoft.insights/autoscalesettings/{self.name}"
        )

    @property
    def enabled(self) -> bool:
        return bool(self.properties.get("enabled"))

    @property
    def target(self) -> str:
        return str(self.properties.get("targetResourceUri") or "")

    def rest(self) -> dict[str, Any]:
        stamp = "%Y-%m-%dT%H:%M:%S.%fZ"
        return {
            "id": self.id,
            "name": self.name,
            "type": TYPE,
            "location": self.location,
            "tags": self.tags,
            "properties": self.properties,
            "systemData": {
                "createdBy": "azureml-deploy emulator",
                "createdByType": "Application",
                "createdAt": self.created.strftime(stamp),
                "lastModifiedBy": "azureml-deploy emulator",
                "lastModifiedByType": "Application",
                "lastModifiedAt": self.modified.strftime(stamp),
            },
        }


def _bad(message: str, code: str = "BadRequest", target: str | None = None) -> ArmError:
    return ArmError(400, code, message, target=target)


def check_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise _bad("tags must be an object of string values.", target="tags")
    if len(tags) > MAX_TAGS:
        raise _bad(f"A maximum of {MAX_TAGS} tags can be provided for a resource.", target="tags")
    for key, value in tags.items():
        if len(str(key)) > 128 or len(str(value)) > 256:
            raise _bad(
                "Each tag must have a key no greater in length than 128 characters and a value "
                "no greater in length than 256 characters.",
                target="tags",
            )
    return {str(k): str(v) for k, v in tags.items()}


def parse_properties(given: Any) -> tuple[dict[str, Any], tuple[Profile, ...]]:
    """The properties as stored (with the service's defaults) and their profiles."""
    if not isinstance(given, dict):
        raise _bad("The request content is missing properties.", "UnsupportedRequestContent")
    if not given.get("targetResourceUri"):
        raise _bad(
            "targetResourceUri is required: the resource the autoscale setting scales.",
            "UnsupportedRequestContent",
            "properties.targetResourceUri",
        )
    raw = given.get("profiles")
    if not isinstance(raw, list) or not raw:
        raise _bad(
            "An autoscale setting is composed of one or more profiles.",
            target="properties.profiles",
        )
    if len(raw) > MAX_PROFILES:
        raise _bad(
            f"A maximum of {MAX_PROFILES} profiles can be specified (got {len(raw)}).",
            target="properties.profiles",
        )
    profiles = tuple(_profile(p, f"properties.profiles[{i}]") for i, p in enumerate(raw))
    properties = {
        **given,
        "profiles": raw,
        "notifications": given.get("notifications") or [],
        "enabled": bool(given.get("enabled", False)),
        "predictiveAutoscalePolicy": given.get("predictiveAutoscalePolicy")
        or {"scaleMode": "Disabled"},
        "targetResourceUri": str(given["targetResourceUri"]),
    }
    return properties, profiles


def _profile(raw: Any, where: str) -> Profile:
    if not isinstance(raw, dict) or not raw.get("name"):
        raise _bad("A profile needs a name, a capacity and rules.", target=where)
    capacity = raw.get("capacity")
    if not isinstance(capacity, dict):
        raise _bad("A profile needs a capacity (minimum, maximum, default).", target=where)
    minimum, maximum, default = (
        _count(capacity.get(k), f"{where}.capacity.{k}") for k in ("minimum", "maximum", "default")
    )
    if minimum > default:
        raise _bad(
            f"The minimum capacity value '{minimum}' that you specified in the autoscale "
            f"setting is greater than the default capacity of '{default}'.  Enter a minimum "
            f"capacity less than '{default}'.",
            target=f"{where}.capacity",
        )
    if minimum > maximum or default > maximum:
        raise _bad(
            f"The capacity maximum '{maximum}' is below the minimum '{minimum}' or the default "
            f"'{default}'.",
            target=f"{where}.capacity",
        )
    rules = raw.get("rules")
    if not isinstance(rules, list):
        raise _bad("A profile needs rules (a list, possibly empty).", target=f"{where}.rules")
    if len(rules) > MAX_RULES:
        raise _bad(
            f"A maximum of {MAX_RULES} rules can be specified (got {len(rules)}).",
            target=f"{where}.rules",
        )
    parsed = tuple(
        _rule(rule, f"{where}.rules[{i}]", minimum, maximum) for i, rule in enumerate(rules)
    )
    scheduled = bool(raw.get("fixedDate") or raw.get("recurrence"))
    return Profile(str(raw["name"]), minimum, maximum, default, parsed, scheduled)


def _count(value: Any, where: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise _bad(f"{where} must be a whole number of instances (got {value!r}).") from None
    if number < 0:
        raise _bad(f"{where} cannot be negative (got {number}).", target=where)
    return number


def _rule(raw: Any, where: str, minimum: int, maximum: int) -> Rule:
    if not isinstance(raw, dict):
        raise _bad("A rule needs a metricTrigger and a scaleAction.", target=where)
    trigger, action = raw.get("metricTrigger"), raw.get("scaleAction")
    if not isinstance(trigger, dict) or not isinstance(action, dict):
        raise _bad("A rule needs a metricTrigger and a scaleAction.", target=where)
    for name in (
        "metricName",
        "metricResourceUri",
        "timeGrain",
        "statistic",
        "timeWindow",
        "timeAggregation",
        "operator",
        "threshold",
    ):
        if trigger.get(name) in (None, ""):
            raise _bad(f"metricTrigger.{name} is required.", target=f"{where}.metricTrigger")
    for name in ("direction", "type", "cooldown"):
        if action.get(name) in (None, ""):
            raise _bad(f"scaleAction.{name} is required.", target=f"{where}.scaleAction")
    grain = _period(trigger["timeGrain"], f"{where}.metricTrigger.timeGrain", MINUTE, 12 * HOUR)
    window = _period(trigger["timeWindow"], f"{where}.metricTrigger.timeWindow", MINUTE, 12 * HOUR)
    cooldown = _period(action["cooldown"], f"{where}.scaleAction.cooldown", MINUTE, WEEK)
    try:
        threshold = float(trigger["threshold"])
    except (TypeError, ValueError):
        raise _bad(f"{where}.metricTrigger.threshold must be a number.") from None
    scale_type = _known(action["type"], SCALE_TYPES, f"{where}.scaleAction.type")
    value = _count(action.get("value", "1"), f"{where}.scaleAction.value")
    if value < 1:
        raise _bad("The scale action value must be 1 or greater.", target=f"{where}.scaleAction")
    if scale_type == "ChangeCount" and value > maximum - minimum:
        raise _bad(
            f"The autoscale setting you provided has an invalid scale action value "
            f"('{value}'). Specify a scale value less than or equal to the difference between "
            f"the capacity maximum {maximum} and the capacity minimum {minimum}.",
            "InvalidActionValue",
        )
    dimensions = tuple(
        Dimension(
            str(d.get("DimensionName") or d.get("dimensionName") or ""),
            _known(
                d.get("Operator") or d.get("operator"),
                DIMENSION_OPERATORS,
                f"{where}.metricTrigger.dimensions.operator",
            ),
            tuple(str(v) for v in (d.get("Values") or d.get("values") or [])),
        )
        for d in trigger.get("dimensions") or []
        if isinstance(d, dict)
    )
    return Rule(
        Trigger(
            metric_name=str(trigger["metricName"]),
            metric_resource_uri=str(trigger["metricResourceUri"]),
            time_grain=grain,
            statistic=_known(trigger["statistic"], STATISTICS, f"{where}.metricTrigger.statistic"),
            time_window=window,
            time_aggregation=_known(
                trigger["timeAggregation"],
                TIME_AGGREGATIONS,
                f"{where}.metricTrigger.timeAggregation",
            ),
            operator=_known(trigger["operator"], OPERATORS, f"{where}.metricTrigger.operator"),
            threshold=threshold,
            dimensions=dimensions,
            divide_per_instance=bool(trigger.get("dividePerInstance", False)),
        ),
        Action(
            direction=_known(action["direction"], DIRECTIONS, f"{where}.scaleAction.direction"),
            type=scale_type,
            value=value,
            cooldown=cooldown,
        ),
    )


def _period(value: Any, where: str, low: float, high: float) -> float:
    try:
        seconds = durations.seconds(str(value))
    except ValueError:
        raise _bad(f"{where} must be an ISO 8601 duration such as PT5M (got {value!r}).") from None
    if not low <= seconds <= high:
        raise _bad(
            f"{where} must be between {_human(low)} and {_human(high)} (got {value}).",
            target=where,
        )
    return seconds


def _human(seconds: float) -> str:
    for unit, size in (("week", WEEK), ("hours", HOUR), ("minute", MINUTE)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}" if count == 1 or unit == "hours" else f"{count} {unit}s"
    return f"{seconds:g} seconds"


def _known(value: Any, allowed: tuple[str, ...], where: str) -> str:
    for name in allowed:
        if str(value).lower() == name.lower():
            return name
    raise _bad(
        f"{where} '{value}' is not one of {', '.join(allowed)}.",
        target=where,
    )
