"""Every secret the emulator hands out (tokens, keys), so that tests can search logs for leaks.
Kept in memory and served only by the admin API; never written to the request log."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

_KEEP = 50_000


class SecretLedger:
    def __init__(self) -> None:
        self._entries: deque[tuple[int, float, str, str]] = deque(maxlen=_KEEP)
        self._seq = 0
        self._lock = threading.Lock()

    def record(self, kind: str, value: str) -> None:
        with self._lock:
            self._seq += 1
            self._entries.append((self._seq, time.time(), kind, value))

    def since(self, seq: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"seq": s, "time": t, "kind": k, "value": v}
                for s, t, k, v in self._entries
                if s > seq
            ]

    @property
    def last_seq(self) -> int:
        return self._seq


LEDGER = SecretLedger()
