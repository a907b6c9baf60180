"""The ARM front door: routing (case-insensitive, like ARM), api-version, bearer-token
authentication, authorization, scope resolution (subscription → resource group → workspace)
and the operation-status resources."""

from __future__ import annotations

import datetime
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import jwt
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope

from emulator.arm import autoscale
from emulator.arm.assets import ROUTES as ASSET_ROUTES
from emulator.arm.assets import AssetHandlers
from emulator.arm.context import ArmContext, Scope
from emulator.arm.datastores import DatastoreHandlers
from emulator.arm.deployments import DeploymentHandlers
from emulator.arm.endpoints import EndpointHandlers
from emulator.arm.metrics import MetricsHandlers
from emulator.arm.registries import RegistryFront
from emulator.arm.throttling import BucketSize, Throttle, Verdict
from emulator.arm.usages import usages
from emulator.entra import EntraId
from emulator.errors import (
    AuthenticationFailed,
    AuthorizationFailed,
    ExpiredAuthenticationToken,
    InvalidApiVersionParameter,
    InvalidAuthenticationToken,
    InvalidAuthenticationTokenAudience,
    InvalidResourceType,
    MethodNotAllowed,
    MissingApiVersionParameter,
    NotFound,
    ResourceGroupNotFound,
    ResourceNotFound,
    SubscriptionNotFound,
    SubscriptionRequestsThrottled,
)
from emulator.http import ArmError, json_response
from emulator.resources.assets import KINDS
from emulator.resources.model import PROVIDER, Workspace

Handler = Callable[[Request, Scope], Awaitable[Response]]

_API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_SUB = r"/subscriptions/(?P<subscription>[^/]+)"
_WS = (
    _SUB + r"/resourceGroups/(?P<resource_group>[^/]+)/providers/Microsoft\.MachineLearningServices"
    r"/workspaces/(?P<workspace>[^/]+)"
)
_EP = _WS + r"/onlineEndpoints/(?P<endpoint>[^/]+)"
_DEP = _EP + r"/deployments/(?P<deployment>[^/]+)"
_DS = _WS + r"/datastores/(?P<datastore>[^/]+)"
_OPERATIONS = _SUB + r"/providers/Microsoft\.MachineLearningServices/locations/(?P<location>[^/]+)"
_REGISTRY = re.compile(
    _SUB + r"/resourceGroups/[^/]+/providers/Microsoft\.ContainerRegistry/registries/[^/]+/?$",
    re.IGNORECASE,
)
REGISTRY_READ = "Microsoft.ContainerRegistry/registries/read"

_USAGES = re.compile(_OPERATIONS + r"/usages/?$", re.IGNORECASE)


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    action: str  # the RBAC action, e.g. .../onlineEndpoints/write


# Reading a resource's metrics is Azure Monitor's action on it, which Monitoring Reader's */read
# grants (Azure built-in roles, Monitoring Reader; "Metrics - List" needs it).
METRICS_READ = "Microsoft.Insights/metrics/read"
METRICS_PATH = "/providers/microsoft.insights/metrics"


def _route(method: str, pattern: str, handler: Handler, action: str) -> _Route:
    return _Route(method, re.compile(pattern + "/?$", re.IGNORECASE), handler, action)


class ArmApp:
    def __init__(self, ctx: ArmContext, entra: EntraId, audiences: set[str], region: str) -> None:
        self.ctx = ctx
        self.region = region
        self.throttle: Throttle | None = None
        self.entra = entra
        self.audiences = audiences | {audience + "/" for audience in audiences}
        endpoints = EndpointHandlers(ctx)
        deployments = DeploymentHandlers(ctx)
        datastores = DatastoreHandlers(ctx)
        self.registry_front = RegistryFront(ctx)
        metrics = MetricsHandlers(ctx)
        self.autoscale = autoscale.AutoscaleHandlers(ctx.store)
        insights = r"/providers/Microsoft\.Insights/metrics"
        ws, ep, dep = (
            "workspaces",
            "workspaces/onlineEndpoints",
            "workspaces/onlineEndpoints/deployments",
        )
        ds = "workspaces/datastores"
        self.routes = [
            _route("GET", _WS, self._workspace, f"{ws}/read"),
            _route("GET", _WS + "/onlineEndpoints", endpoints.list, f"{ep}/read"),
            _route("GET", _EP, endpoints.get, f"{ep}/read"),
            _route("PUT", _EP, endpoints.put, f"{ep}/write"),
            _route("PATCH", _EP, endpoints.patch, f"{ep}/write"),
            _route("DELETE", _EP, endpoints.delete, f"{ep}/delete"),
            _route("POST", _EP + "/listKeys", endpoints.list_keys, f"{ep}/listKeys/action"),
            _route(
                "POST",
                _EP + "/regenerateKeys",
                endpoints.regenerate_keys,
                f"{ep}/regenerateKeys/action",
            ),
            _route("POST", _EP + "/token", endpoints.token, f"{ep}/token/action"),
            _route("GET", _EP + "/deployments", deployments.list, f"{dep}/read"),
            _route("GET", _DEP, deployments.get, f"{dep}/read"),
            _route("PUT", _DEP, deployments.put, f"{dep}/write"),
            _route("PATCH", _DEP, deployments.patch, f"{dep}/write"),
            _route("DELETE", _DEP, deployments.delete, f"{dep}/delete"),
            _route("POST", _DEP + "/getLogs", deployments.get_logs, f"{dep}/getLogs/action"),
            _route("GET", _DEP + "/skus", deployments.skus, f"{dep}/read"),
            # Also Microsoft.Insights/metrics/read (METRICS_READ), checked with the route's.
            _route("GET", _EP + insights, metrics.list, f"{ep}/read"),
            _route("GET", _DEP + insights, metrics.list, f"{dep}/read"),
            _route("GET", _WS + "/datastores", datastores.list, f"{ds}/read"),
            _route("GET", _DS, datastores.get, f"{ds}/read"),
            _route("PUT", _DS, datastores.put, f"{ds}/write"),
            _route(
                "POST", _DS + "/listSecrets", datastores.list_secrets, f"{ds}/listSecrets/action"
            ),
            *_asset_routes(ctx),
        ]
        self.operation_routes = [
            (
                re.compile(_OPERATIONS + r"/mfeOperationsStatus/(?P<operation>[^/]+)/?$", re.I),
                self._operation_status,
            ),
            (
                re.compile(_OPERATIONS + r"/mfeOperationResults/(?P<operation>[^/]+)/?$", re.I),
                self._operation_result,
            ),
        ]

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        budget: list[Verdict] = []
        try:
            response = await self._handle(request, budget)
        except ArmError as error:
            response = error.response()
        for verdict in budget:
            response.headers[f"x-ms-ratelimit-remaining-subscription-{verdict.kind}"] = str(
                verdict.remaining
            )
        await response(scope, receive, send)

    def _throttle(
        self, principal: dict[str, object], request: Request, budget: list[Verdict]
    ) -> None:
        """ARM's token bucket: a spent one answers 429 and the request is not processed."""
        verdict = self._admit(principal, request.method)
        if verdict is not None:
            budget.append(verdict)
            if verdict.retry_after is not None:
                # The envelope as ARM sends it (velero-io/velero#9171 quotes one).
                subscription = re.search(r"/subscriptions/([^/]+)", request.url.path, re.I)
                raise SubscriptionRequestsThrottled(
                    f"Number of '{verdict.kind.rstrip('s')}' requests for subscription "
                    f"'{subscription[1] if subscription else ''}' actor "
                    f"'{principal.get('oid')}' exceeded. Please try again after "
                    f"'{verdict.retry_after}' seconds after additional tokens are available. "
                    "Refer to https://aka.ms/arm-throttling for additional information.",
                    headers={"Retry-After": str(verdict.retry_after)},
                )

    async def _handle(self, request: Request, budget: list[Verdict]) -> Response:
        path = request.url.path
        if path.rstrip("/").lower() == "/metadata/endpoints":
            return self._metadata()
        if self.registry_front.handles(path):
            principal = self._authenticate(request)
            self._throttle(principal, request, budget)
            return await self.registry_front.handle(request, principal)
        api_version = _api_version(request)
        principal = self._authenticate(request)
        self._throttle(principal, request, budget)
        for pattern, operation_handler in self.operation_routes:
            match = pattern.match(path)
            if match is not None and request.method == "GET":
                self._subscription(match["subscription"])
                return operation_handler(match["operation"])
        if _REGISTRY.match(path) and request.method == "GET":
            return self._registry(path, principal)
        found = autoscale.match(path)
        if found is not None:
            self._subscription(found["subscription"])
            self._resource_group(found["subscription"], found["resource_group"])
            self._authorize_action(
                principal, autoscale.ACTIONS.get(request.method, ""), path.rstrip("/")
            )
            return await self.autoscale.handle(request, found)
        match = _USAGES.match(path)
        if match is not None and request.method == "GET":
            subscription = match["subscription"]
            self._subscription(subscription)
            scope_id = f"/subscriptions/{subscription}"
            self._authorize(principal, "locations/usages/read", scope_id)
            location = match["location"].replace(" ", "").lower()
            return json_response(usages(self.ctx.store, subscription, location))
        matched_path = False
        for route in self.routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            matched_path = True
            if route.method != request.method:
                continue
            params = {k: v for k, v in match.groupdict().items() if v is not None}
            workspace = self._workspace_of(params)
            self._authorize(principal, route.action, workspace.id)
            if path.rstrip("/").lower().endswith(METRICS_PATH):
                # Reading metrics is Azure Monitor's action (Monitoring Reader has it), not
                # only the resource's read.
                self._authorize_action(principal, METRICS_READ, path.rstrip("/"))
            return await route.handler(request, Scope(workspace, params, api_version))
        if matched_path:
            raise MethodNotAllowed(
                f"The HTTP method '{request.method}' is not supported for this resource.",
            )
        raise InvalidResourceType(
            f"The resource type for path '{path}' could not be found in the namespace "
            f"'{PROVIDER}' for api version '{api_version}'.",
        )

    def _admit(self, principal: dict[str, object], method: str) -> Verdict | None:
        """ARM's request budget (emulator/arm/throttling.py), when the timing models it."""
        buckets = self.ctx.timing().arm_buckets
        if buckets is None:
            self.throttle = None
            return None
        sizes = {kind: BucketSize(size, rate) for kind, (size, rate) in buckets.items()}
        if self.throttle is None or self.throttle.sizes != sizes:
            self.throttle = Throttle(sizes, self.region)
        return self.throttle.admit(str(principal.get("oid")), method)

    def _metadata(self) -> Response:
        base = self.ctx.arm_url + "/"
        return json_response(
            [
                {
                    "name": "AzureMLEmulator",
                    "portal": f"{self.ctx.arm_url}/portal",
                    "resourceManager": base,
                    "authentication": {
                        "loginEndpoint": self.entra.url + "/",
                        "audiences": [base],
                        "tenant": "common",
                        "identityProvider": "AAD",
                    },
                    "suffixes": {"storage": "core.windows.net", "acrLoginServer": "azurecr.io"},
                }
            ]
        )

    def _challenge(self, error: str, description: str) -> dict[str, str]:
        authority = f"{self.entra.url}/{self.entra.identity.tenant_id}"
        return {
            "WWW-Authenticate": f'Bearer authorization_uri="{authority}", '
            f'error="{error}", error_description="{description}"'
        }

    def _authenticate(self, request: Request) -> dict[str, object]:
        header = request.headers.get("authorization")
        if not header:
            message = "Authentication failed. The 'Authorization' header is missing."
            raise AuthenticationFailed(
                message,
                headers=self._challenge("invalid_token", "The authentication failed"),
            )
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            message = "Authentication failed. The 'Authorization' header is not a bearer token."
            raise AuthenticationFailed(
                message,
                headers=self._challenge("invalid_token", "The authentication failed"),
            )
        try:
            return self.entra.verify_access_token(token, self.audiences)
        except jwt.ExpiredSignatureError:
            expiry = _claim_time(token, "exp")
            now = datetime.datetime.now(datetime.UTC).strftime("%m/%d/%Y %H:%M:%S")
            raise ExpiredAuthenticationToken(
                f"The access token expiry UTC time '{expiry}' is earlier than current UTC time "
                f"'{now}'.",
                headers=self._challenge("invalid_token", "The access token has expired"),
            ) from None
        except jwt.InvalidAudienceError:
            audience = _claim(token, "aud")
            allowed = "','".join(sorted(self.audiences))
            raise InvalidAuthenticationTokenAudience(
                f"The access token has been obtained for wrong audience or resource "
                f"'{audience}'. It should exactly match with one of the allowed audiences "
                f"'{allowed}'.",
                headers=self._challenge("invalid_token", "The access token has a wrong audience"),
            ) from None
        except jwt.InvalidTokenError:
            raise InvalidAuthenticationToken(
                "The access token is invalid.",
                headers=self._challenge("invalid_token", "The access token is invalid"),
            ) from None

    def _authorize(self, principal: dict[str, object], action: str, scope_id: str) -> None:
        self._authorize_action(principal, f"{PROVIDER}/{action}", scope_id)

    def _authorize_action(
        self, principal: dict[str, object], full_action: str, scope_id: str
    ) -> None:
        if full_action in self.ctx.store.denied_actions:
            raise AuthorizationFailed(
                f"The client '{principal.get('appid')}' with object id '{principal.get('oid')}' "
                f"does not have authorization to perform action '{full_action}' over scope "
                f"'{scope_id}' or the scope is invalid. If access was recently granted, please "
                "refresh your credentials.",
            )

    def _subscription(self, subscription: str) -> None:
        if subscription.lower() not in self.ctx.store.subscriptions():
            raise SubscriptionNotFound(
                f"The subscription '{subscription}' could not be found.",
            )

    def _resource_group(self, subscription: str, resource_group: str) -> None:
        if resource_group.lower() not in self.ctx.store.resource_groups(subscription):
            raise ResourceGroupNotFound(
                f"Resource group '{resource_group}' could not be found.",
            )

    def _workspace_of(self, params: dict[str, str]) -> Workspace:
        subscription = params["subscription"]
        resource_group = params["resource_group"]
        name = params["workspace"]
        self._subscription(subscription)
        self._resource_group(subscription, resource_group)
        workspace = self.ctx.store.workspace(subscription, resource_group, name)
        if workspace is None:
            raise ResourceNotFound(
                f"The Resource '{PROVIDER}/workspaces/{name}' under resource group "
                f"'{resource_group}' was not found. For more details please go to "
                "https://aka.ms/ARMResourceNotFoundFix",
            )
        return workspace

    def _registry(self, path: str, principal: dict[str, object]) -> Response:
        """A container registry's ARM resource (what the deployer reads for its login server and
        role assignment mode)."""
        resource_id = path.rstrip("/")
        if REGISTRY_READ in self.ctx.store.denied_actions:
            raise AuthorizationFailed(
                f"The client '{principal.get('appid')}' with object id '{principal.get('oid')}' "
                f"does not have authorization to perform action '{REGISTRY_READ}' over scope "
                f"'{resource_id}' or the scope is invalid.",
            )
        registry = self.ctx.registries().get(resource_id.lower())
        if registry is None:
            name = resource_id.rsplit("/", 1)[-1]
            raise ResourceNotFound(
                f"The Resource 'Microsoft.ContainerRegistry/registries/{name}' was not found.",
            )
        return json_response(registry)

    async def _workspace(self, request: Request, scope: Scope) -> Response:
        return json_response(scope.workspace.rest())

    def _operation(self, operation_id: str):  # type: ignore[no-untyped-def]
        operation = self.ctx.store.operations.get(operation_id)
        if operation is None:
            raise NotFound(f"Operation '{operation_id}' was not found.")
        return operation

    def _operation_status(self, operation_id: str) -> Response:
        operation = self._operation(operation_id)
        headers = {} if operation.done else self.ctx.timing().retry_headers()
        return json_response(operation.rest(), 200, headers)

    def _operation_result(self, operation_id: str) -> Response:
        operation = self._operation(operation_id)
        if not operation.done:
            headers = {"Location": self.ctx.engine.result_url(operation)}
            headers |= self.ctx.timing().retry_headers()
            return Response(status_code=202, headers=headers)
        if operation.status == "Failed" and operation.error is not None:
            raise ArmError(400, operation.error["code"], operation.error["message"])
        return Response(status_code=200)


def _asset_routes(ctx: ArmContext) -> list[_Route]:
    """A workspace's models, codes and environments (emulator/arm/assets.py)."""
    routes = []
    for kind in KINDS:
        handlers = AssetHandlers(ctx, kind)
        for method, suffix, attribute, verb in ASSET_ROUTES:
            handler = getattr(handlers, attribute)
            action = f"workspaces/{kind}/{'versions/' if '/versions' in suffix else ''}{verb}"
            routes.append(_route(method, _WS + f"/{kind}" + suffix, _in_workspace(handler), action))
    return routes


def _in_workspace(
    handler: Callable[[Request, str, dict[str, str]], Awaitable[Response]],
) -> Handler:
    async def handle(request: Request, scope: Scope) -> Response:
        return await handler(request, scope.workspace.id, scope.params)

    return handle


def _claim(token: str, name: str) -> object:
    try:
        return jwt.decode(token, options={"verify_signature": False}).get(name)
    except jwt.InvalidTokenError:
        return None


def _claim_time(token: str, name: str) -> str:
    value = _claim(token, name)
    if not isinstance(value, int | float):
        return "unknown"
    moment = datetime.datetime.fromtimestamp(value, datetime.UTC)
    return moment.strftime("%m/%d/%Y %H:%M:%S")


def _api_version(request: Request) -> str:
    api_version = request.query_params.get("api-version")
    if not api_version:
        raise MissingApiVersionParameter(
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if not _API_VERSION.match(api_version):
        raise InvalidApiVersionParameter(
            f"The api-version '{api_version}' is invalid. The supported versions are "
            "dates such as '2023-04-01-preview'.",
        )
    return api_version
