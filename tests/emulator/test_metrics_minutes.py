"""Azure Monitor as it records platform metrics: one value per minute, the newest minutes filling
in late, only the aggregations each metric lists (an unsupported one answered 501 "Sampling type
is not found"), P99 over a span the mean of the minutes' P99; and the autoscale engine reading
"the past N minutes", newest ones included."""

from __future__ import annotations

import datetime
import time
from typing import Any, cast

import pytest

from emulator.errors import SamplingTypeNotFound
from emulator.monitor.engine import AutoscaleEngine
from emulator.monitor.metrics import DEPLOYMENT_NAMESPACE, answer, parse
from emulator.resources.autoscale_settings import Trigger
from emulator.resources.served import Served, ServedLog
from emulator.resources.store import Store
from emulator.resources.usage import UsageLog
from emulator.timing import Timing, profile

DEPLOYMENT = (
    "/subscriptions/s/resourcegroups/g/providers/microsoft.machinelearningservices/"
    "workspaces/w/onlineendpoints/e/deployments/blue"
)
NOON = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.UTC)


def _at(minute: int, second: float = 0) -> float:
    return NOON.timestamp() + minute * 60 + second


def _served(at: float, latency: float = 10.0, status: int = 200) -> Served:
    return Served(at, "/e", DEPLOYMENT, "blue", status, status, latency, False)


def _query(
    log: ServedLog, visible_until: float, start: float, end: float, **params: str
) -> list[dict[str, Any]]:
    query = parse(
        DEPLOYMENT,
        DEPLOYMENT_NAMESPACE,
        {
            "metricnames": "RequestsPerMinute",
            "aggregation": "Average",
            "interval": "PT1M",
            "timespan": f"{_iso(start)}/{_iso(end)}",
            **params,
        },
        NOON,
    )
    body: dict[str, Any] = answer(query, log, UsageLog(), visible_until, "westeurope")
    [metric] = body["value"]
    [series] = metric["timeseries"]
    return cast(list[dict[str, Any]], series["data"])


def _iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat()


def test_requests_are_kept_per_minute_and_a_window_sees_the_minutes_it_overlaps() -> None:
    log = ServedLog()
    for minute, count in ((0, 3), (1, 5), (2, 0), (3, 7)):
        for i in range(count):
            log.record(_served(_at(minute, 10 + i)))
    points = _query(log, _at(10), _at(0), _at(4))
    assert [p["timeStamp"] for p in points] == [
        "2026-12-06T12:00:00Z", "2026-12-06T12:01:00Z",
        "2026-12-06T12:02:00Z", "2026-12-06T12:03:00Z",
    ]  # fmt: skip
    assert [p["average"] for p in points] == [3, 5, 0, 7]  # a quiet minute reads 0
    # 12:00:30-12:01:30 is not read to the second: it overlaps two whole minutes.
    assert [p["average"] for p in _query(log, _at(10), _at(0, 30), _at(1, 30))] == [3, 5]
    # FULL: the mean of the minutes' counts, so a count is that mean times the minutes.
    [full] = _query(log, _at(10), _at(0), _at(4), interval="FULL")
    assert full["average"] == 15 / 4


def test_the_newest_minutes_fill_in_late() -> None:
    log = ServedLog()
    for second in range(0, 60, 6):
        log.record(_served(_at(5, second)))  # ten requests in 12:05
    half = _query(log, _at(5, 30), _at(5), _at(7))
    assert half[0]["average"] == 5  # only what was ingested so far
    assert "average" not in half[1]  # 12:06 has not begun to fill in: no value at all
    assert _query(log, _at(7), _at(5), _at(7))[0]["average"] == 10


def test_p99_over_a_span_is_the_average_of_the_minutes_p99() -> None:
    log = ServedLog()
    for i in range(100):
        log.record(_served(_at(0, i * 0.5), latency=1000.0 if i == 99 else 10.0))
    for i in range(100):
        log.record(_served(_at(1, i * 0.5), latency=10.0))
    [full] = _query(log, _at(10), _at(0), _at(2), metricnames="RequestLatency_P99", interval="FULL")
    # minute one's P99 is 10 ms (nearest rank), minute two's too; a spike of one in 200
    # requests is below any minute's P99 rank
    assert full["average"] == 10.0
    slow = ServedLog()
    for i in range(10):
        slow.record(_served(_at(0, i), latency=500.0))
        slow.record(_served(_at(1, i), latency=100.0))
    [full] = _query(
        slow, _at(10), _at(0), _at(2), metricnames="RequestLatency_P99", interval="FULL"
    )
    assert full["average"] == 300.0  # (500 + 100) / 2, not the span's own P99 (500)


@pytest.mark.parametrize(
    ("metric", "aggregation"),
    [
        ("RequestsPerMinute", "Total"),
        ("RequestsPerMinute", "Count"),
        ("RequestLatency_P99", "Maximum"),
        ("RequestLatency_P50", "Total"),
        ("CpuUtilizationPercentage", "Total"),
        ("DeploymentCapacity", "Count"),
    ],
)
def test_an_aggregation_the_metric_does_not_list_is_answered_501(
    metric: str, aggregation: str
) -> None:
    with pytest.raises(SamplingTypeNotFound, match="Sampling type is not found") as refused:
        _query(ServedLog(), _at(10), _at(0), _at(1), metricnames=metric, aggregation=aggregation)
    assert refused.value.status == 501
    assert metric in refused.value.message


def test_the_aggregations_each_metric_lists_are_answered() -> None:
    log = ServedLog()
    log.record(_served(_at(0, 1), latency=42.0))
    for metric in ("RequestsPerMinute", "RequestLatency_P90", "RequestLatency_P99"):
        [point] = _query(log, _at(10), _at(0), _at(1), metricnames=metric)
        assert point["average"] in (1, 42.0)
    for metric in ("CpuUtilizationPercentage", "CpuMemoryUtilizationPercentage"):
        [point] = _query(
            log, _at(10), _at(0), _at(1), metricnames=metric, aggregation="Minimum,Maximum,Average"
        )
        assert "average" not in point  # no sample yet: no value, but no refusal either


# --- the autoscale engine's window ---------------------------------------------------------


class _Deployment:
    id = DEPLOYMENT


class _Store:
    def __init__(self, served: ServedLog) -> None:
        self.served = served
        self.usage = UsageLog()

    def deployment_by_id(self, resource_id: str) -> _Deployment | None:
        return _Deployment() if resource_id.lower() == DEPLOYMENT else None

    def endpoint_by_id(self, resource_id: str) -> None:
        return None


def _engine(served: ServedLog, timing: Timing) -> AutoscaleEngine:
    store = cast(Store, _Store(served))
    return AutoscaleEngine(store, cast(Any, None), cast(Any, None), lambda: timing)


def test_a_rule_reads_the_past_minutes_newest_included_and_sees_them_partly_filled() -> None:
    timing = profile("azure")
    now = time.time()
    served = ServedLog()
    # 120 requests a minute for the past five minutes
    for i in range(600):
        served.record(_served(now - 300 + i * 0.5))
    trigger = Trigger(
        "RequestsPerMinute", DEPLOYMENT, 60, "Sum", 120, "Average", "GreaterThan", 0, (), False
    )
    measured = _engine(served, timing)._measure(trigger, 1, timing.duration("metrics_minute") / 60)
    # The past two minutes are exactly the two that Azure's 120 s ingestion delay leaves
    # unfilled: the rule sees (almost) nothing, where a window shifted back by the delay saw 120.
    assert measured.value is not None and measured.value < 5
    longer = Trigger(
        "RequestsPerMinute", DEPLOYMENT, 60, "Sum", 300, "Average", "GreaterThan", 0, (), False
    )
    measured = _engine(served, timing)._measure(longer, 1, timing.duration("metrics_minute") / 60)
    assert measured.value is not None and 65 < measured.value < 80  # 3 full minutes of 5: 72
