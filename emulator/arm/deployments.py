"""Online deployments (create/update, get, list, patch, delete, logs, SKUs) and the
environment versions they run."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.arm.context import ArmContext, Scope
from emulator.arm.endpoints import find as find_endpoint
from emulator.errors import BadArgument, Conflict, NotFound
from emulator.http import json_body, json_response
from emulator.resources import durations, rules, skus
from emulator.resources.model import Deployment, Endpoint, Operation, utc_now
from emulator.resources.provisioning import Outcome

MAX_INSTANCES = skus.LIMITS["instances_per_deployment"]
MAX_REQUEST_TIMEOUT_SECONDS = skus.LIMITS["request_timeout_ms"] // 1000
_PROBE_DEFAULTS = {
    "failureThreshold": 30,
    "successThreshold": 1,
    "timeout": "PT2S",
    "period": "PT10S",
    "initialDelay": "PT10S",
}
_REQUEST_DEFAULTS = {
    "maxQueueWait": "PT0S",
    "requestTimeout": "PT5S",
    "maxConcurrentRequestsPerInstance": 1,
}
_CONTAINER_TYPES = ("InferenceServer", "StorageInitializer")


def _find(endpoint: Endpoint, name: str) -> Deployment:
    deployment = endpoint.deployment(name)
    if deployment is None:
        raise NotFound(
            f"Deployment '{name}' was not found on online endpoint '{endpoint.name}'.",
        )
    return deployment


class DeploymentHandlers:
    def __init__(self, ctx: ArmContext) -> None:
        self.ctx = ctx

    async def get(self, request: Request, scope: Scope) -> Response:
        endpoint = find_endpoint(self.ctx, scope)
        return json_response(_find(endpoint, scope.params["deployment"]).rest())

    async def list(self, request: Request, scope: Scope) -> Response:
        endpoint = find_endpoint(self.ctx, scope)
        return json_response({"value": [d.rest() for d in endpoint.deployments.values()]})

    async def put(self, request: Request, scope: Scope) -> Response:
        endpoint = find_endpoint(self.ctx, scope)
        name = scope.params["deployment"]
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise BadArgument("The request body must be an online deployment with properties.")
        rules.check_busy(endpoint, "changing its deployments")
        if endpoint.provisioning_state in ("Creating", "Updating", "Deleting"):
            # Azure's words (Azure/azure-sdk-for-net#36961, seen just after the endpoint had
            # reported Succeeded); the status is not shown there: 409 is the emulator's
            raise Conflict(
                f"Cannot create a deployment in endpoint {endpoint.name} because it is in "
                f"{endpoint.provisioning_state} provisioning state.",
            )
        existing = endpoint.deployment(name)
        if existing is None:
            rules.check_name("deployment", name)
            rules.check_deployment_count(self.ctx.store, endpoint)
        properties = self._properties(scope, body["properties"])
        if existing is not None:
            rules.check_immutable(existing, properties)
        sku = dict(body.get("sku") or {"name": "Default", "capacity": 1})
        capacity = sku.get("capacity", 1)
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise BadArgument(
                f"sku.capacity must be an integer >= 1 (got {capacity!r}).",
                target="sku.capacity",
            )
        if capacity > MAX_INSTANCES:
            raise BadArgument(
                f"A deployment can have at most {MAX_INSTANCES} instances (got {capacity}).",
                target="sku.capacity",
            )
        instance_sku = rules.check_instance_type(str(properties["instanceType"]))
        rules.check_quota(
            self.ctx.store, endpoint.workspace.subscription, instance_sku, capacity, existing
        )
        sku.setdefault("name", "Default")
        tags = dict(body.get("tags") or {})
        if existing is None:
            deployment = Deployment(
                endpoint=endpoint,
                name=name,
                location=endpoint.location,
                properties=properties,
                sku=sku,
                tags=tags,
            )
            endpoint.deployments[name.lower()] = deployment
            operation = self._provision(deployment, scope, "deployment_create")
            status = 201
        else:
            deployment = existing
            deployment.properties = properties
            deployment.sku = sku
            deployment.tags = tags
            deployment.provisioning_state = "Updating"
            deployment.modified = utc_now()
            operation = self._provision(deployment, scope, "deployment_update")
            status = 200
        deployment.properties["properties"]["AzureAsyncOperationUri"] = self.ctx.engine.status_url(
            operation
        )
        headers = self.ctx.engine.headers(
            operation, location=self.ctx.resource_url(deployment.id, request)
        )
        return json_response(deployment.rest(), status, headers)

    def _no_code_mlflow(self, model_id: str) -> bool:
        model = self.ctx.store.assets.by_id(model_id) if model_id else None
        return model is not None and model.properties.get("modelType") == "mlflow_model"

    def _properties(self, scope: Scope, given: dict[str, Any]) -> dict[str, Any]:
        compute = str(given.get("endpointComputeType", ""))
        if compute.lower() != "managed":
            raise BadArgument(
                f"endpointComputeType '{compute}' is not supported here: managed online "
                "endpoints take 'Managed' deployments.",
                target="properties.endpointComputeType",
            )
        if not given.get("instanceType"):
            raise BadArgument(
                "instanceType is required for managed deployments.",
                target="properties.instanceType",
            )
        # A model or code version that cannot be found fails the deployment while it
        # provisions ("Unable to download user model", how-to-troubleshoot-online-endpoints.md;
        # emulator/launch.py), as on Azure, not this request.
        environment_id = str(given.get("environmentId") or "")
        if not environment_id and self._no_code_mlflow(str(given.get("model") or "")):
            pass  # Azure ML generates the environment (how-to-deploy-mlflow-models.md)
        elif self.ctx.store.environment_by_id(scope.workspace, environment_id) is None:
            raise BadArgument(
                f"Environment '{environment_id}' was not found. Register the environment "
                "version before deploying it.",
                target="properties.environmentId",
            )
        request_settings = {**_REQUEST_DEFAULTS, **(given.get("requestSettings") or {})}
        timeout = _duration(request_settings["requestTimeout"], "requestSettings.requestTimeout")
        if not 0 < timeout <= MAX_REQUEST_TIMEOUT_SECONDS:
            raise BadArgument(
                f"requestSettings.requestTimeout must be between 1 ms and "
                f"{MAX_REQUEST_TIMEOUT_SECONDS} s (got {request_settings['requestTimeout']}).",
                target="properties.requestSettings.requestTimeout",
            )
        probes = {}
        for name in ("livenessProbe", "readinessProbe"):
            probe = {**_PROBE_DEFAULTS, **(given.get(name) or {})}
            for field in ("timeout", "period", "initialDelay"):
                _duration(probe[field], f"{name}.{field}")
            probes[name] = probe
        rules.check_liveness_success_threshold(probes["livenessProbe"]["successThreshold"])
        return {
            **given,
            "endpointComputeType": "Managed",
            "properties": dict(given.get("properties") or {}),
            "environmentVariables": dict(given.get("environmentVariables") or {}),
            "appInsightsEnabled": bool(given.get("appInsightsEnabled", False)),
            "scaleSettings": given.get("scaleSettings") or {"scaleType": "Default"},
            "requestSettings": request_settings,
            "livenessProbe": probes["livenessProbe"],
            "readinessProbe": probes["readinessProbe"],
            "egressPublicNetworkAccess": given.get("egressPublicNetworkAccess") or "Enabled",
            "modelMountPath": given.get("modelMountPath"),
            "dataCollector": rules.data_collector(given.get("dataCollector")),
        }

    def _provision(self, deployment: Deployment, scope: Scope, kind: str) -> Operation:
        provisioner = self.ctx.provisioner

        async def work() -> Outcome:
            return await provisioner.provision(deployment)

        return self.ctx.engine.provision(
            kind=kind,
            method="PUT",
            resource=deployment,
            api_version=scope.api_version,
            work=work,
        )

    async def patch(self, request: Request, scope: Scope) -> Response:
        endpoint = find_endpoint(self.ctx, scope)
        deployment = _find(endpoint, scope.params["deployment"])
        body = await json_body(request)
        if not isinstance(body, dict):
            raise BadArgument("The request body must be an object.")
        rules.check_busy(endpoint, "changing its deployments")
        if "tags" in body:
            deployment.tags = dict(body["tags"] or {})
        capacity = (body.get("sku") or {}).get("capacity")
        if capacity is None:
            deployment.modified = utc_now()
            return json_response(deployment.rest())
        if (
            isinstance(capacity, bool)
            or not isinstance(capacity, int)
            or not (1 <= capacity <= MAX_INSTANCES)
        ):
            raise BadArgument(f"sku.capacity must be 1-{MAX_INSTANCES}.")
        sku = rules.check_instance_type(deployment.instance_type)
        rules.check_quota(
            self.ctx.store, endpoint.workspace.subscription, sku, capacity, deployment
        )
        deployment.sku = {**deployment.sku, "capacity": capacity}
        deployment.provisioning_state = "Updating"
        operation = self._provision(deployment, scope, "deployment_update")
        return self.ctx.engine.accepted(operation)

    async def delete(self, request: Request, scope: Scope) -> Response:
        endpoint = find_endpoint(self.ctx, scope)
        deployment = endpoint.deployment(scope.params["deployment"])
        if deployment is None:
            return Response(status_code=204)
        for field, values in (
            ("traffic", endpoint.traffic),
            ("mirror traffic", endpoint.mirror_traffic),
            ("traffic", endpoint.live_traffic),
        ):
            share = values.get(deployment.name, 0)
            if share > 0:
                raise BadArgument(
                    f"Deployment '{deployment.name}' has {share}% {field}; a deployment with "
                    "traffic cannot be deleted. Set its traffic to 0 first.",
                )
        rules.check_busy(endpoint, "deleting a deployment")
        deployment.provisioning_state = "Deleting"
        provisioner = self.ctx.provisioner

        async def work() -> Outcome:
            await provisioner.deprovision(deployment)
            return Outcome(ok=True)

        def succeeded() -> None:
            endpoint.deployments.pop(deployment.name.lower(), None)
            for table in (
                endpoint.traffic,
                endpoint.mirror_traffic,
                endpoint.live_traffic,
                endpoint.live_mirror_traffic,
            ):
                table.pop(deployment.name, None)

        def failed(code: str, message: str) -> None:
            deployment.provisioning_state = "Failed"

        operation = self.ctx.engine.start(
            kind="deployment_delete",
            method="DELETE",
            resource=deployment,
            api_version=scope.api_version,
            on_success=succeeded,
            on_failure=failed,
            work=work,
        )
        return self.ctx.engine.accepted(operation)

    async def get_logs(self, request: Request, scope: Scope) -> Response:
        endpoint = find_endpoint(self.ctx, scope)
        deployment = _find(endpoint, scope.params["deployment"])
        body = await json_body(request, required=False) or {}
        container = str(body.get("containerType") or "InferenceServer")
        if container not in _CONTAINER_TYPES:
            raise BadArgument(
                f"containerType must be one of {', '.join(_CONTAINER_TYPES)} (got {container}).",
                target="containerType",
            )
        tail = body.get("tail")
        lines = await self.ctx.provisioner.logs(
            deployment,
            container,
            tail if isinstance(tail, int) and not isinstance(tail, bool) and tail > 0 else None,
        )
        return json_response({"content": "\n".join(lines)})

    async def skus(self, request: Request, scope: Scope) -> Response:
        endpoint = find_endpoint(self.ctx, scope)
        _find(endpoint, scope.params["deployment"])
        return json_response(
            {
                "value": [
                    {
                        "resourceType": "Microsoft.MachineLearningServices/workspaces/"
                        "onlineEndpoints/deployments",
                        "sku": {"name": "Default", "tier": "Standard"},
                        "capacity": {
                            "minimum": 1,
                            "maximum": MAX_INSTANCES,
                            "default": 1,
                            "scaleType": "Automatic",
                        },
                    }
                ]
            }
        )


def _duration(value: Any, field: str) -> float:
    try:
        return durations.seconds(str(value))
    except ValueError:
        raise BadArgument(
            f"{field} must be an ISO 8601 duration such as PT5S (got {value!r}).",
            target=f"properties.{field}",
        ) from None
