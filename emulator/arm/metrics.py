"""Azure Monitor's metrics API on the endpoints and deployments (emulator/monitor/metrics.py)."""

from __future__ import annotations

import datetime
import time

from starlette.requests import Request
from starlette.responses import Response

from emulator.arm.context import ArmContext, Scope
from emulator.arm.endpoints import find as find_endpoint
from emulator.errors import ResourceNotFound
from emulator.http import json_response
from emulator.monitor import metrics


class MetricsHandlers:
    def __init__(self, ctx: ArmContext) -> None:
        self.ctx = ctx

    async def list(self, request: Request, scope: Scope) -> Response:
        endpoint = find_endpoint(self.ctx, scope)
        resource_id, namespace = endpoint.id, metrics.ENDPOINT_NAMESPACE
        name = scope.params.get("deployment")
        if name is not None:
            deployment = endpoint.deployment(name)
            if deployment is None:
                raise ResourceNotFound(
                    f"The Resource '{metrics.DEPLOYMENT_NAMESPACE}/{endpoint.name}/{name}' "
                    "was not found.",
                )
            resource_id, namespace = deployment.id, metrics.DEPLOYMENT_NAMESPACE
        query = metrics.parse(
            resource_id,
            namespace,
            dict(request.query_params),
            datetime.datetime.now(datetime.UTC),
        )
        timing = self.ctx.timing()
        visible_until = time.time() - timing.duration("metrics_ingestion")
        return json_response(
            metrics.answer(
                query,
                self.ctx.store.served,
                self.ctx.store.usage,
                visible_until,
                endpoint.location,
                minute=timing.duration("metrics_minute"),
            )
        )
