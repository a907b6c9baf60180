"""How long operations take and how the service asks clients to poll.

`fast` is for tests: short provisioning, `retry-after-ms: 200`, no throttling. `azure` behaves like
the real service: no `Retry-After` on long-running operations (so the SDK falls back to polling
every 30 s for endpoints and 5 s for deployments), status `Updating` while running, Azure's
provisioning times multiplied by `time_scale`, and ARM's request budget (token buckets per
principal, region and kind, emulator/arm/throttling.py; not scaled: it is Azure's budget).
`arm_buckets` can be set in either profile through the admin API (`{"arm_buckets": null}` turns
throttling off, `{"arm_buckets": {"reads": [size, refill_per_second], ...}}` sets it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from emulator.arm.throttling import AZURE_BUCKETS

# Seconds, as observed on the real service (endpoint create ~60 s and delete ~10 s in the
# azure-ai-ml recordings; managed deployments take minutes).
_AZURE_SECONDS = {
    "endpoint_create": 60.0,
    "endpoint_update": 30.0,
    "endpoint_delete": 10.0,
    "deployment_create": 300.0,
    "deployment_update": 240.0,
    "deployment_delete": 60.0,
    "keys_regenerate": 10.0,
    # How long a served request takes to show in the metrics API. Azure gives no figure; its
    # metrics API is eventually consistent by minutes (pollers such as Dynatrace's wait five):
    # two here (emulator/README.md, Differences from Azure).
    "metrics_ingestion": 120.0,
    # CPU, memory and capacity samples of each instance: "Utilization is reported at one
    # minute intervals" (supported metrics for .../onlineEndpoints/deployments).
    "metrics_sample": 60.0,
    # How often the autoscale engine evaluates its settings: "The autoscale job runs every 30 to
    # 60 seconds, depending on the resource type" (autoscale-understanding-settings.md).
    "autoscale_evaluation": 60.0,
    # How long one minute of Azure Monitor lasts: its metrics' buckets, and an autoscale rule's
    # timeGrain, timeWindow and cooldown.
    "metrics_minute": 60.0,
}
_FAST_SECONDS = {
    "endpoint_create": 0.4,
    "endpoint_update": 0.3,
    "endpoint_delete": 0.3,
    "deployment_create": 0.6,
    "deployment_update": 0.5,
    "deployment_delete": 0.3,
    "keys_regenerate": 0.2,
    "metrics_ingestion": 1.0,
    "metrics_sample": 1.0,
    "autoscale_evaluation": 1.0,
    # Metrics and rules run on a compressed clock in tests: a minute of Azure Monitor lasts one
    # second, so a metric's bucket is 1 s, a rule's PT5M window 5 s and a PT1M cooldown 1 s
    # (emulator/README.md, Differences from Azure).
    "metrics_minute": 1.0,
}


@dataclass(frozen=True)
class Timing:
    profile: str
    time_scale: float
    # Milliseconds a client should wait before polling a running operation, sent in
    # `retry-after-ms`; None: not sent (Azure sends no Retry-After on online-endpoint operations).
    retry_after_ms: int | None
    running_status: str  # the operation status while it runs
    seconds: dict[str, float]
    # Probes' initial delay and period are capped at this many seconds (fast profile), so that
    # deployments with Azure's default probe settings still start in seconds.
    probe_cap: float | None = None
    # ARM's request budget by kind (reads, writes, deletes): [bucket size, refill per second];
    # None: ARM never throttles.
    arm_buckets: dict[str, tuple[int, float]] | None = None

    def retry_headers(self) -> dict[str, str]:
        """The header that asks a client to wait before polling a running operation. The fast
        profile says it in milliseconds: azure-core reads `retry-after-ms` (and
        `x-ms-retry-after-ms`) when no `Retry-After` is sent (azure/core/pipeline/policies/
        _utils.py get_retry_after, which the LRO polling's delay uses:
        polling/base_polling.py LROBasePolling._extract_delay), so tests poll every 0.2 s, not
        on `Retry-After`'s whole seconds."""
        if self.retry_after_ms is None:
            return {}
        return {"retry-after-ms": str(self.retry_after_ms)}

    def duration(self, operation: str) -> float:
        return self.seconds[operation] * self.time_scale

    def with_changes(self, changes: dict[str, Any]) -> Timing:
        seconds = {**self.seconds, **changes.get("seconds", {})}
        base = (
            profile(changes["profile"], changes.get("time_scale", self.time_scale))
            if ("profile" in changes)
            else self
        )
        buckets = changes.get("arm_buckets", base.arm_buckets)
        return replace(
            base,
            time_scale=float(changes.get("time_scale", base.time_scale)),
            seconds=seconds if "seconds" in changes else base.seconds,
            arm_buckets=(
                None
                if buckets is None
                else {kind: (int(size), float(rate)) for kind, (size, rate) in buckets.items()}
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def profile(name: str, time_scale: float = 1.0) -> Timing:
    if name == "fast":
        return Timing("fast", time_scale, 200, "InProgress", dict(_FAST_SECONDS), probe_cap=0.5)
    if name == "azure":
        buckets = {k: (b.size, b.refill_per_second) for k, b in AZURE_BUCKETS.items()}
        return Timing(
            "azure", time_scale, None, "Updating", dict(_AZURE_SECONDS), arm_buckets=buckets
        )
    raise ValueError(f"unknown timing profile {name!r} (fast or azure)")
