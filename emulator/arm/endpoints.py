"""Online endpoints: create/update (full PUT), get, list, patch, delete, keys and tokens."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.arm.context import ArmContext, Scope
from emulator.errors import BadArgument, NotFound
from emulator.http import ArmError, json_body, json_response
from emulator.ledger import LEDGER
from emulator.resources import rules
from emulator.resources.model import Endpoint, endpoint_key, utc_now
from emulator.resources.provisioning import Outcome

_SERVER_PROPERTIES = {"azureml.onlineendpointid", "AzureAsyncOperationUri"}
AML_TOKEN_LIFETIME = 24 * 3600


def not_found(name: str, scope: Scope) -> ArmError:
    return NotFound(
        f"Online endpoint '{name}' was not found in workspace '{scope.workspace.name}'.",
    )


def find(ctx: ArmContext, scope: Scope) -> Endpoint:
    name = scope.params["endpoint"]
    endpoint = ctx.store.endpoint(scope.workspace, name)
    if endpoint is None:
        raise not_found(name, scope)
    return endpoint


class EndpointHandlers:
    def __init__(self, ctx: ArmContext) -> None:
        self.ctx = ctx

    async def get(self, request: Request, scope: Scope) -> Response:
        return json_response(find(self.ctx, scope).rest())

    async def list(self, request: Request, scope: Scope) -> Response:
        endpoints = self.ctx.store.endpoints_in(scope.workspace)
        return json_response({"value": [endpoint.rest() for endpoint in endpoints]})

    async def put(self, request: Request, scope: Scope) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
            raise BadArgument("The request body must be an online endpoint with properties.")
        existing = self.ctx.store.endpoint(scope.workspace, scope.params["endpoint"])
        if existing is None:
            return self._create(request, scope, body)
        return self._update(request, scope, existing, body)

    def _create(self, request: Request, scope: Scope, body: dict[str, Any]) -> Response:
        workspace = scope.workspace
        name = scope.params["endpoint"]
        rules.check_name("endpoint", name)
        location = str(body.get("location", "")).replace(" ", "").lower()
        if location != workspace.location:
            raise BadArgument(
                f"The endpoint location '{body.get('location')}' must be the workspace's "
                f"location '{workspace.location}'.",
                target="location",
            )
        store = self.ctx.store
        if store.endpoint_named_in_region(name, workspace.location) or (
            (workspace.location, name.lower()) in store.taken_names
        ):
            raise rules.name_taken()
        rules.check_endpoint_count(store, workspace.subscription, workspace.location)
        properties = body["properties"]
        mode = rules.auth_mode(properties.get("authMode"))
        identity = self._identity(body.get("identity"))
        endpoint = Endpoint(
            workspace=workspace,
            name=name,
            location=workspace.location,
            auth_mode=mode,
            description=properties.get("description"),
            tags=dict(body.get("tags") or {}),
            identity=identity,
            traffic={},
            mirror_traffic={},
            user_properties=_user_properties(properties),
            scoring_base=self.ctx.scoring_base,
            scoring_host_suffix=self.ctx.scoring_host_suffix,
            public_network_access=rules.public_network_access(
                properties.get("publicNetworkAccess") or "Enabled"
            ),
        )
        rules.check_traffic(endpoint, properties.get("traffic") or {}, {})
        self.ctx.store.endpoints[(workspace.key, name.lower())] = endpoint
        return self._put_operation(request, scope, endpoint, "endpoint_create", status=201)

    def _identity(self, requested: Any) -> dict[str, Any]:
        """The endpoint's identity as Azure returns it: a new principal for a system-assigned
        one; for a user-assigned one, each identity's principal and client id (stable per ARM id
        here; Azure reads them from the identity)."""
        identity = dict(requested or {"type": "SystemAssigned"})
        if "SystemAssigned" in str(identity.get("type")):
            identity["principalId"] = str(uuid.uuid4())
            identity["tenantId"] = self.ctx.tenant_id
        assigned = identity.get("userAssignedIdentities")
        if isinstance(assigned, dict):
            identity["userAssignedIdentities"] = {
                resource_id: {
                    "principalId": str(uuid.uuid5(uuid.NAMESPACE_URL, resource_id.lower())),
                    "clientId": str(uuid.uuid5(uuid.NAMESPACE_DNS, resource_id.lower())),
                }
                for resource_id in assigned
            }
        return identity

    def _update(
        self, request: Request, scope: Scope, endpoint: Endpoint, body: dict[str, Any]
    ) -> Response:
        rules.check_busy(endpoint, "updating it")
        _check_identity_kept(endpoint, body.get("identity"))
        properties = body["properties"]
        traffic, mirror = rules.check_traffic(
            endpoint, properties.get("traffic") or {}, properties.get("mirrorTraffic") or {}
        )
        endpoint.auth_mode = rules.auth_mode(properties.get("authMode", endpoint.auth_mode))
        # "After you've created the endpoint, you can update this setting"
        # (concept-secure-online-endpoint.md). A PUT without it keeps it: see the README.
        access_before = endpoint.public_network_access
        if properties.get("publicNetworkAccess") is not None:
            endpoint.public_network_access = rules.public_network_access(
                properties["publicNetworkAccess"]
            )
        endpoint.description = properties.get("description", endpoint.description)
        endpoint.tags = dict(body.get("tags") or {})
        endpoint.user_properties = _user_properties(properties)
        endpoint.traffic = traffic
        endpoint.mirror_traffic = mirror
        endpoint.provisioning_state = "Updating"
        endpoint.modified = utc_now()

        def routed() -> None:
            endpoint.live_traffic = dict(traffic)
            endpoint.live_mirror_traffic = dict(mirror)

        def not_routed() -> None:
            # The change did not take effect: the endpoint keeps routing as before.
            endpoint.traffic = dict(endpoint.live_traffic)
            endpoint.mirror_traffic = dict(endpoint.live_mirror_traffic)
            endpoint.public_network_access = access_before

        return self._put_operation(
            request, scope, endpoint, "endpoint_update", status=200, then=routed, undo=not_routed
        )

    def _put_operation(
        self,
        request: Request,
        scope: Scope,
        endpoint: Endpoint,
        kind: str,
        *,
        status: int,
        then: Callable[[], None] | None = None,
        undo: Callable[[], None] | None = None,
    ) -> Response:
        operation = self.ctx.engine.provision(
            kind=kind,
            method="PUT",
            resource=endpoint,
            api_version=scope.api_version,
            then=then,
            undo=undo,
        )
        endpoint.async_operation_uri = self.ctx.engine.status_url(operation)
        headers = self.ctx.engine.headers(
            operation, location=self.ctx.resource_url(endpoint.id, request)
        )
        return json_response(endpoint.rest(), status, headers)

    async def patch(self, request: Request, scope: Scope) -> Response:
        endpoint = find(self.ctx, scope)
        body = await json_body(request)
        if not isinstance(body, dict):
            raise BadArgument("The request body must be an object.")
        rules.check_busy(endpoint, "updating it")
        if "tags" in body:
            endpoint.tags = dict(body["tags"] or {})
        if isinstance(body.get("identity"), dict):
            _check_identity_kept(endpoint, body["identity"])
        endpoint.modified = utc_now()
        return json_response(endpoint.rest())

    async def delete(self, request: Request, scope: Scope) -> Response:
        endpoint = self.ctx.store.endpoint(scope.workspace, scope.params["endpoint"])
        if endpoint is None:
            return Response(status_code=204)
        rules.check_busy(endpoint, "deleting it")
        endpoint.provisioning_state = "Deleting"
        for deployment in endpoint.deployments.values():
            deployment.provisioning_state = "Deleting"
        store = self.ctx.store
        provisioner = self.ctx.provisioner

        async def remove_containers() -> Outcome:
            for deployment in list(endpoint.deployments.values()):
                await provisioner.deprovision(deployment)
            return Outcome(ok=True)

        def succeeded() -> None:
            store.endpoints.pop((endpoint.workspace.key, endpoint.name.lower()), None)

        def failed(code: str, message: str) -> None:
            endpoint.provisioning_state = "Failed"

        operation = self.ctx.engine.start(
            kind="endpoint_delete",
            method="DELETE",
            resource=endpoint,
            api_version=scope.api_version,
            on_success=succeeded,
            on_failure=failed,
            work=remove_containers,
        )
        return self.ctx.engine.accepted(operation)

    async def list_keys(self, request: Request, scope: Scope) -> Response:
        endpoint = find(self.ctx, scope)
        _require_key_auth(endpoint)
        return json_response(
            {"primaryKey": endpoint.primary_key, "secondaryKey": endpoint.secondary_key}
        )

    async def regenerate_keys(self, request: Request, scope: Scope) -> Response:
        endpoint = find(self.ctx, scope)
        _require_key_auth(endpoint)
        body = await json_body(request)
        key_type = str((body or {}).get("keyType", ""))
        if key_type not in ("Primary", "Secondary"):
            raise BadArgument(
                f"keyType must be Primary or Secondary (got {key_type!r}).",
                target="keyType",
            )
        rules.check_busy(endpoint, "regenerating keys")
        current = endpoint.primary_key if key_type == "Primary" else endpoint.secondary_key
        # azure-ai-ml sends the current key as keyValue; only a different value is taken.
        given = str((body or {}).get("keyValue") or "")
        new_value = given if given and given != current else endpoint_key()

        def succeeded() -> None:
            if key_type == "Primary":
                endpoint.primary_key = new_value
            else:
                endpoint.secondary_key = new_value

        operation = self.ctx.engine.start(
            kind="keys_regenerate",
            method="POST",
            resource=endpoint,
            api_version=scope.api_version,
            on_success=succeeded,
        )
        return self.ctx.engine.accepted(operation)

    async def token(self, request: Request, scope: Scope) -> Response:
        endpoint = find(self.ctx, scope)
        if endpoint.auth_mode != "AMLToken":
            raise BadArgument(
                f"Tokens are only issued for endpoints whose authMode is AMLToken; endpoint "
                f"'{endpoint.name}' uses {endpoint.auth_mode}.",
            )
        now = int(time.time())
        token = self.ctx.scoring_key.sign(
            {
                "aud": endpoint.scoring_uri,
                "iss": self.ctx.arm_url,
                "iat": now,
                "exp": now + AML_TOKEN_LIFETIME,
                "endpoint": endpoint.id.lower(),
            }
        )
        LEDGER.record("aml-token", token)
        return json_response(
            {
                "accessToken": token,
                "tokenType": "Bearer",
                "expiryTimeUtc": now + AML_TOKEN_LIFETIME,
                "refreshAfterTimeUtc": now + AML_TOKEN_LIFETIME // 2,
            }
        )


def _require_key_auth(endpoint: Endpoint) -> None:
    if endpoint.auth_mode != "Key":
        raise BadArgument(
            f"Keys are only available for endpoints whose authMode is Key; endpoint "
            f"'{endpoint.name}' uses {endpoint.auth_mode}.",
        )


def _user_properties(properties: dict[str, Any]) -> dict[str, str]:
    given = properties.get("properties")
    if not isinstance(given, dict):
        return {}
    return {str(k): str(v) for k, v in given.items() if k not in _SERVER_PROPERTIES}


def _identity_key(identity: Any) -> tuple[str, frozenset[str]]:
    if not isinstance(identity, dict):
        return ("systemassigned", frozenset())
    kind = str(identity.get("type") or "SystemAssigned").replace(" ", "").lower()
    assigned = identity.get("userAssignedIdentities") or {}
    return (kind, frozenset(str(k).lower() for k in assigned))


def _check_identity_kept(endpoint: Endpoint, requested: Any) -> None:
    """ "The identity for an endpoint is immutable … You can't change the identity after the
    endpoint is created" (how-to-access-resources-from-endpoints-managed-identities.md,
    Limitations). The documentation names no error code for trying; see the README."""
    if requested is None or _identity_key(requested) == _identity_key(endpoint.identity):
        return
    raise BadArgument(
        f"The identity of online endpoint '{endpoint.name}' cannot be changed after the "
        "endpoint is created.",
        target="identity",
    )
