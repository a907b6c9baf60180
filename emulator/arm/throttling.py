"""ARM's request budget: a token bucket per principal (the token's `oid`), region and kind of
operation (reads, writes, deletes).

Learn, "Understand how Azure Resource Manager throttles requests" (request-limits-and-throttling,
"Regional throttling and token bucket algorithm"): since 2024 the subscription limits apply per
region, per security principal and per operation type, as token buckets — reads: bucket 250,
refill 25 per second; writes: 200, 10/s; deletes: 200, 10/s. An exhausted bucket answers
`429 Too Many Requests` with `Retry-After` (seconds to wait; a request sent sooner is not
processed). Every answer carries the remaining budget of its kind in
`x-ms-ratelimit-remaining-subscription-reads` / `-writes` / `-deletes` (the azure-ai-ml
recordings show 249 / 199 on a fresh principal, one token spent by the request itself).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

KINDS = ("reads", "writes", "deletes")


@dataclass(frozen=True)
class BucketSize:
    size: int
    refill_per_second: float


# The documented figures (see the module docstring).
AZURE_BUCKETS = {
    "reads": BucketSize(250, 25.0),
    "writes": BucketSize(200, 10.0),
    "deletes": BucketSize(200, 10.0),
}


def kind_of(method: str) -> str:
    """ARM counts GET (and HEAD) as reads, DELETE as deletes, every other method as a write."""
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "reads"
    if method == "DELETE":
        return "deletes"
    return "writes"


@dataclass
class _Bucket:
    size: BucketSize
    tokens: float
    updated: float

    def take(self, now: float) -> float | None:
        """Spend a token: None when there was one, else the seconds until there is."""
        self.tokens = min(
            self.size.size, self.tokens + (now - self.updated) * self.size.refill_per_second
        )
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.size.refill_per_second


@dataclass(frozen=True)
class Verdict:
    """`retry_after`: None when the request may go on; else whole seconds to wait."""

    kind: str
    remaining: int
    retry_after: int | None


@dataclass
class Throttle:
    """The buckets of one emulated ARM region. `sizes` by kind; thread-safe."""

    sizes: dict[str, BucketSize]
    region: str
    _buckets: dict[tuple[str, str, str], _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, principal: str, method: str) -> Verdict:
        kind = kind_of(method)
        now = time.monotonic()
        with self._lock:
            key = (principal, self.region, kind)
            bucket = self._buckets.get(key)
            if bucket is None:
                size = self.sizes[kind]
                bucket = self._buckets[key] = _Bucket(size, float(size.size), now)
            wait = bucket.take(now)
            remaining = int(bucket.tokens)
        return Verdict(kind, remaining, None if wait is None else max(1, math.ceil(wait)))
