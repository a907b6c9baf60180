"""The smoke test: scoring requests sent to one deployment (through the endpoint's scoring URI
with the `azureml-model-deployment` header) before it gets traffic.

The model server is the pull request's code: what it answers is untrusted. Each attempt has an
overall deadline, at most MAX_RESPONSE_BYTES of the answer are read, and what is quoted from it
is short (the caller prints it neutralised and escapes it in the summary)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from jsonschema import Draft202012Validator

from deployer.files import MAX_REQUEST_BYTES, MAX_SCHEMA_BYTES, UnreadableFile, read_bounded
from deployer.spec.model import SmokeTestSpec

DEPLOYMENT_HEADER = "azureml-model-deployment"
MAX_RESPONSE_BYTES = 1024 * 1024  # of an answer kept; the rest is not read
_BACKOFF_CAP = 10.0


@dataclass(frozen=True)
class SmokeResult:
    passed: bool
    attempts: int
    status: int | None
    latency_ms: float | None
    detail: str

    def describe(self) -> str:
        outcome = "passed" if self.passed else "failed"
        status = f"HTTP {self.status}" if self.status is not None else "no answer"
        latency = f", {self.latency_ms:.0f} ms" if self.latency_ms is not None else ""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{outcome}{tries} ({status}{latency}){': ' + self.detail if self.detail else ''}"


def smoke_test(
    spec: SmokeTestSpec,
    scoring_uri: str,
    credential: str,
    deployment: str,
    *,
    deadline: float | None = None,
) -> SmokeResult:
    """Up to `spec.attempts` requests, each within `spec.timeout_seconds` in all (connecting,
    sending and reading the whole answer), none past `deadline` (the rollout's timeout)."""
    try:
        body = read_bounded(spec.request, MAX_REQUEST_BYTES)
        schema = (
            json.loads(read_bounded(spec.expect_body_schema, MAX_SCHEMA_BYTES))
            if spec.expect_body_schema is not None
            else None
        )
    except UnreadableFile as exc:
        return SmokeResult(False, 0, None, None, f"the smoke test's file {exc}")
    except (ValueError, RecursionError):
        return SmokeResult(False, 0, None, None, "expect_body_schema is no longer valid JSON")
    headers = {
        "Authorization": f"Bearer {credential}",
        "Content-Type": "application/json",
        "Accept-Encoding": "identity",
        DEPLOYMENT_HEADER: deployment,
    }
    result = SmokeResult(False, 0, None, None, "not run")
    for attempt in range(1, spec.attempts + 1):
        budget = float(spec.timeout_seconds)
        if deadline is not None:
            budget = min(budget, deadline - time.monotonic())
            if budget <= 0:
                return _past_deadline(result, attempt)
        result = _attempt(spec, scoring_uri, body, headers, schema, attempt=attempt, budget=budget)
        if result.passed:
            return result
        if attempt < spec.attempts:
            pause = min(2 ** (attempt - 1), _BACKOFF_CAP)
            if deadline is not None and time.monotonic() + pause >= deadline:
                return _past_deadline(result, attempt + 1)
            time.sleep(pause)
    return result


class LoadSender:
    """The smoke test's request, for rollout.analysis.load: one at a time from one thread,
    over one kept-alive connection; only the status is read (the body is not judged here)."""

    def __init__(
        self, spec: SmokeTestSpec, scoring_uri: str, credential: str, deployment: str
    ) -> None:
        self.timeout = float(spec.timeout_seconds)
        self._url = scoring_uri
        self._body = read_bounded(spec.request, MAX_REQUEST_BYTES)
        self._headers = {
            "Authorization": f"Bearer {credential}",
            "Content-Type": "application/json",
            "Accept-Encoding": "identity",
            DEPLOYMENT_HEADER: deployment,
        }
        self._session = requests.Session()

    def send(self) -> int | None:
        try:
            with self._session.post(
                self._url,
                data=self._body,
                headers=self._headers,
                timeout=(self.timeout, self.timeout),
                stream=True,
            ) as response:
                read = 0
                # Read to the end (so the connection is kept), at most MAX_RESPONSE_BYTES.
                for chunk in response.iter_content(64 * 1024):
                    read += len(chunk)
                    if read > MAX_RESPONSE_BYTES:
                        break
                return response.status_code
        except requests.RequestException:
            return None

    def close(self) -> None:
        self._session.close()


def _past_deadline(last: SmokeResult, attempt: int) -> SmokeResult:
    why = "the rollout's timeout_minutes ran out before attempt " + str(attempt)
    detail = f"{why}; the last attempt: {last.detail}" if last.attempts else why
    return SmokeResult(False, last.attempts, last.status, last.latency_ms, detail)


@dataclass
class _Answer:
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    complete: bool = True  # False: longer than MAX_RESPONSE_BYTES, the rest was not read
    failure: str | None = None
    response: requests.Response | None = None


def exchange(
    url: str,
    body: bytes,
    headers: dict[str, str],
    budget: float,
    session: requests.Session | None = None,
) -> _Answer | None:
    """POST and read the answer (at most MAX_RESPONSE_BYTES of it) within `budget` seconds in
    all, or None. requests' timeouts bound each socket read, not the exchange: a server
    trickling a byte a second would never time out, so the exchange runs on its own thread.
    With `session`, over its kept-alive connection (one exchange at a time)."""
    answer = _Answer()
    done = threading.Event()

    def run() -> None:
        try:
            post = session.post if session is not None else requests.post
            response = post(url, data=body, headers=headers, timeout=(budget, budget), stream=True)
            answer.response = response
            answer.status, answer.headers = response.status_code, response.headers
            chunks: list[bytes] = []
            size = 0
            while size <= MAX_RESPONSE_BYTES:
                chunk = response.raw.read1(64 * 1024, decode_content=False)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            answer.body = b"".join(chunks)[:MAX_RESPONSE_BYTES]
            answer.complete = size <= MAX_RESPONSE_BYTES
            response.close()
        except requests.Timeout:
            answer.failure = "timeout"
        except Exception as exc:  # noqa: BLE001 - any failure of the request is its result
            answer.failure = f"request failed: {type(exc).__name__}"
        finally:
            done.set()

    threading.Thread(target=run, name="smoke-test", daemon=True).start()
    if done.wait(budget):
        return answer
    _abandon(answer.response)
    return None


def _abandon(response: requests.Response | None) -> None:
    """Close the connection of an exchange that ran out of time, so its thread ends."""
    connection = getattr(response.raw, "connection", None) if response is not None else None
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _attempt(
    spec: SmokeTestSpec,
    scoring_uri: str,
    body: bytes,
    headers: dict[str, str],
    schema: Any,
    *,
    attempt: int,
    budget: float,
) -> SmokeResult:
    started = time.perf_counter()
    answer = exchange(scoring_uri, body, headers, budget)
    if answer is None or answer.failure == "timeout":
        return SmokeResult(False, attempt, None, None, f"no complete answer within {budget:g} s")
    if answer.failure is not None or answer.status is None:
        return SmokeResult(False, attempt, None, None, answer.failure or "no answer")
    latency = (time.perf_counter() - started) * 1000
    status = answer.status
    if status != spec.expect_status:
        model_status = answer.headers.get("ms-azureml-model-error-statuscode")
        why = f"expected HTTP {spec.expect_status}"
        if model_status:
            why += f"; the model answered {model_status[:20]}"
        snippet = answer.body[:300].decode("utf-8", "replace").strip()
        return SmokeResult(
            False, attempt, status, latency, why + (f": {snippet}" if snippet else "")
        )
    if schema is not None:
        if not answer.complete:
            return SmokeResult(
                False,
                attempt,
                status,
                latency,
                f"the response is longer than {MAX_RESPONSE_BYTES // 2**20} MiB, the most the "
                "smoke test reads, so expect_body_schema cannot be checked",
            )
        try:
            payload = json.loads(answer.body)
        except (ValueError, RecursionError):
            return SmokeResult(False, attempt, status, latency, "the response is not JSON")
        errors = sorted(Draft202012Validator(schema).iter_errors(payload), key=lambda e: e.path)
        if errors:
            where = "/".join(str(part) for part in errors[0].absolute_path) or "(root)"
            return SmokeResult(
                False,
                attempt,
                status,
                latency,
                f"the response does not match expect_body_schema at {where}: "
                f"{errors[0].message[:300]}",
            )
    return SmokeResult(True, attempt, status, latency, "")
