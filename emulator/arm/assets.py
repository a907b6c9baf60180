"""Models, codes, environments and data of a workspace or a registry: containers and versions.

    GET {owner}/{kind}                                  list containers (listViewType)
    GET|PUT {owner}/{kind}/{name}                       a container (isArchived: archive)
    GET {owner}/{kind}/{name}/versions                  list ($orderBy, $top, listViewType)
    GET|PUT {owner}/{kind}/{name}/versions/{version}    a version (immutable content)

Paths and query parameters as the REST specification has them for ModelVersions_List and
friends (`$orderBy`, `$top`, `$skip`, `listViewType` ActiveOnly | ArchivedOnly | All, default
ActiveOnly) and as azure-ai-ml 1.35 sends them (its `@latest` and `label="latest"` list
`$orderBy=createdtime desc&$top=1`, azure/ai/ml/_utils/_asset_utils.py `_get_latest`).
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from emulator.arm.context import ArmContext
from emulator.errors import BadArgument, NotFound, UserError
from emulator.http import json_body, json_response
from emulator.resources.assets import PATH_FIELDS, AssetStore, AssetVersion, ChangedContent
from emulator.storage_sas import blob_reference

_SINGULAR = {"models": "Model", "codes": "Code", "environments": "Environment", "data": "Data"}
_NAME = r"/(?P<name>[^/]+)"
_VERSION = _NAME + r"/versions/(?P<version>[^/]+)"
# (method, path after `{owner}/{kind}`, handler method, RBAC verb)
ROUTES = (
    ("GET", "", "list_containers", "read"),
    ("GET", _NAME, "get_container", "read"),
    ("PUT", _NAME, "put_container", "write"),
    ("GET", _NAME + "/versions", "list_versions", "read"),
    ("GET", _VERSION, "get_version", "read"),
    ("PUT", _VERSION, "put_version", "write"),
    ("POST", _VERSION + "/startPendingUpload", "start_pending_upload", "write"),
)
_VIEWS = {"activeonly": False, "archivedonly": True}


class AssetHandlers:
    def __init__(self, ctx: ArmContext, kind: str) -> None:
        self.ctx = ctx
        self.kind = kind

    @property
    def assets(self) -> AssetStore:
        return self.ctx.store.assets

    def _archived_view(self, request: Request) -> bool | None:
        view = request.query_params.get("listViewType", "ActiveOnly").lower()
        if view == "all":
            return None
        if view not in _VIEWS:
            raise BadArgument(
                f"listViewType must be ActiveOnly, ArchivedOnly or All (got {view}).",
                target="listViewType",
            )
        return _VIEWS[view]

    async def list_containers(
        self, request: Request, owner: str, params: dict[str, str]
    ) -> Response:
        archived = self._archived_view(request)
        containers = [
            c.rest()
            for c in sorted(self.assets.containers_of(owner, self.kind), key=lambda c: c.name)
            if archived is None or bool(c.properties.get("isArchived")) == archived
        ]
        return json_response({"value": containers})

    async def get_container(self, request: Request, owner: str, params: dict[str, str]) -> Response:
        container = self.assets.container(owner, self.kind, params["name"])
        if container is None:
            raise NotFound(f"{_SINGULAR[self.kind]} container {params['name']} was not found.")
        return json_response(container.rest())

    async def put_container(self, request: Request, owner: str, params: dict[str, str]) -> Response:
        body = await json_body(request)
        properties = body.get("properties") if isinstance(body, dict) else None
        container, created = self.assets.put_container(
            owner, self.kind, params["name"], properties if isinstance(properties, dict) else {}
        )
        return json_response(container.rest(), 201 if created else 200)

    async def list_versions(self, request: Request, owner: str, params: dict[str, str]) -> Response:
        # A name never registered lists nothing (azure-ai-ml lists a code name by its content
        # hash before the first registration: _code_operations.py create_or_update).
        container = self.assets.container(owner, self.kind, params["name"])
        archived = self._archived_view(request)
        query = request.query_params
        versions = [
            v
            for v in (container.versions.values() if container else [])
            if (archived is None or v.archived == archived)
            and _matches(v, "hash_sha256", query.get("hash"))
            and _matches(v, "hash_version", query.get("hashVersion"))
        ]
        order = request.query_params.get("$orderBy", "createdtime desc").lower().split()
        if order and order[0] == "createdtime":
            versions.sort(key=lambda v: v.created, reverse=order[-1] != "asc")
        top = request.query_params.get("$top")
        if top is not None:
            if not top.isdigit():
                raise BadArgument(f"$top must be a whole number (got {top}).", target="$top")
            versions = versions[: int(top)]
        return json_response({"value": [v.rest() for v in versions]})

    async def get_version(self, request: Request, owner: str, params: dict[str, str]) -> Response:
        version = self.assets.version(owner, self.kind, params["name"], params["version"])
        if version is None:
            raise NotFound(
                f"{_SINGULAR[self.kind]} {params['name']}:{params['version']} was not found."
            )
        return json_response(version.rest())

    async def put_version(self, request: Request, owner: str, params: dict[str, str]) -> Response:
        version, created = self.register(owner, params, await json_body(request))
        return json_response(version.rest(), 201 if created else 200)

    async def start_pending_upload(
        self, request: Request, owner: str, params: dict[str, str]
    ) -> Response:
        """Where to upload a version's files: PendingUploadResponseDto with a SAS for the
        workspace's blob container (azure-ai-ml: `get_storage_info_for_non_registry_asset` in
        azure/ai/ml/_utils/_asset_utils.py)."""
        body = await json_body(request, required=False) or {}
        blobstore = self.ctx.store.default_datastore(owner)
        if blobstore is None or blobstore.account_key is None:
            raise NotFound(f"The workspace {owner} has no default datastore.")
        account_id = self.ctx.store.workspace_by_id(owner)
        reference = blob_reference(
            blobstore.account,
            blobstore.container,
            blobstore.account_key,
            self.ctx.storage_port,
            (account_id.storage_account or "") if account_id else "",
        )
        return json_response(
            {
                "blobReferenceForConsumption": reference,
                "pendingUploadId": body.get("pendingUploadId") or str(uuid.uuid4()),
                "pendingUploadType": body.get("pendingUploadType") or "TemporaryBlobReference",
            }
        )

    def register(self, owner: str, params: dict[str, str], body: Any) -> tuple[AssetVersion, bool]:
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict):
            raise BadArgument("The request needs properties.", target="properties")
        self._validate(properties)
        try:
            return self.assets.put_version(
                owner, self.kind, params["name"], params["version"], dict(properties)
            )
        except ChangedContent as changed:
            if PATH_FIELDS & set(changed.fields):
                # The service's answer azure-ai-ml recognises (ASSET_PATH_ERROR in
                # azure/ai/ml/_artifacts/_constants.py).
                raise UserError("Asset paths cannot be updated.") from None
            raise UserError(
                f"{_SINGULAR[self.kind]} {params['name']}:{params['version']} already exists "
                f"with other content ({', '.join(changed.fields)}); versions are immutable, "
                "register a new version.",
            ) from None

    def _validate(self, properties: dict[str, Any]) -> None:
        if self.kind == "models" and not properties.get("modelUri"):
            raise BadArgument("A model version needs properties.modelUri.", target="modelUri")
        if self.kind == "codes" and not properties.get("codeUri"):
            raise BadArgument("A code version needs properties.codeUri.", target="codeUri")
        if self.kind == "data" and not properties.get("dataUri"):
            # DataVersionBase in the REST specification: dataUri and dataType are required.
            raise BadArgument("A data version needs properties.dataUri.", target="dataUri")
        if self.kind == "environments":
            image, build = properties.get("image"), properties.get("build")
            # "Either image or build must be specified, not both" (EnvironmentVersion in the
            # REST specification; azure-ai-ml validates the same client-side).
            if bool(image) == bool(build):
                raise BadArgument(
                    "An environment version needs either properties.image or properties.build.",
                    target="properties.image",
                )
            if build and not (isinstance(build, dict) and build.get("contextUri")):
                raise BadArgument(
                    "properties.build needs a contextUri.", target="properties.build.contextUri"
                )


def _matches(version: AssetVersion, key: str, wanted: str | None) -> bool:
    """The `hash` / `hashVersion` filters: the user properties azure-ai-ml stores them in."""
    if wanted is None:
        return True
    stored = version.properties.get("properties") or {}
    return str(stored.get(key)) == wanted
