"""Azure Monitor's metrics REST API (`GET {resource id}/providers/Microsoft.Insights/metrics`,
api-version 2024-02-01 as azure-mgmt-monitor 7.0 sends it) over the requests the gateway served.

Metric names, units, default aggregations and dimensions are Azure's, from the generated
supported-metrics tables (azure-monitor-docs, reference/supported-metrics/
microsoft-machinelearningservices-workspaces-onlineendpoints-metrics and
...-onlineendpoints-deployments-metrics). Query grammar (timespan `start/end`, interval an ISO
8601 duration or `FULL`, comma-separated `metricnames` and `aggregation`, `$filter` of
`dim eq 'value'` clauses joined by `and`, `or` only between values of one dimension, `'*'` to
split) from the Metrics - List operation's documentation in azure-mgmt-monitor.
"""

from __future__ import annotations

import datetime
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from emulator.errors import BadRequest
from emulator.resources.served import Served, ServedLog
from emulator.resources.usage import Sample, UsageLog

ENDPOINT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEPLOYMENT_NAMESPACE = ENDPOINT_NAMESPACE + "/deployments"
AGGREGATIONS = ("average", "minimum", "maximum", "total", "count")
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
        ),
        Definition(
            "CpuMemoryUtilizationPercentage",
            "CPU Memory Utilization Percentage",
            "Percentage of memory utilization on an instance. Utilization is reported at one "
            "minute intervals.",
            "Percent",
            ("instanceId",),
            "memory",
        ),
        Definition(
            "DeploymentCapacity",
            "Deployment Capacity",
            "The number of instances in the deployment.",
            "Count",
            ("instanceId", "State"),
            "capacity",
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
    query: Query, log: ServedLog, usage: UsageLog, visible_until: float, region: str
) -> dict[str, object]:
    """The Response body: one Metric per name, one time series per combination of the
    filter's dimension values, one data point per grain (empty grains carry only timeStamp)."""
    start, end = query.start.timestamp(), query.end.timestamp()
    served: list[Item] = [s for s in log.between(start, min(end, visible_until)) if _of(s, query)]
    sampled: list[Item] = [
        s
        for s in usage.between(start, min(end, visible_until))
        if s.deployment_id == query.resource_id.lower()
    ]
    return {
        "cost": 0,
        "timespan": f"{_iso(query.start)}/{_iso(query.end)}",
        "interval": query.interval,
        "namespace": query.namespace,
        "resourceregion": region,
        "value": [
            _metric(query, definition, sampled if definition.kind in USAGE_KINDS else served)
            for definition in query.metrics
        ],
    }


def _of(served: Served, query: Query) -> bool:
    if query.namespace == DEPLOYMENT_NAMESPACE:
        return served.deployment_id == query.resource_id.lower()
    # The endpoint counts what it answered its clients; a mirrored copy's answer went nowhere.
    return served.endpoint_id == query.resource_id.lower() and not served.mirrored


def _metric(query: Query, definition: Definition, served: list[Item]) -> dict[str, object]:
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
                    _point(bucket_start, items, definition, query.aggregations, width)
                    for bucket_start, width, items in _buckets(query, members)
                ],
            }
            for key, members in sorted(series.items())
        ],
    }


def _wanted(values: set[str] | None, value: str) -> bool:
    return values is None or value in values


def _buckets(
    query: Query, served: list[Item]
) -> Iterable[tuple[datetime.datetime, float, list[Item]]]:
    start, end = query.start.timestamp(), query.end.timestamp()
    if query.grain is None:
        yield query.start, end - start, served
        return
    grain = query.grain
    first = math.floor(start / grain) * grain  # grains start at their own boundaries, as Azure's
    edge = first
    while edge < end:
        lo, hi = max(edge, start), min(edge + grain, end)
        yield (
            datetime.datetime.fromtimestamp(edge, datetime.UTC),
            hi - lo,
            [s for s in served if lo <= s.at < hi],
        )
        edge += grain


def _point(
    at: datetime.datetime,
    items: list[Item],
    definition: Definition,
    aggregations: tuple[str, ...],
    width: float,
) -> dict[str, object]:
    point: dict[str, object] = {"timeStamp": _iso(at)}
    values: dict[str, float]
    samples = [item for item in items if isinstance(item, Sample)]
    if definition.kind in USAGE_KINDS:
        if samples:
            values = usage_values(samples, definition.kind)
            point.update({a: values[a] for a in aggregations})
        return point
    served = [item for item in items if isinstance(item, Served)]
    if definition.kind == "requests":
        # A count per minute: the samples are the minutes of the grain.
        minutes = max(1, math.ceil(width / 60))
        per_minute = [0] * minutes
        for item in served:
            per_minute[min(minutes - 1, int((item.at - at.timestamp()) // 60))] += 1
        values = {
            "total": float(len(served)),
            "count": float(minutes),
            "average": len(served) / max(width / 60, 1e-9),  # requests per minute
            "minimum": float(min(per_minute)),
            "maximum": float(max(per_minute)),
        }
        point.update({a: values[a] for a in aggregations})
        return point
    if not served:
        return point
    latencies = sorted(item.latency_ms for item in served)
    if definition.kind == "latency":
        values = {
            "average": sum(latencies) / len(latencies),
            "minimum": latencies[0],
            "maximum": latencies[-1],
            "total": sum(latencies),
            "count": float(len(latencies)),
        }
    else:
        value = percentile(latencies, int(definition.kind[1:]))
        values = dict.fromkeys(("average", "minimum", "maximum"), value)
        values.update(total=value, count=float(len(latencies)))
    point.update({a: values[a] for a in aggregations})
    return point


def usage_values(samples: list[Sample], kind: str) -> dict[str, float]:
    """CPU and memory: over every instance's samples. Capacity: the instances counted at each
    sampling round, then over the rounds."""
    if kind == "capacity":
        rounds: dict[float, int] = defaultdict(int)
        for sample in samples:
            rounds[sample.at] += 1
        numbers = [float(n) for n in rounds.values()]
    else:
        numbers = [s.cpu_percent if kind == "cpu" else s.memory_percent for s in samples]
    return {
        "average": sum(numbers) / len(numbers),
        "minimum": min(numbers),
        "maximum": max(numbers),
        "total": sum(numbers),
        "count": float(len(numbers)),
    }


def percentile(ordered: list[float], percent: int) -> float:
    """Nearest rank."""
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
