"""The scoring gateway: `https://<endpoint>.<region>.inference.localhost:<port>/score` or
`https://127.0.0.1:<port>/<endpoint>/score` (emulator/scoring_hosts.py) → a ready instance of a
deployment, chosen by the endpoint's traffic weights (or the `azureml-model-deployment` header).

Answers only with the status codes managed endpoints document (how-to-troubleshoot-online-
endpoints.md, "HTTP status codes": 200, 401, 404, 408, 424, 429, 500): 401 without a valid key
or token, 404 when no deployment has positive weight, 408 when the model takes longer than the
deployment's request timeout, 424 when the model answers non-200 (with
`ms-azureml-model-error-statuscode` and `-reason`) or drops the connection without an answer,
429 beyond 2 x max_concurrent_requests_per_instance x instances, 500 ("Azure ML-provisioned
infrastructure is failing") when the chosen deployment has no ready instance. Mirror traffic is
copied to its deployment and the answer discarded, but never for a request that names its
deployment in `azureml-model-deployment` (how-to-safely-rollout-online-endpoints.md).
"""

from __future__ import annotations

import asyncio
import datetime
import hmac
import itertools
import random
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import httpx
import jwt
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from emulator import scoring_hosts
from emulator.datacollector import Exchange, PayloadLogger
from emulator.dataplane import DockerDataPlane, Instance
from emulator.entra import EntraId
from emulator.faults import FaultStore
from emulator.http import json_response
from emulator.resources.durations import seconds
from emulator.resources.model import PROVIDER, Deployment, Endpoint
from emulator.resources.served import Served
from emulator.resources.store import Store
from emulator.tokens import SigningKey

DEPLOYMENT_HEADER = "azureml-model-deployment"
AAD_AUDIENCE = "https://ml.azure.com"
SCORE_ACTION = "workspaces/onlineEndpoints/score/action"
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "host",
    "content-length",
    "authorization",
    DEPLOYMENT_HEADER,
}


def _message(status: int, message: str, **headers: str) -> Response:
    return json_response({"message": message}, status, headers or None)


@dataclass
class ScoringGateway:
    store: Store
    dataplane: DockerDataPlane
    location: str
    scoring_key: SigningKey
    entra: EntraId
    faults: FaultStore
    payloads: PayloadLogger | None = None  # the data collector's payload logging
    _round_robin: dict[str, itertools.count[int]] = field(default_factory=dict)
    _mirrors: set[asyncio.Task[Response]] = field(default_factory=set)
    _collecting: set[asyncio.Future[None]] = field(default_factory=set)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self._handle(request)
        await response(scope, receive, send)

    async def _handle(self, request: Request) -> Response:
        in_host = scoring_hosts.endpoint_in_host(request.headers.get("host", ""), self.location)
        if in_host is not None:  # https://<endpoint>.<region>.inference.localhost:<port>/score
            name, rest = in_host, request.url.path.strip("/")
        else:  # https://127.0.0.1:<port>/<endpoint>/score
            name, _, rest = request.url.path.strip("/").partition("/")
        endpoint = self.store.endpoint_named_in_region(name, self.location) if name else None
        if endpoint is None or endpoint.provisioning_state in ("Creating", "Deleting"):
            return _message(404, f"Endpoint '{name}' not found.")
        if rest not in ("score", "swagger.json"):
            return _message(
                404, f"No route /{rest} on endpoint '{name}'; score at {endpoint.scoring_uri}."
            )
        if endpoint.public_network_access == "Disabled" and not self.store.clients_inside_network:
            # "the endpoint can't be reached from public networks" (concept-secure-online-
            # endpoint.md); what an outside client then gets is not documented: see the README.
            return _message(
                403,
                f"Public network access to endpoint '{name}' is disabled: score it from inside "
                "the workspace's virtual network, through the workspace's private endpoint.",
            )
        refusal = self._authenticate(request, endpoint)
        if refusal is not None:
            return refusal
        deployment = self._choose(request, endpoint)
        if isinstance(deployment, Response):
            return deployment
        body = await request.body()
        if rest == "score" and not request.headers.get(DEPLOYMENT_HEADER):
            self._mirror(request, endpoint, body)
        return await self._forward(request, deployment, body, swagger=rest == "swagger.json")

    def _authenticate(self, request: Request, endpoint: Endpoint) -> Response | None:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credential:
            return _message(
                401,
                "Missing authorization: send 'Authorization: Bearer <endpoint key or token>'.",
            )
        if endpoint.auth_mode == "Key":
            keys = (endpoint.primary_key, endpoint.secondary_key)
            if any(hmac.compare_digest(credential, key) for key in keys):
                return None
            return _message(401, "Invalid key: use the endpoint's primary or secondary key.")
        try:
            if endpoint.auth_mode == "AMLToken":
                self.scoring_key.verify(credential, audience=endpoint.scoring_uri)
            else:
                # Signed by this tenant, for https://ml.azure.com, not expired
                # (concept-endpoints-online-auth.md); the caller needs score/action.
                self.entra.verify_access_token(credential, {AAD_AUDIENCE, AAD_AUDIENCE + "/"})
                if f"{PROVIDER}/{SCORE_ACTION}" in self.store.denied_actions:
                    return _message(
                        401,
                        "Unauthorized: the caller has no role that allows "
                        f"{PROVIDER}/{SCORE_ACTION} on this endpoint.",
                    )
        except jwt.ExpiredSignatureError:
            return _message(401, "The token has expired; get a new one.")
        except jwt.InvalidTokenError:
            return _message(
                401, f"Invalid token for an endpoint with auth mode {endpoint.auth_mode}."
            )
        return None

    def _choose(self, request: Request, endpoint: Endpoint) -> Deployment | Response:
        wanted = request.headers.get(DEPLOYMENT_HEADER)
        if wanted:
            deployment = endpoint.deployment(wanted)
            if deployment is None or deployment.provisioning_state in ("Creating", "Deleting"):
                return _message(
                    404, f"Deployment '{wanted}' not found on endpoint '{endpoint.name}'."
                )
            return deployment
        weighted = [(name, weight) for name, weight in endpoint.live_traffic.items() if weight > 0]
        if not weighted:
            return _message(
                404,
                "No valid deployments to route to. Please check that the endpoint has at least "
                "one deployment with positive weight values or use a deployment specific header "
                "to route.",
            )
        names = [name for name, _ in weighted]
        name = random.choices(names, weights=[w for _, w in weighted])[0]  # noqa: S311
        deployment = endpoint.deployment(name)
        if deployment is None:
            return _message(404, f"Deployment '{name}' not found on endpoint '{endpoint.name}'.")
        return deployment

    def _mirror(self, request: Request, endpoint: Endpoint, body: bytes) -> None:
        for name, percent in endpoint.live_mirror_traffic.items():
            deployment = endpoint.deployment(name)
            if deployment is None or percent <= 0 or random.uniform(0, 100) >= percent:  # noqa: S311
                continue
            task = asyncio.get_running_loop().create_task(
                self._forward(request, deployment, body, swagger=False, mirrored=True)
            )
            self._mirrors.add(task)
            task.add_done_callback(self._mirrors.discard)

    def _instance(self, deployment: Deployment) -> Instance | None:
        ready = self.dataplane.ready_instances(deployment.id)
        if not ready:
            return None
        turn = self._round_robin.setdefault(deployment.id, itertools.count())
        return ready[next(turn) % len(ready)]

    async def _forward(
        self,
        request: Request,
        deployment: Deployment,
        body: bytes,
        *,
        swagger: bool,
        mirrored: bool = False,
    ) -> Response:
        started = time.monotonic()
        response = await self._serve(request, deployment, body, swagger=swagger, mirrored=mirrored)
        if not swagger and (self.store.mirrored_counted or not mirrored):
            model_status = response.headers.get("ms-azureml-model-error-statuscode")
            self.store.served.record(
                Served(
                    at=time.time(),
                    endpoint_id=deployment.endpoint.id.lower(),
                    deployment_id=deployment.id.lower(),
                    deployment=deployment.name,
                    status=response.status_code,
                    model_status=int(model_status)
                    if model_status
                    else (200 if response.status_code == 200 else None),
                    latency_ms=(time.monotonic() - started) * 1000,
                    mirrored=mirrored,
                )
            )
        return response

    async def _serve(
        self,
        request: Request,
        deployment: Deployment,
        body: bytes,
        *,
        swagger: bool,
        mirrored: bool,
    ) -> Response:
        instance = self._instance(deployment)
        answered_by = {DEPLOYMENT_HEADER: deployment.name, "x-request-id": str(uuid.uuid4())}
        if instance is None:
            return _message(
                500,
                f"Internal server error: deployment '{deployment.name}' has no ready instance "
                "to serve the request.",
                **answered_by,
            )
        settings = deployment.properties.get("requestSettings") or {}
        limit = (
            2
            * int(settings.get("maxConcurrentRequestsPerInstance", 1))
            * len(self.dataplane.ready_instances(deployment.id))
        )
        busy = sum(i.in_flight for i in self.dataplane.all_instances(deployment.id))
        if not mirrored and busy >= limit:
            return _message(429, "Too many pending requests.", **answered_by)
        timeout = seconds(str(settings.get("requestTimeout", "PT5S")))
        path = "/swagger.json" if swagger else instance.scoring.path
        url = f"http://{instance.ip}:{instance.scoring.port}{path}"
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        instance.in_flight += 1
        try:
            upstream = await self.dataplane.http.request(
                request.method if not swagger else "GET",
                url,
                content=body if not swagger else None,
                headers=headers,
                params=request.query_params,
                timeout=timeout,
            )
        except httpx.TimeoutException:
            return _message(
                408,
                f"The model did not answer within the deployment's request timeout "
                f"({timeout * 1000:g} ms, request_settings.request_timeout_ms).",
                **answered_by,
            )
        except httpx.HTTPError:
            # No status to report: the documented 424 "Model Error", without the
            # ms-azureml-model-error-* headers that describe a model's own answer.
            return _message(
                424, "Model Error: the model container closed the connection.", **answered_by
            )
        finally:
            instance.in_flight -= 1
            self._count(deployment, mirrored)
        answer = self._answer(upstream, answered_by, swagger=swagger)
        if not swagger:
            self._collect(
                request,
                deployment=deployment,
                instance=instance,
                body=body,
                upstream=upstream,
                answered_by=answered_by,
            )
        return answer

    def _collect(
        self,
        request: Request,
        *,
        deployment: Deployment,
        instance: Instance,
        body: bytes,
        upstream: httpx.Response,
        answered_by: dict[str, str],
    ) -> None:
        """Payload logging, off the request's path: Azure's collector writes after the
        answer too (emulator/datacollector.py)."""
        if self.payloads is None or not self.payloads.collections(deployment):
            return
        request_id = answered_by["x-request-id"]
        exchange = Exchange(
            deployment=deployment,
            instance=instance.name,
            path="/score" + (f"?{request.url.query}" if request.url.query else ""),
            method=request.method,
            request_type=request.headers.get("content-type", ""),
            request_body=body,
            response_type=upstream.headers.get("content-type", ""),
            response_body=upstream.content,
            request_id=request_id,
            correlation_id=request.headers.get("x-ms-client-request-id", request_id),
            at=datetime.datetime.now(datetime.UTC),
        )
        task = asyncio.ensure_future(asyncio.to_thread(self.payloads.log, exchange))
        self._collecting.add(task)
        task.add_done_callback(self._collecting.discard)

    def _count(self, deployment: Deployment, mirrored: bool) -> None:
        """The `unready_after` fault: after N requests the deployment's instances go unready."""
        if mirrored:
            return
        if self.faults.countdown("unready_after", "dataplane", deployment.id):
            for instance in self.dataplane.all_instances(deployment.id):
                instance.forced_unready = True
                instance.ready = False

    @staticmethod
    def _answer(
        upstream: httpx.Response, answered_by: dict[str, str], *, swagger: bool
    ) -> Response:
        headers: dict[str, Any] = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() not in _HOP_BY_HOP and k.lower() != "content-encoding"
        }
        headers.update(answered_by)
        status = upstream.status_code
        if status != 200 and not swagger:
            headers["ms-azureml-model-error-statuscode"] = str(status)
            try:
                headers["ms-azureml-model-error-reason"] = HTTPStatus(status).phrase
            except ValueError:
                headers["ms-azureml-model-error-reason"] = "unknown"
            status = 424
        return Response(upstream.content, status_code=status, headers=headers)
