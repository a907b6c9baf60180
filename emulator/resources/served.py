"""Every request the scoring gateway served, as Azure Monitor's metrics count it: the endpoint
answers clients (its live traffic), a deployment answers what reaches it (mirrored copies too)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

# Enough for the longest load test (minutes at tens of requests a second); older ones drop off.
KEEP = 200_000


@dataclass(frozen=True)
class Served:
    at: float  # time.time() when the answer was sent
    endpoint_id: str  # ARM ids, lower-cased
    deployment_id: str
    deployment: str  # the deployment's name, as the `deployment` dimension shows it
    status: int  # what the endpoint answered (the `statusCode` dimension)
    model_status: int | None  # what the model answered; None when it did not
    latency_ms: float
    mirrored: bool  # a copy of live traffic: its answer went to nobody

    @property
    def envoy_status(self) -> int:
        """What the deployment's own proxy answered (the `envoy_response_code` dimension): the
        model's status, or the endpoint's when the model gave none (a timeout, a drop)."""
        return self.model_status if self.model_status is not None else self.status


class ServedLog:
    def __init__(self) -> None:
        self._served: deque[Served] = deque(maxlen=KEEP)

    def record(self, served: Served) -> None:
        self._served.append(served)

    def between(self, start: float, end: float) -> Iterator[Served]:
        return (s for s in self._served if start <= s.at < end)

    def clear(self) -> None:
        self._served.clear()
