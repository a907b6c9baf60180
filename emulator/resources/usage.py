"""What each deployment instance used, sampled from its container (emulator/monitor/sampler.py):
the source of the deployment metrics CpuUtilizationPercentage, CpuMemoryUtilizationPercentage
and DeploymentCapacity."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

# A day of one-second samples for a few instances; older ones drop off.
KEEP = 100_000


@dataclass(frozen=True)
class Sample:
    at: float  # time.time() of the sampling round
    deployment_id: str  # ARM id, lower-cased
    instance_id: str  # the `instanceId` dimension
    state: str  # the `State` dimension of DeploymentCapacity
    cpu_percent: float  # of the instance's CPU
    memory_percent: float  # of the instance's memory


class UsageLog:
    def __init__(self) -> None:
        self._samples: deque[Sample] = deque(maxlen=KEEP)

    def record(self, sample: Sample) -> None:
        self._samples.append(sample)

    def between(self, start: float, end: float) -> Iterator[Sample]:
        return (s for s in self._samples if start <= s.at < end)

    def clear(self) -> None:
        self._samples.clear()
