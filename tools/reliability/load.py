"""A bounded load generator: scores an endpoint at a fixed rate while a rollout runs.

It only ever talks to 127.0.0.1, and stops at a fixed number of requests or seconds,
whichever comes first.
"""

from __future__ import annotations

import collections
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

DEPLOYMENT_HEADER = "azureml-model-deployment"

# Whether an answer (its body) to a request (its body) is the right one.
AnswerCheck = Callable[[bytes, bytes], bool]


@dataclass
class LoadFigures:
    sent: int = 0
    failed: int = 0
    answered_by: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    seconds: float = 0.0
    # answered 200 but wrongly, by deployment; counted only when the load checks the answers
    wrong_by: collections.Counter[str] | None = None

    def as_dict(self) -> dict[str, object]:
        figures: dict[str, object] = {
            "sent": self.sent,
            "failed": self.failed,
            "answered_by": dict(self.answered_by),
            "failures": dict(self.failures),
            "seconds": round(self.seconds, 1),
        }
        if self.wrong_by is not None:
            figures["wrong"] = sum(self.wrong_by.values())
            figures["wrong_by"] = dict(self.wrong_by)
        return figures


class Load:
    def __init__(
        self,
        url: str,
        key: str,
        body: bytes,
        *,
        ca_bundle: str,
        rate: float = 20.0,
        max_requests: int = 3000,
        max_seconds: float = 300.0,
        bodies: tuple[bytes, ...] = (),
        check: AnswerCheck | None = None,
    ) -> None:
        """`bodies`: sent in turn instead of `body` (clients' inputs are not all alike);
        `check`: every 200 answer is also judged by what it says, not only by its status."""
        host = urllib.parse.urlsplit(url).hostname
        if host != "127.0.0.1":
            raise ValueError(f"the load generator only targets 127.0.0.1 (got {host})")
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.bodies = bodies or (body,)
        # (seconds since the start, failed) of every request, in the order they were answered
        self.answers: list[tuple[float, bool]] = []
        self.ca_bundle = ca_bundle
        self.rate = rate
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.check = check
        self.figures = LoadFigures(wrong_by=collections.Counter() if check else None)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._local = threading.local()
        self._thread = threading.Thread(target=self._drive, daemon=True)

    def __enter__(self) -> Load:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def elapsed(self) -> float:
        """Seconds since the load started: the clock of `answers`."""
        return time.monotonic() - self._started

    def stop(self) -> LoadFigures:
        self._stop.set()
        self._thread.join()
        self.figures.seconds = time.monotonic() - self._started
        return self.figures

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        session: requests.Session = self._local.session
        return session

    def _drive(self) -> None:
        interval = 1.0 / self.rate
        with ThreadPoolExecutor(max_workers=16) as pool:
            next_at = time.monotonic()
            sent = 0
            while not self._stop.is_set() and sent < self.max_requests:
                if time.monotonic() - self._started > self.max_seconds:
                    break
                pool.submit(self._one, self.bodies[sent % len(self.bodies)])
                sent += 1
                next_at += interval
                self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _one(self, body: bytes) -> None:
        sent_at = time.monotonic() - self._started
        try:
            response = self._session().post(
                # verify per request: a session's own setting loses to REQUESTS_CA_BUNDLE
                self.url,
                data=body,
                headers=self.headers,
                timeout=10,
                verify=self.ca_bundle,
            )
        except requests.RequestException as exc:
            outcome, deployment, wrong = type(exc).__name__, None, False
        else:
            outcome = "ok" if response.status_code == 200 else f"HTTP {response.status_code}"
            deployment = response.headers.get(DEPLOYMENT_HEADER)
            wrong = (
                outcome == "ok"
                and self.check is not None
                and not self.check(body, response.content)
            )
        with self._lock:
            self.answers.append((sent_at, outcome != "ok" or not deployment))
            self.figures.sent += 1
            if outcome == "ok" and deployment:
                self.figures.answered_by[deployment] += 1
                if wrong and self.figures.wrong_by is not None:
                    self.figures.wrong_by[deployment] += 1
            else:
                self.figures.failed += 1
                self.figures.failures[outcome] += 1
