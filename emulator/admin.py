"""The admin API (its own port; never reachable through the data plane): request log, faults,
timing, the GitHub job the OIDC tokens describe, Entra settings, quota, permissions, extra
workspaces, a state dump and a reset.

Every route, /health included, needs `Authorization: Bearer <admin_token>`: a secret made anew
at each start and written only to the connection file (mode 0600). The API mints GitHub write
tokens, lists every secret handed out and resets the emulator, so another local process must not
use it just because it can reach 127.0.0.1. Anything else is answered 401 before any route runs
(RFC 6750: `WWW-Authenticate: Bearer`, with `error="invalid_token"` when a token was sent)."""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator.asset_files import AssetFilesError
from emulator.http import json_response
from emulator.identity import FederatedCredential
from emulator.ledger import LEDGER
from emulator.resources.model import Endpoint, Workspace

if TYPE_CHECKING:
    from emulator.server import Emulator


REALM = "azureml-emulator-admin"


class RequireToken:
    """Lets a request through only with `Authorization: Bearer <token>` (one such header; the
    scheme is case-insensitive, RFC 7235), compared in constant time; answers 401 otherwise,
    without reading the body or reaching a route."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    def authorized(self, scope: Scope) -> tuple[bool, bool]:
        """(authorized, a credential was sent)."""
        values = Headers(scope=scope).getlist("authorization")
        if not values:
            return False, False
        scheme, _, credential = values[0].strip().partition(" ")
        sent = credential.strip().encode("latin-1")
        ok = len(values) == 1 and scheme.lower() == "bearer"
        # compare_digest runs in time independent of where the two differ
        return hmac.compare_digest(sent, self.token) and ok, True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ok, sent = self.authorized(scope)
        if ok:
            await self.app(scope, receive, send)
            return
        challenge = f'Bearer realm="{REALM}"'
        if sent:
            challenge += ', error="invalid_token"'
        body = json.dumps(
            {
                "error": {
                    "code": "Unauthorized",
                    "message": "the admin API needs `Authorization: Bearer <admin_token>`, "
                    "the admin_token of this start in the emulator's connection file",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", challenge.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class AdminApi:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def app(self) -> ASGIApp:
        return RequireToken(self.routes(), self.emulator.admin_token)

    def routes(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/health", self.health),
                Route("/requests", self.requests),
                Route("/secrets", self.secrets),
                Route("/faults", self.faults, methods=["GET", "POST", "DELETE"]),
                Route("/timing", self.timing, methods=["GET", "POST"]),
                Route("/monitor", self.monitor, methods=["GET", "POST"]),
                Route("/github", self.github, methods=["GET", "POST"]),
                Route("/github/reset", self.github_reset, methods=["POST"]),
                Route("/github/rest", self.github_rest, methods=["GET", "POST"]),
                Route("/github/tokens", self.github_tokens, methods=["POST"]),
                Route("/entra", self.entra, methods=["GET", "POST"]),
                Route("/quota", self.quota, methods=["GET", "POST"]),
                Route("/limits", self.limits, methods=["GET", "POST"]),
                Route("/taken-names", self.taken_names, methods=["POST"]),
                Route("/authorization", self.authorization, methods=["GET", "POST"]),
                Route("/network", self.network, methods=["GET", "POST"]),
                Route("/workspaces", self.workspaces, methods=["POST"]),
                Route("/acr", self.acr, methods=["GET", "POST"]),
                Route("/registries", self.registries, methods=["GET", "POST"]),
                Route("/assets/files", self.asset_files, methods=["POST"]),
                Route("/storage/blob", self.storage_blob, methods=["POST"]),
                Route("/storage/proxy", self.storage_proxy),
                Route("/dataplane/restart", self.restart, methods=["POST"]),
                Route("/state", self.state),
                Route("/reset", self.reset, methods=["POST"]),
            ]
        )

    async def health(self, request: Request) -> Response:
        return json_response({"status": "ok", "parts": self.emulator.urls})

    async def requests(self, request: Request) -> Response:
        log = self.emulator.log
        since = int(request.query_params.get("since", "0"))
        part = request.query_params.get("part")
        return json_response({"last": log.last_seq, "requests": log.entries(since, part)})

    async def secrets(self, request: Request) -> Response:
        """Secrets handed out since `since` (for tests that search logs for leaks)."""
        since = int(request.query_params.get("since", "0"))
        return json_response({"last": LEDGER.last_seq, "secrets": LEDGER.since(since)})

    async def faults(self, request: Request) -> Response:
        store = self.emulator.faults
        if request.method == "POST":
            try:
                fault = store.add(await request.json())
            except (TypeError, ValueError) as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response({"id": fault.id}, 201)
        if request.method == "DELETE":
            store.clear()
        return json_response({"faults": store.listing()})

    async def timing(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                self.emulator.timing = self.emulator.timing.with_changes(await request.json())
            except (KeyError, TypeError, ValueError) as exc:
                return json_response({"error": str(exc)}, 400)
        return json_response(self.emulator.timing.as_dict())

    async def monitor(self, request: Request) -> Response:
        """Azure Monitor's undocumented choices: whether mirrored copies count on the
        deployment they reached."""
        store = self.emulator.store
        if request.method == "POST":
            changes = await request.json()
            counted = (changes if isinstance(changes, dict) else {}).get(
                "mirrored_requests_counted"
            )
            if not isinstance(counted, bool):
                return json_response({"error": "mirrored_requests_counted: true or false"}, 400)
            store.mirrored_counted = counted
        return json_response({"mirrored_requests_counted": store.mirrored_counted})

    async def github(self, request: Request) -> Response:
        issuer = self.emulator.github
        if request.method == "POST":
            return json_response(issuer.configure(await request.json()))
        return json_response(issuer.describe())

    async def github_rest(self, request: Request) -> Response:
        """GitHub's REST state (deployments, statuses, comments, pull requests); POST changes
        its limits and sets up pull requests."""
        rest = self.emulator.github_rest
        if request.method == "POST":
            try:
                return json_response(rest.configure(await request.json()))
            except (KeyError, TypeError, ValueError) as exc:
                return json_response({"error": str(exc)}, 400)
        return json_response(rest.describe())

    async def github_tokens(self, request: Request) -> Response:
        """A job token (GITHUB_TOKEN) with the given permissions, for one repository."""
        body = await request.json()
        token = self.emulator.github_rest.mint(
            dict(body.get("permissions", {})), body.get("repository")
        )
        return json_response({"token": token})

    async def github_reset(self, request: Request) -> Response:
        self.emulator.github.reset()
        return json_response(self.emulator.github.describe())

    async def entra(self, request: Request) -> Response:
        entra = self.emulator.entra
        if request.method == "POST":
            changes: dict[str, Any] = await request.json()
            if "token_lifetime_seconds" in changes:
                entra.token_lifetime = int(changes["token_lifetime_seconds"])
            if "federated_credentials" in changes:
                entra.federated_credentials = [
                    FederatedCredential(
                        issuer=item.get("issuer", self.emulator.github.url),
                        subject=item["subject"],
                        audience=item.get("audience", FederatedCredential.audience),
                    )
                    for item in changes["federated_credentials"]
                ]
        return json_response(
            {
                "token_lifetime_seconds": entra.token_lifetime,
                "federated_credentials": [vars(c) for c in entra.federated_credentials],
            }
        )

    async def quota(self, request: Request) -> Response:
        store = self.emulator.store
        if request.method == "POST":
            store.family_quota.update({str(k): int(v) for k, v in (await request.json()).items()})
        return json_response(store.family_quota)

    async def limits(self, request: Request) -> Response:
        """The subscription's endpoint and deployment count limits per region, as a support
        request would raise them."""
        store = self.emulator.store
        if request.method == "POST":
            changes = await request.json()
            store.limits.update({str(k): int(v) for k, v in changes.items() if k in store.limits})
        return json_response(store.limits)

    async def taken_names(self, request: Request) -> Response:
        """Endpoint names another customer holds in a region (the workspace's by default)."""
        spec: dict[str, Any] = await request.json()
        location = spec.get("location", self.emulator.workspace.location)
        for name in spec.get("names", []):
            self.emulator.store.taken_names.add((location, str(name).lower()))
        return json_response({"taken": sorted(n for _, n in self.emulator.store.taken_names)})

    async def authorization(self, request: Request) -> Response:
        store = self.emulator.store
        if request.method == "POST":
            store.denied_actions = set((await request.json()).get("deny", []))
        return json_response({"deny": sorted(store.denied_actions)})

    async def network(self, request: Request) -> Response:
        """Where the scoring gateway's clients are: `{"clients_inside": true}` puts them inside
        the workspace's virtual network (a self-hosted runner there), false (the default)
        outside it (a GitHub-hosted runner). Endpoints with public network access disabled
        answer only clients inside."""
        store = self.emulator.store
        if request.method == "POST":
            inside = (await request.json()).get("clients_inside")
            if not isinstance(inside, bool):
                return json_response({"error": "clients_inside must be true or false"}, 400)
            store.clients_inside_network = inside
        return json_response({"clients_inside": store.clients_inside_network})

    async def registries(self, request: Request) -> Response:
        """Who holds a role on each Azure ML registry: `{"name": "<registry>", "principals":
        ["<object id>"]}` replaces a registry's list (the curated registry is open to all)."""
        store = self.emulator.store
        if request.method == "POST":
            spec: dict[str, Any] = await request.json()
            registry = store.registry(str(spec.get("name", "")))
            if registry is None or registry.principals is None:
                return json_response({"error": f"no such user registry: {spec.get('name')}"}, 400)
            registry.principals = {str(p) for p in spec.get("principals", [])}
        return json_response(
            {
                r.name: None if r.principals is None else sorted(r.principals)
                for r in store.registries.values()
            }
        )

    async def asset_files(self, request: Request) -> Response:
        """`{"id": "<asset version id>"}` → `{"path": …}`: the directory holding the version's
        files as a deployment mounts them (emulator/asset_files.py)."""
        spec: dict[str, Any] = await request.json()
        try:
            path = await asyncio.to_thread(self.emulator.asset_files.files, str(spec.get("id")))
        except AssetFilesError as missing:
            return json_response({"error": str(missing)}, 404)
        return json_response({"path": str(path)})

    async def storage_blob(self, request: Request) -> Response:
        """`{"account", "container", "path"}` → the blob's text as the account's owner reads it
        (an image's build log in the workspace's storage)."""
        spec: dict[str, Any] = await request.json()
        content = await asyncio.to_thread(
            self.emulator.azurite.get_blob,
            str(spec.get("account")),
            str(spec.get("container")),
            str(spec.get("path")),
        )
        if content is None:
            return json_response({"error": "no such blob"}, 404)
        return json_response({"text": content.decode(errors="replace")})

    async def storage_proxy(self, request: Request) -> Response:
        """What the storage proxy relayed since the start: tunnels, and bytes each way
        (emulator/storage_proxy.py)."""
        return json_response(self.emulator.storage_proxy.relayed())

    async def workspaces(self, request: Request) -> Response:
        """Another workspace, optionally holding endpoints (their names are then taken in
        the region)."""
        spec: dict[str, Any] = await request.json()
        primary = self.emulator.workspace
        workspace = Workspace(
            subscription=spec.get("subscription", primary.subscription),
            resource_group=spec.get("resource_group", primary.resource_group),
            name=spec["name"],
            location=spec.get("location", primary.location),
        )
        self.emulator.store.add_workspace(workspace)
        for name in spec.get("endpoints", []):
            endpoint = Endpoint(
                workspace=workspace,
                name=name,
                location=workspace.location,
                auth_mode="Key",
                description=None,
                tags={},
                identity={"type": "SystemAssigned"},
                traffic={},
                mirror_traffic={},
                user_properties={},
                scoring_base=self.emulator.urls["gateway"],
                provisioning_state="Succeeded",
            )
            self.emulator.store.endpoints[(workspace.key, name.lower())] = endpoint
        return json_response(workspace.rest(), 201)

    async def acr(self, request: Request) -> Response:
        """The registry and who may use it: {"workspace_can_pull": false} takes away the pull
        Azure ML gives system-assigned endpoint identities on the workspace's registry;
        {"workspace_registry": false} makes the workspace's registry another one (this registry
        is then "some other registry"); {"abac": true} runs it in ABAC mode; {"arm_audience_
        disabled": true} refuses ARM-audience tokens at /oauth2/exchange; {"grants": [{"principal":
        "<object id>", "role": "AcrPull"}]} adds role assignments; token lifetimes in seconds."""
        acr = self.emulator.acr
        if acr is None:
            return json_response({"error": "the emulator runs without a data plane"}, 409)
        if request.method == "POST":
            changes: dict[str, Any] = await request.json()
            if "workspace_can_pull" in changes:
                acr.workspace_can_pull = bool(changes["workspace_can_pull"])
            if "workspace_registry" in changes:
                acr.is_workspace_registry = bool(changes["workspace_registry"])
                self.emulator.workspace.container_registry = self.emulator.registry_ids()[0]
            if "abac" in changes:
                acr.abac = bool(changes["abac"])
            if "arm_audience_disabled" in changes:
                acr.arm_audience_disabled = bool(changes["arm_audience_disabled"])
            try:
                for grant in changes.get("grants", []):
                    acr.grant(str(grant["principal"]), str(grant["role"]))
            except (KeyError, TypeError, ValueError) as exc:
                return json_response({"error": str(exc)}, 400)
            if "refresh_lifetime_seconds" in changes:
                acr.refresh_lifetime = int(changes["refresh_lifetime_seconds"])
            if "access_lifetime_seconds" in changes:
                acr.access_lifetime = int(changes["access_lifetime_seconds"])
        return json_response(
            {
                "workspace_can_pull": acr.workspace_can_pull,
                "workspace_registry": acr.is_workspace_registry,
                "abac": acr.abac,
                "arm_audience_disabled": acr.arm_audience_disabled,
                "roles": {principal: sorted(roles) for principal, roles in acr.roles.items()},
                "refresh_lifetime_seconds": acr.refresh_lifetime,
                "access_lifetime_seconds": acr.access_lifetime,
            }
        )

    async def restart(self, request: Request) -> Response:
        """Restart every instance of a deployment, as a node repair would."""
        spec: dict[str, Any] = await request.json()
        dataplane = self.emulator.dataplane
        endpoint = self.emulator.store.endpoint(self.emulator.workspace, spec["endpoint"])
        deployment = endpoint.deployment(spec["deployment"]) if endpoint else None
        if dataplane is None or deployment is None:
            return json_response({"error": "no such deployment with running instances"}, 404)
        return json_response({"restarted": await dataplane.restart(deployment.id)})

    async def state(self, request: Request) -> Response:
        store = self.emulator.store
        dataplane = self.emulator.dataplane

        def instances(deployment_id: str) -> list[dict[str, Any]]:
            if dataplane is None:
                return []
            return [
                {"name": i.name, "ready": i.ready, "restarts": i.restarts, "ip": i.ip}
                for i in dataplane.all_instances(deployment_id)
            ]

        return json_response(
            {
                "endpoints": [
                    {
                        **endpoint.rest(),
                        "live_traffic": endpoint.live_traffic,
                        "deployments": [
                            {**d.rest(), "instances": instances(d.id)}
                            for d in endpoint.deployments.values()
                        ],
                    }
                    for endpoint in store.endpoints.values()
                ],
                "operations": [op.rest() for op in store.operations.values() if not op.done],
                # every asset version of every workspace and registry, by id
                "assets": sorted(
                    version.id
                    for container in store.assets.containers.values()
                    for version in container.versions.values()
                ),
            }
        )

    async def reset(self, request: Request) -> Response:
        await self.emulator.reset()
        return json_response({"status": "reset"})
