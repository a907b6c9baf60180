"""The smoke test: scoring requests sent to one deployment (through the endpoint's scoring URI
with the `azureml-model-deployment` header) before it gets traffic."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import requests
from jsonschema import Draft202012Validator

from deployer.spec.model import SmokeTestSpec

DEPLOYMENT_HEADER = "azureml-model-deployment"
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
    spec: SmokeTestSpec, scoring_uri: str, credential: str, deployment: str
) -> SmokeResult:
    body = spec.request.read_bytes()
    schema = (
        json.loads(spec.expect_body_schema.read_text("utf-8"))
        if spec.expect_body_schema is not None
        else None
    )
    headers = {
        "Authorization": f"Bearer {credential}",
        "Content-Type": "application/json",
        DEPLOYMENT_HEADER: deployment,
    }
    result = SmokeResult(False, 0, None, None, "not run")
    for attempt in range(1, spec.attempts + 1):
        result = _attempt(spec, scoring_uri, body, headers=headers, schema=schema, attempt=attempt)
        if result.passed:
            return result
        if attempt < spec.attempts:
            time.sleep(min(2 ** (attempt - 1), _BACKOFF_CAP))
    return result


def _attempt(
    spec: SmokeTestSpec,
    scoring_uri: str,
    body: bytes,
    *,
    headers: dict[str, str],
    schema: Any,
    attempt: int,
) -> SmokeResult:
    started = time.perf_counter()
    try:
        response = requests.post(
            scoring_uri, data=body, headers=headers, timeout=spec.timeout_seconds
        )
    except requests.Timeout:
        return SmokeResult(False, attempt, None, None, f"no answer within {spec.timeout_seconds} s")
    except requests.RequestException as exc:
        return SmokeResult(False, attempt, None, None, f"request failed: {type(exc).__name__}")
    latency = (time.perf_counter() - started) * 1000
    if response.status_code != spec.expect_status:
        model_status = response.headers.get("ms-azureml-model-error-statuscode")
        why = f"expected HTTP {spec.expect_status}"
        if model_status:
            why += f"; the model answered {model_status}"
        snippet = response.text[:300].strip()
        return SmokeResult(
            False, attempt, response.status_code, latency, why + (f": {snippet}" if snippet else "")
        )
    if schema is not None:
        try:
            payload = response.json()
        except ValueError:
            return SmokeResult(
                False, attempt, response.status_code, latency, "the response is not JSON"
            )
        errors = sorted(Draft202012Validator(schema).iter_errors(payload), key=lambda e: e.path)
        if errors:
            where = "/".join(str(part) for part in errors[0].absolute_path) or "(root)"
            return SmokeResult(
                False,
                attempt,
                response.status_code,
                latency,
                f"the response does not match expect_body_schema at {where}: {errors[0].message}",
            )
    return SmokeResult(True, attempt, response.status_code, latency, "")
