"""Azure Monitor's `top` (Metrics - List: "the maximum number of records to retrieve per
resource ID in the request. Valid only if filter is specified. Defaults to 10."): a split by a
dimension returns ten series unless more are asked for, which the action's analysis does."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from deployer.azure.metrics import STATUS_SERIES
from emulator.errors import BadRequest
from emulator.monitor.metrics import DEPLOYMENT_NAMESPACE, answer, parse
from emulator.resources.served import Served, ServedLog
from emulator.resources.usage import UsageLog

DEPLOYMENT = (
    "/subscriptions/s/resourcegroups/g/providers/microsoft.machinelearningservices/"
    "workspaces/w/onlineendpoints/e/deployments/blue"
)
NOW = datetime.datetime(2026, 12, 6, 12, 0, tzinfo=datetime.UTC)
# twelve status codes a deployment answered: 200 most often, then 201, 202, …
STATUSES = [200, 201, 202, 204, 400, 401, 403, 404, 408, 429, 500, 503]


def log() -> ServedLog:
    served = ServedLog()
    at = NOW.timestamp() - 120
    for rank, status in enumerate(STATUSES):
        for _ in range(len(STATUSES) - rank):
            served.record(Served(at, "/e", DEPLOYMENT, "blue", status, status, 5.0, False))
    return served


def series(**params: str) -> dict[str, int]:
    query = parse(
        DEPLOYMENT,
        DEPLOYMENT_NAMESPACE,
        {
            "metricnames": "RequestsPerMinute",
            "aggregation": "Average",  # the one RequestsPerMinute lists
            "interval": "PT1M",
            "timespan": f"{(NOW - datetime.timedelta(minutes=10)).isoformat()}/{NOW.isoformat()}",
            "$filter": "envoy_response_code eq '*'",
            **params,
        },
        NOW,
    )
    body: dict[str, Any] = answer(query, log(), UsageLog(), NOW.timestamp(), "westeurope")
    [metric] = body["value"]
    return {  # requests: each minute's count, summed over the minutes
        element["metadatavalues"][0]["value"]: sum(p.get("average", 0) for p in element["data"])
        for element in metric["timeseries"]
    }


def test_a_split_returns_ten_series_unless_more_are_asked_for() -> None:
    assert len(series()) == 10  # 401 … 503 are missing, with their requests
    assert sum(series().values()) < sum(range(1, len(STATUSES) + 1))
    every = series(top=str(STATUS_SERIES))  # as the action asks
    assert sorted(every) == sorted(str(status) for status in STATUSES)
    assert sum(every.values()) == sum(range(1, len(STATUSES) + 1))


@pytest.mark.parametrize("top", ["0", "-1", "ten"])
def test_a_top_that_is_not_a_positive_integer_is_refused(top: str) -> None:
    with pytest.raises(BadRequest, match="TopN"):
        series(top=top)
