"""`Microsoft.Insights/autoscaleSettings` on ARM (resource-group scoped, api-version 2022-10-01):
create or update (201 new, 200 replaced), get, update (PATCH), delete (200, or 204 when there
was none) and list by resource group, the operations azure-mgmt-monitor 7.0 calls. The checks
are in emulator/resources/autoscale_settings.py; the engine that enforces enabled settings is
emulator/monitor/engine.py."""

from __future__ import annotations

import datetime
import re

from starlette.requests import Request
from starlette.responses import Response

from emulator.errors import (
    LocationRequired,
    MethodNotAllowed,
    ResourceNotFound,
    TargetResourceNotFound,
    UnsupportedRequestContent,
)
from emulator.http import ArmError, json_body, json_response
from emulator.resources.autoscale_settings import AutoscaleSetting, check_tags, parse_properties
from emulator.resources.store import Store

_PATH = re.compile(
    r"^/subscriptions/(?P<subscription>[^/]+)/resourceGroups/(?P<resource_group>[^/]+)"
    r"/providers/Microsoft\.Insights/autoscaleSettings(?:/(?P<name>[^/]+))?/?$",
    re.IGNORECASE,
)
ACTIONS = {
    "GET": "Microsoft.Insights/autoscalesettings/read",
    "PUT": "Microsoft.Insights/autoscalesettings/write",
    "PATCH": "Microsoft.Insights/autoscalesettings/write",
    "DELETE": "Microsoft.Insights/autoscalesettings/delete",
}


def match(path: str) -> re.Match[str] | None:
    return _PATH.match(path)


class AutoscaleHandlers:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def handle(self, request: Request, found: re.Match[str]) -> Response:
        subscription, resource_group = found["subscription"], found["resource_group"]
        name = found["name"]
        if name is None:
            if request.method != "GET":
                raise _method(request)
            return self._list(subscription, resource_group)
        key = (subscription.lower(), resource_group.lower(), name.lower())
        if request.method == "GET":
            return json_response(self._find(key, name, resource_group).rest())
        if request.method == "PUT":
            return await self._put(request, subscription, resource_group, name)
        if request.method == "PATCH":
            return await self._patch(request, key, name, resource_group)
        if request.method == "DELETE":
            existed = self.store.autoscale.pop(key, None)
            return Response(status_code=200 if existed else 204)
        raise _method(request)

    def _list(self, subscription: str, resource_group: str) -> Response:
        settings = [
            setting.rest()
            for (sub, group, _), setting in sorted(self.store.autoscale.items())
            if (sub, group) == (subscription.lower(), resource_group.lower())
        ]
        return json_response({"value": settings, "nextLink": None})

    def _find(self, key: tuple[str, str, str], name: str, resource_group: str) -> AutoscaleSetting:
        setting = self.store.autoscale.get(key)
        if setting is None:
            raise ResourceNotFound(
                f"The Resource 'microsoft.insights/autoscalesettings/{name}' under resource "
                f"group '{resource_group}' was not found.",
            )
        return setting

    async def _put(
        self, request: Request, subscription: str, resource_group: str, name: str
    ) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise UnsupportedRequestContent("The request body must be an object.")
        if not body.get("location"):
            raise LocationRequired("The location property is required.")
        tags = check_tags(body.get("tags"))
        properties, profiles = parse_properties(body.get("properties"))
        self._check_target(properties["targetResourceUri"])
        properties["name"] = name
        properties.setdefault("targetResourceLocation", str(body["location"]))
        key = (subscription.lower(), resource_group.lower(), name.lower())
        existing = self.store.autoscale.get(key)
        setting = AutoscaleSetting(
            subscription, resource_group, name, str(body["location"]), tags, properties, profiles
        )
        if existing is not None:
            setting.created = existing.created
            setting.last_scale = existing.last_scale
        self.store.autoscale[key] = setting
        return json_response(setting.rest(), 200 if existing else 201)

    async def _patch(
        self, request: Request, key: tuple[str, str, str], name: str, resource_group: str
    ) -> Response:
        setting = self._find(key, name, resource_group)
        body = await json_body(request)
        if not isinstance(body, dict):
            raise UnsupportedRequestContent("The request body must be an object.")
        tags = check_tags(body["tags"]) if "tags" in body else setting.tags
        changes = body.get("properties") or {}
        properties, profiles = parse_properties({**setting.properties, **changes})
        self._check_target(properties["targetResourceUri"])
        properties["name"] = setting.name
        setting.tags, setting.properties, setting.profiles = tags, properties, profiles
        setting.modified = datetime.datetime.now(datetime.UTC)
        return json_response(setting.rest())

    def _check_target(self, target: str) -> None:
        """The setting scales an existing resource; here the scalable ones are online
        deployments (how-to-autoscale-endpoints.md sets `--resource` to the deployment's id)."""
        if self.store.deployment_by_id(target) is None:
            raise TargetResourceNotFound(
                f"The target resource '{target}' of the autoscale setting was not found.",
                target="properties.targetResourceUri",
            )


def _method(request: Request) -> ArmError:
    return MethodNotAllowed(
        f"The HTTP method '{request.method}' is not supported for this resource.",
    )
