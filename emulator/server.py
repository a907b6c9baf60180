"""The emulator process: every part on its own 127.0.0.1 HTTPS port, served by one uvicorn
server that dispatches by the port a request arrived on, sharing one in-memory state."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import socket
import tempfile
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from emulator import __version__, scoring_hosts, storage
from emulator.acr import ACCESS_LIFETIME, NULL_GUID, REFRESH_LIFETIME, AcrTokenService, Registry
from emulator.admin import AdminApi
from emulator.arm.app import ArmApp
from emulator.arm.context import ArmContext
from emulator.asset_files import AssetFiles
from emulator.datacollector import PayloadLogger
from emulator.dataplane import DockerDataPlane, RegistryAccess
from emulator.entra import DEFAULT_TOKEN_LIFETIME, EntraId
from emulator.envbuild import RegistryTarget, build_environment
from emulator.faults import FaultStore, Instrumented
from emulator.gateway import ScoringGateway
from emulator.github_oidc import GitHubIssuer
from emulator.github_rest import GitHubRest
from emulator.identity import DEFAULT_SUBJECTS, FederatedCredential, Identity
from emulator.inference_images import local_stand_in
from emulator.launch import Launcher
from emulator.ledger import LEDGER
from emulator.lifecycle import CONNECTION_FILE
from emulator.monitor.engine import AutoscaleEngine
from emulator.monitor.sampler import UsageSampler
from emulator.public_registry import ISSUER as PUBLIC_ISSUER
from emulator.public_registry import PUBLISHER, PublicTokenService
from emulator.requestlog import RequestLog
from emulator.resources.assets import AssetVersion
from emulator.resources.datastores import default_blobstore
from emulator.resources.model import Workspace
from emulator.resources.operations import OperationEngine
from emulator.resources.provisioning import NoContainers, Provisioner
from emulator.resources.registries import CURATED
from emulator.resources.registries import Registry as MlRegistry
from emulator.resources.store import Store
from emulator.storage_proxy import StorageProxy
from emulator.timing import Timing, profile
from emulator.tls import ensure_tls
from emulator.tokens import SigningKey

log = logging.getLogger("emulator")

PARTS = ("entra", "github", "github_api", "arm", "gateway", "acr", "public_auth", "admin")
PUBLIC_ARM_AUDIENCES = {"https://management.azure.com", "https://management.core.windows.net"}
OTHER_RESOURCES = {"https://containerregistry.azure.net", "https://ml.azure.com"}


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


class _NotYetServed:
    """Answers for a part whose service is not running in this emulator."""

    def __init__(self, part: str) -> None:
        self.part = part

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = json.dumps(
            {"error": {"code": "ServiceUnavailable", "message": f"the {self.part} is not running"}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class Emulator:
    def __init__(
        self,
        state_dir: Path,
        profile_name: str,
        time_scale: float,
        data_plane: str = "docker",
        storage_kind: str = "disk",
    ) -> None:
        self.state_dir = state_dir.resolve()
        # Names the containers and network of this emulator, the same across restarts so a
        # restart can clean up what a killed run left behind.
        self.emulator_id = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:8]
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.identity = Identity.load_or_create(self.state_dir / "identity.json")
        # The scoring gateway's host-style names (emulator/scoring_hosts.py): one label each.
        self.tls = ensure_tls(
            self.state_dir / "tls",
            [f"*.{scoring_hosts.suffix(self.identity.location)}", f"*.blob.{storage.SUFFIX}"],
        )
        self.launch_timing = profile(profile_name, time_scale)
        self.timing: Timing = self.launch_timing
        # The admin API's bearer secret: new on every start, handed out only through the
        # connection file (mode 0600), so a token of an earlier start opens nothing.
        self.admin_token = secrets.token_urlsafe(32)
        LEDGER.record("admin-token", self.admin_token)
        self.sockets = {part: _listen() for part in PARTS}
        self.urls = {
            part: f"https://127.0.0.1:{sock.getsockname()[1]}"
            for part, sock in self.sockets.items()
        }
        self.log = RequestLog()
        self.faults = FaultStore()
        self.github = GitHubIssuer(self.urls["github"])
        self.github_rest = GitHubRest(self.urls["github_api"])
        self.entra = EntraId(
            url=self.urls["entra"],
            identity=self.identity,
            issuer=self.github,
            resources={self.urls["arm"], *PUBLIC_ARM_AUDIENCES, *OTHER_RESOURCES},
            federated_credentials=self._default_federated_credentials(),
        )
        # Azure's default quotas in the azure profile; tests' fast profile is generous.
        self.store = Store(azure_default_quota=self.launch_timing.profile == "azure")
        self.workspace = Workspace(
            subscription=self.identity.subscription_id,
            resource_group=self.identity.resource_group,
            name=self.identity.workspace,
            location=self.identity.location,
            workspace_id=self.identity.workspace_id,
        )
        self.storage_kind = storage_kind
        self._start_storage()
        self.store.add_workspace(self.workspace)
        self.engine = OperationEngine(
            self.store, lambda: self.timing, self.faults, self.urls["arm"]
        )
        self.scoring_key = SigningKey()
        self.data_plane = data_plane
        self.registry: Registry | None = None
        self.acr: AcrTokenService | None = None
        self.public_registry: Registry | None = None  # the public registries' stand-in
        self.public_auth: PublicTokenService | None = None
        self.dataplane: DockerDataPlane | None = None
        self.provisioner: Provisioner = NoContainers()
        self.sampler: UsageSampler | None = None  # the instances' CPU and memory
        if data_plane == "docker":
            self._start_data_plane()
        self.autoscaler = AutoscaleEngine(
            self.store, self.engine, self.provisioner, lambda: self.timing
        )
        self.arm_context = ArmContext(
            store=self.store,
            engine=self.engine,
            provisioner=self.provisioner,
            timing=lambda: self.timing,
            arm_url=self.urls["arm"],
            scoring_base=self.urls["gateway"],
            scoring_host_suffix=(
                scoring_hosts.suffix(self.identity.location)
                if scoring_hosts.host_style(self.identity.location)
                else None
            ),
            tenant_id=self.identity.tenant_id,
            scoring_key=self.scoring_key,
            registries=self.registry_resources,
            storage_port=self.azurite.port,
        )
        apps: dict[str, ASGIApp] = {
            "entra": self.entra.app(),
            "github": self.github.app(),
            "github_api": self.github_rest.app(),
            "arm": ArmApp(
                self.arm_context,
                self.entra,
                {self.urls["arm"], *PUBLIC_ARM_AUDIENCES},
                region=self.identity.location,
            ),
            "gateway": self._gateway(),
            "acr": self.acr.app() if self.acr else _NotYetServed("registry token service"),
            "public_auth": (
                self.public_auth.app()
                if self.public_auth
                else _NotYetServed("public registry's token service")
            ),
            "admin": AdminApi(self).app(),
        }
        self._by_port = {
            sock.getsockname()[1]: Instrumented(apps[part], part, self.log, self.faults)
            for part, sock in self.sockets.items()
        }

    def _start_storage(self) -> None:
        """Azurite with the workspace's storage account and one per Azure ML registry (the
        process starts now; `_lifespan` waits for it), and the proxy that carries the SDK's
        blob host names to it (emulator/storage_proxy.py)."""
        identity = self.identity
        ids = (identity.subscription_id, identity.resource_group)
        workspace_account = storage.Account.new(storage.account_name(*ids, identity.workspace))
        self.ml_registry = f"{identity.workspace}-registry"
        self.registry_accounts = {
            name: storage.Account.new(storage.account_name(*ids, name))
            for name in (self.ml_registry, CURATED)
        }
        self.azurite = storage.Azurite(
            self.state_dir,
            self.tls,
            [workspace_account, *self.registry_accounts.values()],
            in_memory=self.storage_kind == "memory",
        )
        self.azurite.start()
        self.storage_proxy = StorageProxy(_listen())
        self.asset_files = AssetFiles(
            self.store, self.azurite, self.tls.ca_cert, self.state_dir / "assets"
        )
        self.workspace.storage_account = (
            f"/subscriptions/{identity.subscription_id}/resourceGroups/{identity.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{workspace_account.name}"
        )
        self.workspace.blobstore = default_blobstore(
            self.workspace.id,
            self.workspace.workspace_id,
            workspace_account.name,
            workspace_account.key,
            self.azurite.endpoint,
        )
        for name, account in self.registry_accounts.items():
            self.store.add_registry(
                MlRegistry(
                    subscription=identity.subscription_id,
                    resource_group=identity.resource_group,
                    name=name,
                    location=identity.location,
                    storage_account=account.name,
                    storage_key=account.key,
                    principals=None if name == CURATED else {identity.service_principal_id},
                )
            )

    def _storage_containers(self) -> None:
        """The blob containers Azure creates with the workspace and the registries."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        blobstore = self.workspace.blobstore
        assert blobstore is not None and blobstore.account_key is not None
        wanted = [(blobstore.account, blobstore.account_key, blobstore.container)]
        wanted += [
            (r.storage_account, r.storage_key, r.container) for r in self.store.registries.values()
        ]
        for account, key, container in wanted:
            client = BlobServiceClient(
                self.azurite.account_url(account),
                credential={"account_name": account, "account_key": key},
                connection_verify=str(self.tls.ca_cert),
            )
            with contextlib.suppress(ResourceExistsError):
                client.create_container(container)

    def _start_data_plane(self) -> None:
        self.registry = Registry(self.state_dir, self.tls)
        self.acr = AcrTokenService(
            url=self.urls["acr"],
            login_server=self.registry.login_server,
            entra=self.entra,
            arm_audiences={self.urls["arm"], *PUBLIC_ARM_AUDIENCES},
        )
        acr = self.acr
        acr.roles = acr.default_roles()
        self.public_registry = Registry(self.state_dir, self.tls, name="public-registry")
        self.public_auth = PublicTokenService(
            url=self.urls["public_auth"], login_server=self.public_registry.login_server
        )
        public = self.public_auth
        self.dataplane = DockerDataPlane(
            emulator_id=self.emulator_id,
            timing=lambda: self.timing,
            faults=self.faults,
            launcher=self._launcher(acr),
            registry=RegistryAccess(
                login_server=self.registry.login_server,
                ca_cert=str(self.tls.ca_cert),
                pull_token=acr.endpoint_pull_token,
                credentials=lambda principal, system_assigned: {
                    "username": NULL_GUID,
                    "password": acr.endpoint_refresh_token(principal, system_assigned),
                },
                public_login_server=self.public_registry.login_server,
                public_pull_token=public.anonymous_pull_token,
            ),
        )
        self.dataplane.start()
        dataplane = self.dataplane
        self.sampler = UsageSampler(
            dataplane.client, lambda: dataplane.instances, self.store.usage, lambda: self.timing
        )
        self.provisioner = self.dataplane
        self.workspace.container_registry = self.registry_ids()[0]

    def _asset(self, asset_id: str) -> AssetVersion | None:
        return self.store.assets.by_id(asset_id)  # looked up anew: a reset renews the assets

    def _launcher(self, acr: AcrTokenService) -> Launcher:
        """What a deployment runs: its assets out of storage, its environment built into the
        workspace's registry as the workspace's identity, the build log kept in storage."""
        assert self.registry is not None and self.workspace.blobstore is not None
        target = self.registry.login_server
        ca_cert = str(self.tls.ca_cert)
        account = self.workspace.blobstore.account
        return Launcher(
            asset_of=self._asset,
            files=self.asset_files,
            build=lambda definition: build_environment(
                definition, RegistryTarget(target, acr.builder_credentials(), ca_cert)
            ),
            keep_build_log=lambda where, text: self.azurite.put_blob(
                account, where.container, where.path, text
            ),
            storage_account=lambda: account,
            public_image=local_stand_in,
        )

    def registry_ids(self) -> tuple[str, str]:
        """The ARM ids of the workspace's registry and of the registry the emulator runs: the
        same one unless the admin API made the workspace's registry another (`/acr`
        `{"workspace_registry": false}`), which has no data plane of its own."""
        base = (
            f"/subscriptions/{self.identity.subscription_id}/resourceGroups/"
            f"{self.identity.resource_group}/providers/Microsoft.ContainerRegistry/registries/"
        )
        served = base + self.identity.registry_name
        own = self.acr is None or self.acr.is_workspace_registry
        return (served if own else base + self.identity.registry_name + "ws", served)

    def registry_resources(self) -> dict[str, dict[str, Any]]:
        """The registries' ARM resources: `loginServer`, `roleAssignmentMode` and
        `policies.azureADAuthenticationAsArmPolicy` as api-version 2025-05-01-preview has them
        (Azure/bicep-types-az, generated/containerregistry/…/2025-05-01-preview/types.md)."""
        if self.acr is None or self.registry is None:
            return {}
        workspace_id, served_id = self.registry_ids()
        acr = self.acr

        def resource(resource_id: str, login_server: str, abac: bool, arm: bool) -> dict[str, Any]:
            return {
                "id": resource_id,
                "name": resource_id.rsplit("/", 1)[-1],
                "type": "Microsoft.ContainerRegistry/registries",
                "location": self.identity.location,
                "sku": {"name": "Standard", "tier": "Standard"},
                "properties": {
                    "loginServer": login_server,
                    "provisioningState": "Succeeded",
                    "adminUserEnabled": False,
                    "roleAssignmentMode": (
                        "AbacRepositoryPermissions" if abac else "LegacyRegistryPermissions"
                    ),
                    "policies": {
                        "azureADAuthenticationAsArmPolicy": {
                            "status": "enabled" if arm else "disabled"
                        }
                    },
                },
            }

        resources = {
            served_id.lower(): resource(
                served_id, self.registry.login_server, acr.abac, not acr.arm_audience_disabled
            )
        }
        if workspace_id != served_id:
            name = workspace_id.rsplit("/", 1)[-1]
            resources[workspace_id.lower()] = resource(
                workspace_id, f"{name}.azurecr.io", False, True
            )
        return resources

    def _gateway(self) -> ASGIApp:
        if self.dataplane is None:
            return _NotYetServed("scoring gateway (the emulator runs without a data plane)")
        return ScoringGateway(
            store=self.store,
            dataplane=self.dataplane,
            location=self.identity.location,
            scoring_key=self.scoring_key,
            entra=self.entra,
            faults=self.faults,
            payloads=PayloadLogger(self.store, self.azurite),
        )

    def _default_federated_credentials(self) -> list[FederatedCredential]:
        return [FederatedCredential(self.github.url, subject) for subject in DEFAULT_SUBJECTS]

    def connection(self) -> dict[str, Any]:
        """What clients need to talk to this emulator (written to connection.json)."""
        identity = self.identity
        arm = self.urls["arm"]
        return {
            "version": __version__,
            "pid": os.getpid(),
            "profile": self.launch_timing.profile,
            "time_scale": self.launch_timing.time_scale,
            # how long one minute of its Azure Monitor lasts (Timing), for `--cloud local`
            "metrics_minute": self.launch_timing.duration("metrics_minute"),
            "arm_url": arm,
            "authority_url": self.urls["entra"],
            "gateway_url": self.urls["gateway"],
            "admin_url": self.urls["admin"],
            "admin_token": self.admin_token,
            "github_api_url": self.urls["github_api"],
            "registry": self.registry.login_server if self.registry else None,
            "acr_url": self.urls["acr"] if self.acr else None,
            "public_registry": self.public_registry.login_server if self.public_registry else None,
            "public_registry_push": (
                {"username": PUBLISHER, "password": self.public_auth.publisher_password}
                if self.public_auth
                else None
            ),
            "registry_name": self.identity.registry_name,
            "ml_registry": self.ml_registry,
            "storage_proxy": self.storage_proxy.url,
            "storage_url": f"https://127.0.0.1:{self.azurite.port}",
            "storage": self.storage_kind,
            "data_plane": self.data_plane,
            "ca_bundle": str(self.tls.ca_bundle),
            "ca_cert": str(self.tls.ca_cert),
            "tenant_id": identity.tenant_id,
            "client_id": identity.client_id,
            "client_secret": identity.client_secret,
            "subscription_id": identity.subscription_id,
            "resource_group": identity.resource_group,
            "workspace": identity.workspace,
            "location": identity.location,
            "oidc": {
                "issuer": self.github.url,
                "request_url": self.github.request_url,
                "request_token": self.github.request_token,
                "audience": "api://AzureADTokenExchange",
            },
            "cloud_metadata": {
                "azure_portal": arm + "/",
                "resource_manager": arm + "/",
                "active_directory": self.urls["entra"] + "/",
                "aml_resource_id": arm + "/",
                "storage_endpoint": self.azurite.endpoint,
                "registry_discovery_endpoint": arm + "/",
            },
        }

    async def reset(self) -> None:
        """Back to a fresh emulator with the same ports, keys and identities."""
        self.provisioner.retire_all()
        await self.engine.close()
        self.store.reset(self.workspace)
        for registry in self.store.registries.values():
            if registry.principals is not None:
                registry.principals = {self.identity.service_principal_id}
        self.faults.clear()
        self.github_rest.reset()
        if self.acr is not None:
            self.acr.workspace_can_pull = True
            self.acr.is_workspace_registry = True
            self.acr.abac = False
            self.acr.arm_audience_disabled = False
            self.acr.roles = self.acr.default_roles()
            self.workspace.container_registry = self.registry_ids()[0]
            self.acr.refresh_lifetime = REFRESH_LIFETIME
            self.acr.access_lifetime = ACCESS_LIFETIME
        self.github.reset()
        self.entra.token_lifetime = DEFAULT_TOKEN_LIFETIME
        self.entra.federated_credentials = self._default_federated_credentials()
        self.timing = self.launch_timing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        port = scope["server"][1] if scope.get("server") else None
        app = self._by_port.get(port) if port is not None else None
        if app is None:
            await _NotYetServed("part")(scope, receive, send)
            return
        await app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.storage_proxy.start()
                    if self.registry is not None and self.acr is not None:
                        self.registry.start(self.acr)
                        await self.registry.wait_ready(self.tls.ca_cert)
                    if self.public_registry is not None and self.public_auth is not None:
                        auth = self.public_auth
                        self.public_registry.start_with(
                            auth.realm, PUBLIC_ISSUER, auth.certificate_pem()
                        )
                        await self.public_registry.wait_ready(self.tls.ca_cert)
                    await self.azurite.wait_ready()
                    await asyncio.to_thread(self._storage_containers)
                except Exception as exc:
                    log.exception("the registry did not start")
                    await self._stop()
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                self.autoscaler.job.start()
                if self.sampler is not None:
                    self.sampler.job.start()
                self._write_connection()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _stop(self) -> None:
        await self.autoscaler.job.close()
        if self.sampler is not None:
            await self.sampler.job.close()
        await self.engine.close()
        await self.provisioner.close()
        if self.registry is not None:
            self.registry.stop()
        if self.public_registry is not None:
            self.public_registry.stop()
        await self.storage_proxy.close()
        self.azurite.stop()

    def _write_connection(self) -> None:
        """Atomically, and readable by its owner alone from the moment it exists: mkstemp
        creates the file with mode 0600 (O_CREAT | O_EXCL), and a rename puts it in place."""
        path = self.state_dir / CONNECTION_FILE
        descriptor, name = tempfile.mkstemp(
            dir=self.state_dir, prefix=f".{CONNECTION_FILE}.", suffix=".tmp"
        )
        temporary = Path(name)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(self.connection(), handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def serve(self) -> None:
        config = uvicorn.Config(
            self,
            ssl_certfile=str(self.tls.server_cert),
            ssl_keyfile=str(self.tls.server_key),
            log_level=os.environ.get("AZUREML_EMULATOR_LOG_LEVEL", "warning"),
            lifespan="on",
            timeout_graceful_shutdown=5,
            access_log=False,
        )
        uvicorn.Server(config).run(sockets=list(self.sockets.values()))
