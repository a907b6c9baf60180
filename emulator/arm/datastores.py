"""A workspace's datastores: list, get, create or update, and listSecrets.

listSecrets takes an optional SecretExpiry body (`expirableSecret`, `expireAfterHours`; the REST
specification's Datastores_ListSecrets, which azure-ai-ml 1.35 sends as
`{"expirableSecret": true, "expireAfterHours": 1}` before every upload or download,
azure/ai/ml/operations/_datastore_operations.py `_list_secrets`). An expirable secret is a
container SAS that expires after those hours (`secretsType: Sas`, `sasToken`); otherwise the
account key (`secretsType: AccountKey`, `key`), the two DatastoreSecrets the specification has
for blob datastores.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from emulator.arm.context import ArmContext, Scope
from emulator.errors import BadArgument, NotFound
from emulator.http import json_body, json_response
from emulator.resources.datastores import Datastore
from emulator.storage_sas import container_sas


class DatastoreHandlers:
    def __init__(self, ctx: ArmContext) -> None:
        self.ctx = ctx

    def _find(self, scope: Scope) -> Datastore:
        name = scope.params["datastore"]
        datastore = self.ctx.store.datastores.get((scope.workspace.key, name.lower()))
        if datastore is None:
            raise NotFound(f"Datastore {name} was not found.")
        return datastore

    async def list(self, request: Request, scope: Scope) -> Response:
        wanted_default = request.query_params.get("isDefault")
        datastores = [
            d
            for (key, _), d in sorted(self.ctx.store.datastores.items())
            if key == scope.workspace.key
            and (
                wanted_default is None
                or str(d.properties.get("isDefault")).lower() == wanted_default.lower()
            )
        ]
        return json_response({"value": [d.rest() for d in datastores]})

    async def get(self, request: Request, scope: Scope) -> Response:
        return json_response(self._find(scope).rest())

    async def put(self, request: Request, scope: Scope) -> Response:
        body = await json_body(request)
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict) or not properties.get("datastoreType"):
            raise BadArgument("A datastore needs properties.datastoreType.", target="properties")
        name = scope.params["datastore"]
        key = (scope.workspace.key, name.lower())
        existing = self.ctx.store.datastores.get(key)
        credentials = dict(properties.get("credentials") or {})
        secrets = credentials.pop("secrets", None) or {}
        stored = {
            **properties,
            "credentials": credentials,
            "isDefault": bool(existing and existing.properties.get("isDefault")),
        }
        datastore = Datastore(
            scope.workspace.id,
            name,
            stored,
            account_key=secrets.get("key") or (existing.account_key if existing else None),
            sas_token=secrets.get("sasToken") or (existing.sas_token if existing else None),
        )
        self.ctx.store.datastores[key] = datastore
        return json_response(datastore.rest(), 200 if existing else 201)

    async def list_secrets(self, request: Request, scope: Scope) -> Response:
        datastore = self._find(scope)
        body = await json_body(request, required=False) or {}
        if datastore.sas_token is not None:
            return json_response({"secretsType": "Sas", "sasToken": datastore.sas_token})
        if datastore.account_key is None:
            raise BadArgument(f"Datastore {datastore.name} has no secrets.")
        if not body.get("expirableSecret"):
            return json_response({"secretsType": "AccountKey", "key": datastore.account_key})
        hours = float(body.get("expireAfterHours") or 1)
        token = container_sas(datastore.account, datastore.container, datastore.account_key, hours)
        return json_response({"secretsType": "Sas", "sasToken": token})
