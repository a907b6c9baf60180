"""Azure Monitor's metrics REST API (`GET {resource id}/providers/Microsoft.Insights/metrics`,
api-version 2024-02-01 as azure-mgmt-monitor 7.0 sends it) over the requests the gateway served.

Metric names, units, default aggregations and dimensions are Azure's, from the generated
supported-metrics tables (azure-monitor-docs, reference/supported-metrics/
microsoft-machinelearningservices-workspaces-onlineendpoints-metrics and
...-onlineendpoints-deployments-metrics). Query grammar (timespan `start/end`, interval an ISO
8601 duration or `FULL`, comma-separated `metricnames` and `aggregation`, `$filter` of
`dim eq 'value'` clauses joined by `and`, `or` only between values of one dimension, `'*'` to
split) from the Metrics - List operation's documentation in azure-mgmt-monitor.

Azure Monitor keeps platform metrics as one value per minute (every metric of these tables has
the one time grain PT1M) and answers every query from those minutes: a coarser grain, or FULL,
aggregates the minutes' values — so P99 over a span is "the average P99 request latency
aggregated by all request latency values collected over the selected time period" (the
tables' description), the mean of the minutes' P99, and `RequestsPerMinute` Average is the mean
of the minutes' counts. A query sees every minute its timespan overlaps, whole. The newest
minutes fill in late: a request counts once `metrics_ingestion` has passed (emulator/timing.py),
so the last minutes read low until then. One minute lasts `metrics_minute` seconds of the
timing (60 in `azure`, 1 in `fast`).
"""

from __future__ import annotations

import datetime
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from emulator.errors import BadRequest, SamplingTypeNotFound
from emulator.resources.served import Served, ServedLog
from emulator.resources.usage import Sample, UsageLog

ENDPOINT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEPLOYMENT_NAMESPACE = ENDPOINT_NAMESPACE + "/deployments"
AGGREGATIONS = ("average", "minimum", "maximum", "total", "count")
# The aggregations each metric's row lists (supported-metrics tables, "Aggregation"): the
# request and latency metrics Average only; CPU, memory and capacity Minimum, Maximum, Average.
REQUEST_AGGREGATIONS = ("average",)
USAGE_AGGREGATIONS = ("minimum", "maximum", "average")
USAGE_KINDS = ("cpu", "memory", "capacity")  # sampled from the instances, not served requests
Item = Served | Sample


@dataclass(frozen=True)
class Definition:
    name: str
    display: str
    description: str
    unit: str
    dimensions: tuple[str, ...]
    # "requests" (counted per minute), "latency" (the mean), "p50" … "p99", or one of
    # USAGE_KINDS: "cpu", "memory" (percent of an instance), "capacity" (instances)
    kind: str
    aggregations: tuple[str, ...] = REQUEST_AGGREGATIONS


def _latencies(dimensions: tuple[str, ...]) -> list[Definition]:
    return [
        Definition(
            f"RequestLatency_P{p}",
            f"Request Latency P{p}",
            f"The average P{p} request latency aggregated by all request latency values "
            "collected over the selected time period",
            "Milliseconds",
            dimensions,
            f"p{p}",
        )
        for p in (50, 90, 95, 99)
    ]


ENDPOINT_METRICS = {
    d.name.lower(): d
    for d in [
        Definition(
            "RequestsPerMinute",
            "Requests Per Minute",
            "The number of requests sent to online endpoint within a minute",
            "Count",
            ("deployment", "statusCode", "statusCodeClass", "modelStatusCode"),
            "requests",
        ),
        Definition(
            "RequestLatency",
            "Request Latency",
            "The average complete interval of time taken for a request to be responded in "
            "milliseconds",
            "Milliseconds",
            ("deployment",),
            "latency",
        ),
        *_latencies(("deployment",)),
    ]
}
DEPLOYMENT_METRICS = {
    d.name.lower(): d
    for d in [
        Definition(
            "RequestsPerMinute",
            "Requests Per Minute",
            "The number of requests sent to online deployment within a minute",
            "Count",
            ("envoy_response_code",),
            "requests",
        ),
        *_latencies(()),
        Definition(
            "CpuUtilizationPercentage",
            "CPU Utilization Percentage",
            "Percentage of CPU utilization on an instance. Utilization is reported at one "
            "minute intervals.",
            "Percent",
            ("instanceId",),
            "cpu",
            USAGE_AGGREGATIONS,
        ),
        Definition(
            "CpuMemoryUtilizationPercentage",
            "CPU Memory Utilization Percentage",
            "Percentage of memory utilization on an instance. Utilization is reported at one "
            "minute intervals.",
            "Percent",
            ("instanceId",),
            "memory",
            USAGE_AGGREGATIONS,
        ),
        Definition(
            "DeploymentCapacity",
            "Deployment Capacity",
            "The number of instances in the deployment.",
            "Count",
            ("instanceId", "State"),
            "capacity",
            USAGE_AGGREGATIONS,
        ),
    ]
}


def dimension(item: Item, name: str) -> str:
    if isinstance(item, Sample):
        return {"instanceid": item.instance_id, "state": item.state}[name.lower()]
    served = item
    return {
        "deployment": served.deployment,
        "statuscode": str(served.status),
        "statuscodeclass": f"{served.status // 100}xx",
        "modelstatuscode": "" if served.model_status is None else str(served.model_status),
        "envoy_response_code": str(served.envoy_status),
    }[name.lower()]


@dataclass(frozen=True)
class Query:
    resource_id: str
    namespace: str
    metrics: tuple[Definition, ...]
    start: datetime.datetime
    end: datetime.datetime
    interval: str  # as asked: an ISO 8601 duration, or FULL
    grain: float | None  # seconds; None: FULL
    aggregations: tuple[str, ...]
    filters: dict[str, set[str] | None]  # dimension (as defined) → values; None: '*'
    # Metrics - List's `top`: "the maximum number of records to retrieve per resource ID in the
    # request. Valid only if filter is specified. Defaults to 10." (the REST reference)
    top: int = 10


def parse(
    resource_id: str, namespace: str, params: dict[str, str], now: datetime.datetime
) -> Query:
    catalog = DEPLOYMENT_METRICS if namespace == DEPLOYMENT_NAMESPACE else ENDPOINT_METRICS
    names = [n.strip() for n in params.get("metricnames", "").split(",") if n.strip()]
    if not names:
        raise BadRequest("metricnames is required: the metrics to retrieve.")
    unknown = [n for n in names if n.lower() not in catalog]
    if unknown:
        valid = ", ".join(d.name for d in catalog.values())
        raise BadRequest(
            f"Failed to find metric configuration for provider: "
            f"Microsoft.MachineLearningServices, resource Type: {namespace.split('/', 1)[1]}, "
            f"metric: {unknown[0]}, Valid metrics: {valid}",
        )
    metrics = tuple(catalog[n.lower()] for n in names)
    start, end = _timespan(params.get("timespan"), now)
    interval = params.get("interval") or "PT1M"
    grain = None if interval.upper() == "FULL" else _grain(interval)
    aggregations = tuple(
        a.strip().lower() for a in (params.get("aggregation") or "average").split(",")
    )
    if any(a not in AGGREGATIONS for a in aggregations):
        raise BadRequest(
            f"Invalid aggregation {params.get('aggregation')!r}: use "
            "Average, Minimum, Maximum, Total or Count.",
        )
    for metric in metrics:
        unsupported = [a for a in aggregations if a not in metric.aggregations]
        if unsupported:
            # How Azure Monitor answered an aggregation a metric does not list
            # (open-telemetry/opentelemetry-collector-contrib#43648 and #43880: 501 Not
            # Implemented, "Sampling type is not found. Metric:<account>, <metric>"); the
            # Metrics - List reference documents no such error (emulator/README.md, Differences)
            raise SamplingTypeNotFound(
                f"Sampling type is not found. Metric:{namespace}, {metric.name}, "
                f"Sampling type:{unsupported[0].capitalize()}",
            )
    dimensions = {dim.lower(): dim for m in metrics for dim in m.dimensions}
    filters = _filter(params.get("$filter") or "", dimensions)
    top = params.get("top") or "10"
    if not top.isdigit() or int(top) < 1:
        raise BadRequest(f"Detected invalid TopN value {top!r}: it should be a positive integer.")
    return Query(
        resource_id,
        namespace,
        metrics,
        start,
        end,
        interval,
        grain,
        aggregations,
        filters,
        int(top),
    )


def _timespan(
    text: str | None, now: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime]:
    if not text:
        return now - datetime.timedelta(hours=1), now
    first, _, second = text.partition("/")
    try:
        start = _instant(first)
        end = (
            _instant(second)
            if not second.upper().startswith("P")
            else (start + datetime.timedelta(seconds=_duration(second)))
        )
    except ValueError:
        raise BadRequest(f"Invalid timespan {text!r}: use 'start/end' in ISO 8601.") from None
    if end <= start:
        raise BadRequest(f"Invalid timespan {text!r}: its end is not after its start.")
    return start, end


def _instant(text: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$", re.I)


def _duration(text: str) -> float:
    match = _DURATION.match(text.strip())
    if match is None or not any(match.groups()):
        raise BadRequest(
            f"Invalid interval {text!r}: an ISO 8601 duration such as PT1M, PT1H, P1D, or FULL.",
        )
    days, hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + secs


# Azure Monitor's time grains (the supported-metrics tables list these for the metrics that
# offer more than PT1M); anything finer does not exist there.
GRAINS = {
    "PT1M": 60,
    "PT5M": 300,
    "PT15M": 900,
    "PT30M": 1800,
    "PT1H": 3600,
    "PT6H": 21600,
    "PT12H": 43200,
    "P1D": 86400,
}


def _grain(interval: str) -> float:
    seconds = _duration(interval)
    if seconds not in GRAINS.values():
        raise BadRequest(
            f"Invalid interval {interval!r}: the time grains are {', '.join(GRAINS)}, or FULL.",
        )
    return seconds


_CLAUSE = re.compile(r"^\s*(?P<dim>[A-Za-z_]+)\s+eq\s+['‘’](?P<value>[^'‘’]*)['‘’]\s*$", re.I)


def _filter(text: str, dimensions: dict[str, str]) -> dict[str, set[str] | None]:
    filters: dict[str, set[str] | None] = {}
    for group in re.split(r"\s+and\s+", text.strip(), flags=re.I) if text.strip() else []:
        names: set[str] = set()
        values: set[str] = set()
        wildcard = False
        for clause in re.split(r"\s+or\s+", group, flags=re.I):
            match = _CLAUSE.match(clause)
            if match is None:
                raise BadRequest(
                    f"Invalid $filter clause {clause.strip()!r}: use dimension eq 'value'.",
                )
            names.add(match["dim"].lower())
            wildcard = wildcard or match["value"] == "*"
            values.add(match["value"])
        if len(names) != 1:
            raise BadRequest(
                "Invalid $filter: 'or' cannot separate two different dimension names.",
            )
        name = names.pop()
        if name not in dimensions:
            raise BadRequest(
                f"Metric has no dimension {name!r} (it has: "
                f"{', '.join(dimensions.values()) or 'none'}).",
            )
        filters[dimensions[name]] = None if wildcard else values
    return filters


def answer(
    query: Query,
    log: ServedLog,
    usage: UsageLog,
    visible_until: float,
    region: str,
    *,
    minute: float = 60.0,
) -> dict[str, object]:
    """The Response body: one Metric per name, one time series per combination of the
    filter's dimension values, one data point per grain (empty grains carry only timeStamp).
    Every value comes from whole minutes of `minute` seconds, filled up to `visible_until`."""
    first, last = _minutes(query, minute)
    start, end = first * minute, min(last * minute, visible_until)
    served: list[Item] = [s for s in log.between(start, end) if _of(s, query)]
    sampled: list[Item] = [
        s for s in usage.between(start, end) if s.deployment_id == query.resource_id.lower()
    ]
    clock = _Clock(minute, visible_until)
    return {
        "cost": 0,
        "timespan": f"{_iso(query.start)}/{_iso(query.end)}",
        "interval": query.interval,
        "namespace": query.namespace,
        "resourceregion": region,
        "value": [
            _metric(query, definition, sampled if definition.kind in USAGE_KINDS else served, clock)
            for definition in query.metrics
        ],
    }


@dataclass(frozen=True)
class _Clock:
    minute: float  # seconds one minute of Azure Monitor lasts
    visible_until: float  # what was served before this has been ingested

    def begun(self, index: int) -> bool:
        """Whether minute `index` has started to fill in (a quiet one then reads 0)."""
        return index * self.minute < self.visible_until


def _minutes(query: Query, minute: float) -> tuple[int, int]:
    """The minutes the timespan overlaps, as indices: [first, last)."""
    first = math.floor(query.start.timestamp() / minute)
    last = max(first + 1, math.ceil(query.end.timestamp() / minute))
    return first, last


def _of(served: Served, query: Query) -> bool:
    if query.namespace == DEPLOYMENT_NAMESPACE:
        return served.deployment_id == query.resource_id.lower()
    # The endpoint counts what it answered its clients; a mirrored copy's answer went nowhere.
    return served.endpoint_id == query.resource_id.lower() and not served.mirrored


def _metric(
    query: Query, definition: Definition, served: list[Item], clock: _Clock
) -> dict[str, object]:
    names = [d for d in query.filters if d in definition.dimensions]
    series: dict[tuple[str, ...], list[Item]] = defaultdict(list)
    for item in served:
        key = tuple(dimension(item, d) for d in names)
        if all(_wanted(query.filters[d], value) for d, value in zip(names, key, strict=True)):
            series[key].append(item)
    if not names:
        series.setdefault((), [])
    elif len(series) > query.top:
        # which series `top` keeps without `orderby` is not documented: here the largest
        # (emulator/README.md, "Differences from Azure"); the action asks for all of them
        kept = sorted(series, key=lambda key: (-len(series[key]), key))[: query.top]
        series = defaultdict(list, {key: series[key] for key in kept})
    return {
        "id": f"{query.resource_id}/providers/Microsoft.Insights/metrics/{definition.name}",
        "type": "Microsoft.Insights/metrics",
        "name": {"value": definition.name, "localizedValue": definition.display},
        "displayDescription": definition.description,
        "unit": definition.unit,
        "errorCode": "Success",
        "timeseries": [
            {
                "metadatavalues": [
                    {"name": {"value": d, "localizedValue": d}, "value": key[i]}
                    for i, d in enumerate(names)
                ],
                "data": [
                    _point(at, values, definition, query.aggregations)
                    for at, values in _grains(query, definition, members, clock)
                ],
            }
            for key, members in sorted(series.items())
        ],
    }


def _wanted(values: set[str] | None, value: str) -> bool:
    return values is None or value in values


def _grains(
    query: Query, definition: Definition, items: list[Item], clock: _Clock
) -> Iterable[tuple[datetime.datetime, list[float]]]:
    """Each grain's start and the values of its minutes (one per minute that has one; CPU,
    memory and capacity: every sample, as their minutes keep them)."""
    first, last = _minutes(query, clock.minute)
    by_minute: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        by_minute[math.floor(item.at / clock.minute)].append(item)
    width = last - first if query.grain is None else max(1, round(query.grain / 60))
    edge = first if query.grain is None else math.floor(first / width) * width
    while edge < last:
        values: list[float] = []
        for index in range(max(edge, first), min(edge + width, last)):
            values.extend(_minute_values(definition, by_minute.get(index, []), clock, index))
        moment = query.start if query.grain is None else _at(edge * clock.minute)
        yield moment, values
        edge += width


def _minute_values(
    definition: Definition, items: list[Item], clock: _Clock, index: int
) -> list[float]:
    if definition.kind in USAGE_KINDS:
        samples = [item for item in items if isinstance(item, Sample)]
        return usage_numbers(samples, definition.kind)
    served = [item for item in items if isinstance(item, Served)]
    if definition.kind == "requests":
        # "The number of requests sent to online deployment within a minute": a minute that
        # has begun to fill in has a count, 0 if quiet; one not yet ingested has none.
        return [float(len(served))] if clock.begun(index) else []
    if not served:
        return []
    latencies = sorted(item.latency_ms for item in served)
    if definition.kind == "latency":
        return [sum(latencies) / len(latencies)]
    return [percentile(latencies, int(definition.kind[1:]))]


def _point(
    at: datetime.datetime,
    values: list[float],
    definition: Definition,
    aggregations: tuple[str, ...],
) -> dict[str, object]:
    point: dict[str, object] = {"timeStamp": _iso(at)}
    if values:
        combined = summary(values)
        point.update({a: combined[a] for a in aggregations})
    return point


def _at(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


def usage_values(samples: list[Sample], kind: str) -> dict[str, float]:
    return summary(usage_numbers(samples, kind))


def usage_numbers(samples: list[Sample], kind: str) -> list[float]:
    """CPU and memory: every instance's samples. Capacity: the instances counted at each
    sampling round."""
    if kind == "capacity":
        rounds: dict[float, int] = defaultdict(int)
        for sample in samples:
            rounds[sample.at] += 1
        return [float(n) for n in rounds.values()]
    return [s.cpu_percent if kind == "cpu" else s.memory_percent for s in samples]


def summary(numbers: list[float]) -> dict[str, float]:
    """Azure Monitor's aggregations of some values (and autoscale's `Last`)."""
    return {
        "average": sum(numbers) / len(numbers),
        "minimum": min(numbers),
        "maximum": max(numbers),
        "total": sum(numbers),
        "count": float(len(numbers)),
        "last": numbers[-1],
    }


def percentile(ordered: list[float], percent: int) -> float:
    """Nearest rank."""
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
