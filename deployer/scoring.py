"""rollout.agreement's requests over HTTP: each to one deployment through the endpoint's
scoring URI with the `azureml-model-deployment` header, which sends it to that deployment
whatever the traffic split (Azure ML docs, how-to-safely-rollout-online-endpoints, "Test the
new deployment": `az ml online-endpoint invoke --deployment-name`), so no live traffic moves.

The answer is read as the smoke test reads it (smoke.exchange): within the timeout in all, at
most MAX_RESPONSE_BYTES — over one kept-alive connection: a new TLS handshake for each of a
thousand requests would dwarf the latency being compared."""

from __future__ import annotations

import time

import requests

from deployer.agreement import Answer
from deployer.smoke import DEPLOYMENT_HEADER, MAX_RESPONSE_BYTES, exchange


class HttpScorer:
    def __init__(self, scoring_uri: str, credential: str) -> None:
        self._url = scoring_uri
        self._credential = credential
        self._session = requests.Session()

    def score(self, deployment: str, body: bytes, timeout: float) -> Answer:
        headers = {
            "Authorization": f"Bearer {self._credential}",
            "Content-Type": "application/json",
            "Accept-Encoding": "identity",
            DEPLOYMENT_HEADER: deployment,
        }
        started = time.perf_counter()
        answer = exchange(self._url, body, headers, timeout, self._session)
        if answer is None or answer.failure == "timeout":
            return Answer(None, failure=f"no complete answer within {timeout:g} s")
        if answer.failure is not None or answer.status is None:
            return Answer(None, failure=answer.failure or "no answer")
        latency = (time.perf_counter() - started) * 1000
        if not answer.complete:
            limit = MAX_RESPONSE_BYTES // 2**20
            return Answer(answer.status, latency_ms=latency, failure=f"longer than {limit} MiB")
        return Answer(answer.status, answer.body, latency)
