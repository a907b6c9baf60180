"""A log of every request each part served: method, host, path, status, duration. No secrets:
no other headers, no bodies, and no query values other than the api-version."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

_KEEP = 20_000


@dataclass(frozen=True)
class Entry:
    seq: int
    time: float
    part: str
    method: str
    path: str
    api_version: str | None
    status: int
    duration_ms: float
    fault: str | None = None
    host: str | None = None  # the Host header: which endpoint a host-style scoring URI named


class RequestLog:
    def __init__(self) -> None:
        self._entries: deque[Entry] = deque(maxlen=_KEEP)
        self._seq = 0
        self._lock = threading.Lock()

    def add(self, **fields: Any) -> None:
        with self._lock:
            self._seq += 1
            self._entries.append(Entry(seq=self._seq, time=time.time(), **fields))

    def entries(self, since: int = 0, part: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                asdict(entry)
                for entry in self._entries
                if entry.seq > since and (part is None or entry.part == part)
            ]

    @property
    def last_seq(self) -> int:
        return self._seq
