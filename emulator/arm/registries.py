"""Azure ML registries as azure-ai-ml reaches them: the discovery call, then the registry's own
resource provider.

    GET {registry_discovery_endpoint}registrymanagement/v1.0/registries/{r}/discovery
    {primaryRegionResourceProviderUri}mferp/managementfrontend/subscriptions/{s}/resourceGroups/
        {g}/providers/Microsoft.MachineLearningServices/registries/{r}/{models|codes|
        environments}/…  and  …/registries/{r}/tempdatarefs/{name}/versions/{version}

(azure/ai/ml/_utils/_registry_utils.py: `RegistryDiscovery`, `MFE_PATH_PREFIX`,
`get_sas_uri_for_registry_asset`; api-version 2021-10-01-dataplanepreview.) A principal without
a role on the registry is refused with the 403 the recording
test_online_deployment_create_when_registry_assets shows for the discovery call.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from emulator.arm.assets import ROUTES, AssetHandlers
from emulator.arm.context import ArmContext
from emulator.errors import BadArgument, ResourceNotFound
from emulator.http import ArmError, json_body, json_response
from emulator.resources.assets import KINDS
from emulator.resources.registries import Registry
from emulator.storage_sas import blob_reference, container_sas, container_url

MFE_PREFIX = "/mferp/managementfrontend"
_DISCOVERY = re.compile(
    r"^/registrymanagement/v1\.0/registries/(?P<registry>[^/]+)/discovery/?$", re.I
)
_REGISTRY = (
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<resource_group>[^/]+)"
    r"/providers/Microsoft\.MachineLearningServices/registries/(?P<registry>[^/]+)"
)
_TEMP = re.compile(
    _REGISTRY + r"/tempdatarefs/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/?$", re.I
)
_DATAREF = re.compile(_REGISTRY + r"/datarefs/(?P<name>[^/]+)/versions/(?P<version>[^/]+)/?$", re.I)

Handler = Callable[[Request, str, dict[str, str]], Awaitable[Response]]


def not_allowed(registry: str) -> ArmError:
    """The refusal as Azure sends it (status, code, messageFormat of the recording)."""
    return ArmError(
        403, "UserError", f"User/tenant/subscription is not allowed to access registry {registry}"
    )


class RegistryFront:
    def __init__(self, ctx: ArmContext) -> None:
        self.ctx = ctx
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        for kind in KINDS:
            handlers = AssetHandlers(ctx, kind)
            for method, suffix, attribute, _ in ROUTES:
                pattern = re.compile(_REGISTRY + f"/{kind}" + suffix + "/?$", re.IGNORECASE)
                self.routes.append((method, pattern, getattr(handlers, attribute)))

    def handles(self, path: str) -> bool:
        path = _strip(path)
        return bool(_DISCOVERY.match(path) or re.match(_REGISTRY + "(/|$)", path, re.I))

    async def handle(self, request: Request, principal: dict[str, object]) -> Response:
        path = _strip(request.url.path)
        found = _DISCOVERY.match(path)
        if found is not None:
            registry = self._registry(found["registry"], principal)
            return json_response(registry.discovery(self.ctx.arm_url))
        found = _TEMP.match(path)
        if found is not None and request.method == "PUT":
            registry = self._registry(found["registry"], principal)
            return await self._temporary_reference(request, registry, found.groupdict())
        found = _DATAREF.match(path)
        if found is not None and request.method == "POST":
            registry = self._registry(found["registry"], principal)
            return await self._read_reference(request, registry)
        for method, pattern, handler in self.routes:
            found = pattern.match(path)
            if found is not None and method == request.method:
                registry = self._registry(found["registry"], principal)
                params = {k: v for k, v in found.groupdict().items() if v is not None}
                return await handler(request, registry.id, params)
        raise ResourceNotFound(f"The resource '{path}' was not found.")

    def _registry(self, name: str, principal: dict[str, object]) -> Registry:
        registry = self.ctx.store.registry(name)
        if registry is None or not registry.allows(str(principal.get("oid"))):
            # Azure answers an unknown registry like one the caller may not use.
            raise not_allowed(name)
        return registry

    async def _temporary_reference(
        self, request: Request, registry: Registry, params: dict[str, str]
    ) -> Response:
        """Where the SDK uploads a registry asset's files: a SAS for the registry's container
        (TemporaryDataReferenceResponseDto: blobReferenceForConsumption.credential.sasUri)."""
        body = await json_body(request, required=False) or {}
        reference = blob_reference(
            registry.storage_account,
            registry.container,
            registry.storage_key,
            self.ctx.storage_port,
            f"/subscriptions/{registry.subscription}/resourceGroups/{registry.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{registry.storage_account}",
        )
        return json_response(
            {
                "blobReferenceForConsumption": reference,
                "temporaryDataReferenceId": body.get("temporaryDataReferenceId"),
                "temporaryDataReferenceType": body.get("temporaryDataReferenceType"),
            },
            201,
        )

    async def _read_reference(self, request: Request, registry: Registry) -> Response:
        """A SAS to read an asset's files (`get_storage_details_for_registry_assets`: POST
        `{"assetId", "blobUri"}` → blobReferenceForConsumption.credential.sasUri)."""
        body = await json_body(request)
        blob_uri = str(body.get("blobUri") or "") if isinstance(body, dict) else ""
        if not blob_uri.lower().startswith(f"https://{registry.storage_account}.blob."):
            raise BadArgument(
                f"blobUri must be in the registry's storage account ({blob_uri}).",
                target="blobUri",
            )
        token = container_sas(registry.storage_account, registry.container, registry.storage_key)
        container = container_url(
            registry.storage_account, registry.container, self.ctx.storage_port
        )
        return json_response(
            {
                "blobReferenceForConsumption": {
                    "blobUri": blob_uri,
                    # The container's URL: azure-ai-ml opens it as a container and reads the
                    # asset's path inside it (_model_operations.py `download`).
                    "credential": {"credentialType": "SAS", "sasUri": f"{container}?{token}"},
                },
                "dataReferenceId": body.get("assetId"),
            }
        )


def _strip(path: str) -> str:
    return path[len(MFE_PREFIX) :] if path.lower().startswith(MFE_PREFIX) else path
