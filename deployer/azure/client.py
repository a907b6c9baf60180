"""The typed client over azure-ai-ml's MLClient: observed state as frozen dataclasses, changes
as operations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError

from deployer.auth import SignIn
from deployer.azure.autoscale import AutoscaleSettings
from deployer.azure.entities import (
    build_deployment,
    endpoint_state,
    identity_configuration,
    usage_of,
)
from deployer.azure.failures import Translated
from deployer.azure.metrics import AzureMonitor
from deployer.azure.operation import Operation
from deployer.azure.pull import RegistryFacts
from deployer.azure.registry_resource import read_registry
from deployer.cloud import Cloud
from deployer.errors import AzureError
from deployer.sdk import POLL_SECONDS, configure_sdk

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient

from deployer.state import (
    AutoscaleState,
    DeploymentSettings,
    EndpointState,
    Keys,
    NewAutoscale,
    NewEndpoint,
    Usage,
    traffic_text,
)

# azure-core retries 408/429/500/502/503/504 three times (honouring Retry-After); ARM throttling
# and brief outages come in longer bursts, so a deploy rides out six (backoff 0.8 s doubling,
# about 50 s in all) before it gives up. A poll that is still throttled after these waits and
# polls again (deployer.azure.operation).
STATUS_RETRIES = 6


class AzureML:
    def __init__(
        self,
        cloud: Cloud,
        sign_in: SignIn,
        subscription_id: str,
        resource_group: str,
        workspace: str,
    ) -> None:
        configure_sdk(cloud)  # before azure-ai-ml is imported (open_session has, usually)
        from azure.ai.ml import MLClient

        self.cloud = cloud
        self.sign_in = sign_in
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.workspace = workspace
        self._registry_id: str | None = None
        self._workspace_read = False
        self._location: str | None = None
        self._autoscale: AutoscaleSettings | None = None
        self._monitor: AzureMonitor | None = None
        options: dict[str, Any] = {
            "cloud": cloud.name,
            "polling_interval": POLL_SECONDS,
            "retry_status": STATUS_RETRIES,
            # Its upload progress bars write to stdout; the action says what it uploads.
            "show_progress": False,
        }
        if cloud.metadata:
            options["cloud_metadata"] = cloud.metadata
        self._options = options
        self.client = MLClient(
            sign_in.credential,
            subscription_id,
            resource_group,
            workspace,
            enable_telemetry=False,
            **options,
        )

    @property
    def workspace_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )

    # --- reading -------------------------------------------------------------------------

    def check_workspace(self) -> None:
        """Fail early, with the inputs to fix, when the workspace cannot be reached."""
        with self.errors("reading the workspace"):
            workspace = self.client.workspaces.get(self.workspace)
        self._registry_id = getattr(workspace, "container_registry", None) or None
        self._location = getattr(workspace, "location", None) or None
        self._workspace_read = True

    def workspace_registry(self) -> RegistryFacts | None:
        """The workspace's registry: its ARM id from the workspace (`containerRegistry`), its
        login server and role assignment mode from its ARM resource where the app may read it
        (AcrPush alone does not include registries/read: then only the id is known)."""
        if not self._workspace_read:
            self.check_workspace()
        if not self._registry_id:
            return None
        return read_registry(self.cloud, self.sign_in, self._registry_id)

    def endpoint(self, name: str) -> EndpointState | None:
        with self.errors(f"reading endpoint {name}"):
            try:
                endpoint = self.client.online_endpoints.get(name)
            except ResourceNotFoundError:
                return None
            deployments = list(self.client.online_deployments.list(name))
        return endpoint_state(endpoint, deployments)

    def endpoints(self) -> list[EndpointState]:
        with self.errors("listing endpoints"):
            return [endpoint_state(e, []) for e in self.client.online_endpoints.list()]

    def usages(self) -> list[Usage]:
        """The subscription's quota usages in the workspace's region (the usages API)."""
        with self.errors("reading the subscription's quota usages"):
            found = list(self.client.compute.list_usage())
        return [usage_of(item) for item in found]

    def keys(self, endpoint: str) -> Keys:
        """By the endpoint's auth mode, as azure-ai-ml's get_keys has it: `key`: listKeys (the
        two keys); `aml_token`: getToken (a token with an expiry); `aad_token`: no call to the
        endpoint at all, this run's own Entra token for https://ml.azure.com, from the same
        credential (azure-identity)."""
        with self.errors(f"reading the keys of endpoint {endpoint}"):
            keys = self.client.online_endpoints.get_keys(endpoint)
        primary = getattr(keys, "primary_key", None)
        if primary:
            return Keys(str(primary), getattr(keys, "secondary_key", None))
        return Keys(str(keys.access_token), None, expires=True)

    def logs(self, endpoint: str, deployment: str, container_type: str | None, lines: int) -> str:
        """`container_type`: InferenceServer (the model server) or StorageInitializer."""
        sdk_names = {
            "InferenceServer": "inference-server",
            "StorageInitializer": "storage-initializer",
        }
        with self.errors(f"reading the logs of deployment {deployment}"):
            kwargs: dict[str, Any] = {"lines": lines}
            if container_type:
                kwargs["container_type"] = sdk_names[container_type]
            return str(self.client.online_deployments.get_logs(deployment, endpoint, **kwargs))

    def build_log(self, account: str, container: str, path: str, max_bytes: int) -> str:
        """The end of an environment's image build log, from the workspace's default storage
        (where Azure ML writes it). "" when that storage has no account key this run may read,
        or the log is not in the workspace's storage."""
        with self.errors("reading the environment's build log"):
            store = self._default_store()
            if store is None or store.account != account:
                return ""  # not the workspace's storage: nothing this run may read
            blob = store.blob(container, path)
            size = int(blob.get_blob_properties().size)
            start = max(0, size - max_bytes)
            data = blob.download_blob(offset=start, length=size - start).readall()
        text = data.decode("utf-8", "replace")
        return text.split("\n", 1)[-1] if start else text  # from a whole line

    def read_own_blob(self, path: str, max_bytes: int) -> bytes | None:
        """A document this action keeps in the default datastore's container (production's
        recorded answers, deployer/answers.py); None when there is none. Longer than
        `max_bytes`: its first max_bytes + 1 bytes, for the caller to refuse."""
        with self.errors(f"reading {path} from the workspace's default storage"):
            store = self._default_store()
            if store is None:
                return None
            try:
                stream = store.blob(store.container, path).download_blob(
                    offset=0, length=max_bytes + 1
                )
            except ResourceNotFoundError:
                return None
            return bytes(stream.readall())

    def write_own_blob(self, path: str, data: bytes) -> None:
        with self.errors(f"writing {path} to the workspace's default storage"):
            store = self._default_store()
            if store is None:
                raise AzureError(
                    "the workspace's default datastore has no account key this run may use",
                    hint="give the workspace's default datastore an account key credential",
                )
            store.blob(store.container, path).upload_blob(data, overwrite=True)

    def _default_store(self) -> _Store | None:
        """The workspace's default blob datastore with its account key: the datastore's
        expiring secret is a SAS of its own blob container only. None without a key."""
        store = self.client.datastores.get_default()
        # azure-ai-ml asks for an expiring secret in public calls; the account key is what
        # listSecrets answers without one (DatastoreOperations._list_secrets).
        secrets = self.client.datastores._list_secrets(store.name, expirable_secret=False)
        key = getattr(secrets, "key", None)
        if not key:
            return None
        return _Store(
            str(store.account_name),
            f"{store.protocol}://{store.account_name}.blob.{store.endpoint}",
            str(store.container_name),
            str(key),
        )

    # --- changing ---------------------------------------------------------------------------

    def begin_create_endpoint(self, endpoint: NewEndpoint) -> Operation:
        from azure.ai.ml.entities import ManagedOnlineEndpoint

        entity = ManagedOnlineEndpoint(
            name=endpoint.name,
            auth_mode=endpoint.auth_mode,
            description=endpoint.description,
            tags=dict(endpoint.tags),
            identity=identity_configuration(endpoint.identity),
            public_network_access=endpoint.public_network_access,
        )
        with self.errors(f"creating endpoint {endpoint.name}"):
            poller = self.client.online_endpoints.begin_create_or_update(entity)
        return Operation(f"creating endpoint {endpoint.name}", poller)

    def begin_deployment(
        self, endpoint: str, name: str, settings: DeploymentSettings, tags: Mapping[str, str]
    ) -> Operation:
        deployment = build_deployment(endpoint, name, settings, tags)
        with self.errors(f"deploying {name}"):
            poller = self.client.online_deployments.begin_create_or_update(deployment)
        return Operation(f"provisioning deployment {name}", poller)

    def begin_update_endpoint(
        self,
        name: str,
        tags: Mapping[str, str],
        traffic: Mapping[str, int] | None,
        description: str | None = None,
        mirror: Mapping[str, int] | None = None,
    ) -> Operation:
        """Set the endpoint's tags (all of them: these replace the old ones) and, if given, its
        traffic, mirrored traffic and description, in one request: the rollout record changes
        with the traffic it describes."""
        with self.errors(f"updating endpoint {name}"):
            current = self.client.online_endpoints.get(name)
            current.tags = dict(tags)
            if traffic is not None:
                current.traffic = dict(traffic)
            if mirror is not None:
                current.mirror_traffic = dict(mirror)
            if description is not None:
                current.description = description
            poller = self.client.online_endpoints.begin_create_or_update(current)
        doing = (
            f"shifting traffic ({traffic_text(traffic)})"
            if traffic is not None
            else (f"updating endpoint {name}")
        )
        return Operation(doing, poller)

    def begin_set_public_network_access(self, name: str, access: str) -> Operation:
        """A full PUT of the endpoint as read, with `access`: the PATCH body
        (PartialMinimalTrackedResourceWithIdentity) carries only tags and identity, and every
        other write of the action's sends back the value it read."""
        with self.errors(f"updating endpoint {name}"):
            current = self.client.online_endpoints.get(name)
            current.public_network_access = access
            poller = self.client.online_endpoints.begin_create_or_update(current)
        return Operation(f"setting public network access of {name} to {access}", poller)

    def begin_delete_deployment(self, endpoint: str, name: str) -> Operation:
        with self.errors(f"deleting deployment {name}"):
            poller = self.client.online_deployments.begin_delete(name, endpoint)
        return Operation(f"deleting deployment {name}", poller)

    def begin_delete_endpoint(self, name: str) -> Operation:
        with self.errors(f"deleting endpoint {name}"):
            poller = self.client.online_endpoints.begin_delete(name)
        return Operation(f"deleting endpoint {name}", poller)

    # --- autoscale (Azure Monitor) -------------------------------------------------------------

    @property
    def monitor(self) -> AzureMonitor:
        """Azure Monitor (metrics, autoscale settings) with the same credential: one client."""
        if self._monitor is None:
            self._monitor = AzureMonitor(
                self.cloud, self.sign_in, self.subscription_id, self.workspace_id
            )
        return self._monitor

    @property
    def autoscale(self) -> AutoscaleSettings:
        if self._autoscale is None:
            self._autoscale = AutoscaleSettings(self.monitor, self.resource_group)
        return self._autoscale

    def autoscale_settings(self, endpoint: str) -> tuple[AutoscaleState, ...]:
        return self.autoscale.of_endpoint(endpoint)

    def put_autoscale(self, wanted: NewAutoscale, tags: Mapping[str, str]) -> None:
        """In the workspace's region, where its deployments are."""
        if not self._workspace_read:
            self.check_workspace()
        self.autoscale.put(wanted, tags, self._location or "")

    def enable_autoscale(self, name: str, enabled: bool) -> None:
        self.autoscale.enable(name, enabled)

    def delete_autoscale(self, name: str) -> None:
        self.autoscale.delete(name)

    def registry_client(self, registry: str) -> Any:
        """An MLClient for an Azure ML registry, signed in as the workspace's."""
        from azure.ai.ml import MLClient

        with self.errors(f"connecting to registry {registry}"):
            return MLClient(
                self.sign_in.credential,
                self.subscription_id,
                self.resource_group,
                registry_name=registry,
                enable_telemetry=False,
                **self._options,
            )

    def errors(self, doing: str) -> Translated:
        """Azure's errors while `doing` something, turned into AzureError with a fix."""
        return Translated(doing, self.sign_in)


@dataclass(frozen=True)
class _Store:
    account: str
    url: str
    container: str
    key: str = field(repr=False)

    def blob(self, container: str, path: str) -> BlobClient:
        from azure.storage.blob import BlobClient

        return BlobClient(
            self.url,
            container,
            path,
            credential={"account_name": self.account, "account_key": self.key},
        )
