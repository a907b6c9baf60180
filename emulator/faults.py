"""Fault injection: make the next N matching requests or operations misbehave.

Request faults: `status` (answer with an error status, e.g. 429 with Retry-After, 500, 503),
`drop` (close the connection without an answer), `delay` (answer slowly). Operation faults,
consumed when a long-running operation starts: `lro_fail` (the operation ends Failed with a
given code), `provisioning_delay` (it takes longer) and `updating_after_succeeded` (the
resource reports Updating for `delay_seconds` after its operation reported Succeeded,
Azure/azure-sdk-for-net#36961).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.requestlog import RequestLog

REQUEST_KINDS = {"status", "drop", "delay"}
OPERATION_KINDS = {"lro_fail", "provisioning_delay", "updating_after_succeeded"}
DATA_PLANE_KINDS = {"slow_pull", "unready_after"}
_ids = itertools.count(1)


@dataclass
class Fault:
    kind: str
    part: str = "arm"
    method: str | None = None
    path: str | None = None  # a regular expression searched in the request path
    query: str | None = None  # a regular expression searched in the query string
    count: int = 1
    status: int = 503
    retry_after: int | None = None
    delay_seconds: float = 0.0
    code: str | None = None
    message: str | None = None
    id: int = field(default_factory=lambda: next(_ids))

    def matches(self, part: str, method: str, path: str, query: str = "") -> bool:
        return (
            self.count > 0
            and self.part == part
            and (self.method is None or self.method.upper() == method.upper())
            and (self.path is None or re.search(self.path, path, re.IGNORECASE) is not None)
            and (self.query is None or re.search(self.query, query, re.IGNORECASE) is not None)
        )


class FaultStore:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, spec: dict[str, Any]) -> Fault:
        fault = Fault(**{k: v for k, v in spec.items() if k != "id"})
        if fault.kind not in REQUEST_KINDS | OPERATION_KINDS | DATA_PLANE_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        if fault.path is not None:
            re.compile(fault.path)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(fault) for fault in self._faults if fault.count > 0]

    def take(
        self, kinds: set[str], part: str, method: str, path: str, query: str = ""
    ) -> Fault | None:
        """The first live fault of `kinds` matching the request; uses up one of its count."""
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.matches(part, method, path, query):
                    fault.count -= 1
                    return fault
        return None

    def countdown(self, kind: str, part: str, path: str) -> bool:
        """Count one event against a fault whose `count` is a number of events; True when it
        reaches zero (the fault then fires, once)."""
        with self._lock:
            for fault in self._faults:
                if fault.kind == kind and fault.matches(part, "*", path):
                    fault.count -= 1
                    return fault.count == 0
        return False


class Instrumented:
    """Wraps a part's ASGI app: applies request faults and logs every request."""

    def __init__(self, app: ASGIApp, part: str, log: RequestLog, faults: FaultStore) -> None:
        self.app = app
        self.part = part
        self.log = log
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        status = {"code": 0}

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        query = scope.get("query_string", b"").decode("latin-1")
        fault = self.faults.take(REQUEST_KINDS, self.part, method, path, query)
        try:
            if fault is not None and fault.kind == "delay":
                await asyncio.sleep(fault.delay_seconds)
            if fault is not None and fault.kind == "status":
                await _fault_response(fault, recording_send)
            elif fault is not None and fault.kind == "drop":
                _drop(send)
                status["code"] = 0
            else:
                await self.app(scope, receive, recording_send)
        finally:
            self.log.add(
                part=self.part,
                method=method,
                path=path,
                api_version=_api_version(scope),
                status=status["code"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                fault=fault.kind if fault is not None else None,
                host=_host(scope),
            )


def _host(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"host":
            return str(value.decode("latin-1"))
    return None


def _api_version(scope: Scope) -> str | None:
    query: bytes = scope.get("query_string", b"")
    for pair in query.decode("latin-1").split("&"):
        name, _, value = pair.partition("=")
        if name == "api-version":
            return value
    return None


async def _fault_response(fault: Fault, send: Send) -> None:
    code = fault.code or {429: "TooManyRequests", 500: "InternalServerError"}.get(
        fault.status, "ServiceUnavailable"
    )
    message = fault.message or f"injected fault: HTTP {fault.status}"
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json; charset=utf-8")]
    headers.append((b"content-length", str(len(body)).encode()))
    if fault.retry_after is not None:
        headers.append((b"retry-after", str(fault.retry_after).encode()))
    await send({"type": "http.response.start", "status": fault.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _drop(send: Send) -> None:
    """Abort the TCP connection without answering, as a dropped connection looks to a client."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("cannot reach the connection to drop it")
    transport.abort()
