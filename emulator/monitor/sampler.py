"""Samples every running instance's CPU and memory from the Docker engine (the numbers
`docker stats` shows) into the usage log, every `metrics_sample` seconds of the timing.

CPU is the container's share of the host's CPU time between two samples (the instance is the
host: containers run without limits), memory its working set (usage less inactive file pages,
as the docker CLI counts it) over the host's memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors

from emulator.dataplane import Instance
from emulator.monitor.periodic import Periodic
from emulator.resources.usage import Sample, UsageLog
from emulator.timing import Timing


@dataclass
class _Previous:
    container: int  # ns of CPU the container used
    system: int  # ns of CPU the host had


@dataclass
class UsageSampler:
    client: docker.DockerClient
    instances: Callable[[], dict[str, list[Instance]]]
    usage: UsageLog
    timing: Callable[[], Timing]
    _previous: dict[str, _Previous] = field(default_factory=dict)
    job: Periodic = field(init=False)

    def __post_init__(self) -> None:
        self.job = Periodic(
            "sampling the instances' usage", "metrics_sample", self.timing, self.sample
        )

    async def sample(self) -> None:
        at = time.time()
        running = {i.name: (d, i) for d, items in self.instances().items() for i in items}
        for name in set(self._previous) - set(running):
            del self._previous[name]
        for name, (deployment_id, instance) in running.items():
            try:
                stats = await asyncio.to_thread(
                    self.client.api.stats, instance.container.id, stream=False, one_shot=True
                )
            except docker.errors.DockerException:
                continue
            cpu = self._cpu(name, stats)
            if cpu is None:
                continue  # the first sample of a container only sets the baseline
            self.usage.record(
                Sample(
                    at=at,
                    deployment_id=deployment_id.lower(),
                    instance_id=name,
                    state="Ready" if instance.ready and not instance.forced_unready else "NotReady",
                    cpu_percent=cpu,
                    memory_percent=_memory(stats),
                )
            )

    def _cpu(self, name: str, stats: dict[str, Any]) -> float | None:
        cpu = stats.get("cpu_stats") or {}
        now = _Previous(
            int((cpu.get("cpu_usage") or {}).get("total_usage") or 0),
            int(cpu.get("system_cpu_usage") or 0),
        )
        before = self._previous.get(name)
        self._previous[name] = now
        if before is None:
            return None
        system = now.system - before.system
        if system <= 0:
            return 0.0
        return max(0.0, min(100.0, 100.0 * (now.container - before.container) / system))


def _memory(stats: dict[str, Any]) -> float:
    memory = stats.get("memory_stats") or {}
    limit = float(memory.get("limit") or 0)
    if limit <= 0:
        return 0.0
    details = memory.get("stats") or {}
    cache = details.get("inactive_file", details.get("total_inactive_file", 0))
    used = max(0.0, float(memory.get("usage") or 0) - float(cache or 0))
    return 100.0 * used / limit
