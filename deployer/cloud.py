"""Which Azure: the public cloud, a sovereign cloud, or the local emulator (`--cloud local`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deployer.errors import UsageError

EMULATOR_DIR_VARIABLE = "AZUREML_EMULATOR_DIR"


# Azure ML's own images (the inference and curated images), published in Microsoft's registry.
AZURE_ML_IMAGES = "mcr.microsoft.com/azureml/"


@dataclass(frozen=True)
class LocalConnection:
    """The local emulator's connection file (`--cloud local`), read once."""

    subscription_id: str
    resource_group: str
    workspace: str
    tenant_id: str
    client_id: str
    registry: str  # its registry's login server
    oidc_request_url: str  # what GitHub puts in ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN
    oidc_request_token: str
    # The emulator's proxy for its storage's blob names (`<account>.blob.storage.localhost`,
    # which no resolver here answers): the SDK uploads assets through it.
    storage_proxy: str | None = None
    # Its stand-in for the public registries (Docker Hub, MCR, GHCR, …): anonymous pulls.
    public_registry: str | None = None


@dataclass(frozen=True)
class Cloud:
    name: str  # the azure-ai-ml cloud name
    resource_manager: str  # ARM base URL, no trailing slash
    authority: str  # Entra ID authority host, no trailing slash
    studio: str  # Azure ML studio, for links in the summary
    # The Entra audience of Azure Container Registry in this cloud: azure-cli's acr module asks
    # for "https://containerregistry.azure.net" (ACR_AUDIENCE_RESOURCE_NAME); the sovereign
    # clouds' equivalents are containerregistry.azure.us and .azure.cn (ratify-project/ratify,
    # its Azure auth provider's AADResource* constants). Unlike an ARM token, it is accepted by
    # registries under the policy that disables ARM-audience tokens (Learn
    # "container-registry-disable-authentication-as-arm").
    registry_audience: str = "https://containerregistry.azure.net"
    # A registry's login server is <name>.<suffix>: azurecr.io, .us and .cn in the sovereign
    # clouds (container-registry-faq, "azurecr.us" / Azure China's "azurecr.cn").
    registry_suffix: str = "azurecr.io"
    # Only for the emulator: what MLClient needs for a custom cloud, and the CA to trust.
    metadata: dict[str, str] | None = None
    ca_bundle: str | None = None
    local: LocalConnection | None = None
    # How long one minute of Azure Monitor lasts: platform metrics are kept one value a minute
    # (the supported-metrics tables' time grain, PT1M). The emulator's `fast` profile runs
    # its minutes in a second (its connection file says so), so that tests need not wait.
    metrics_minute: float = 60.0

    @property
    def arm_scope(self) -> str:
        return f"{self.resource_manager}/.default"

    @property
    def registry_scope(self) -> str:
        return f"{self.registry_audience}/.default"

    @property
    def is_local(self) -> bool:
        return self.local is not None

    # What `--cloud local` changes, answered here so that no other room branches on it.

    def studio_url(self, endpoint: str, workspace_id: str) -> str:
        """The endpoint's page in Azure ML studio (the emulator's state page locally)."""
        if self.local is not None:
            return self.studio
        return f"{self.studio}/endpoints/realtime/{endpoint}/detail?wsid={workspace_id}"

    def is_container_registry(self, server: str) -> bool:
        """Whether `server` is an Azure Container Registry's login server (<name>.<suffix>),
        or the emulator's registry."""
        server = server.lower()
        if self.local is not None and server == self.local.registry:
            return True
        return server.endswith("." + self.registry_suffix)

    def registry_for(self, given: str, acr: bool = True) -> str:
        """The login server images go to: the deploy file's, or the emulator's registry; for a
        public registry's image (`acr` false), that registry or the emulator's stand-in."""
        local = self.local
        if local is None:
            return given
        if acr:
            return local.registry
        return local.public_registry or given

    def pins_environment_image(self, image: str) -> bool:
        """Whether an environment's image is resolved to its digest before it is registered:
        always in Azure; the emulator's Azure ML inference images are local builds, in no
        registry, and keep their tag (emulator/README.md, "Differences from Azure")."""
        return self.local is None or not image.startswith(AZURE_ML_IMAGES)

    def workspace_defaults(self) -> tuple[str | None, str | None, str | None]:
        """Subscription, resource group and workspace when nothing names them."""
        local = self.local
        if local is None:
            return None, None, None
        return local.subscription_id, local.resource_group, local.workspace

    def signs_in_with_oidc(self, in_actions: bool) -> bool:
        """GitHub OIDC in Actions, and against the emulator (which plays GitHub's issuer);
        DefaultAzureCredential anywhere else."""
        return in_actions or self.local is not None

    def app_registration_defaults(self) -> tuple[str | None, str | None]:
        """Tenant and client id when nothing names them."""
        local = self.local
        return (local.tenant_id, local.client_id) if local is not None else (None, None)

    def rehearsal_id_token_request(self) -> tuple[str, str] | None:
        """Outside Actions against the emulator: where to request a GitHub ID token (its
        issuer's URL and request token), as a job would."""
        local = self.local
        return (local.oidc_request_url, local.oidc_request_token) if local is not None else None


PUBLIC = {
    "AzureCloud": Cloud(
        "AzureCloud",
        "https://management.azure.com",
        "https://login.microsoftonline.com",
        "https://ml.azure.com",
    ),
    "AzureUSGovernment": Cloud(
        "AzureUSGovernment",
        "https://management.usgovcloudapi.net",
        "https://login.microsoftonline.us",
        "https://ml.azure.us",
        registry_audience="https://containerregistry.azure.us",
        registry_suffix="azurecr.us",
    ),
    "AzureChinaCloud": Cloud(
        "AzureChinaCloud",
        "https://management.chinacloudapi.cn",
        "https://login.chinacloudapi.cn",
        "https://studio.ml.azure.cn",
        registry_audience="https://containerregistry.azure.cn",
        registry_suffix="azurecr.cn",
    ),
}
CLOUD_NAMES = (*PUBLIC, "local")


def emulator_connection_file(environ: Mapping[str, str]) -> Path:
    directory = environ.get(EMULATOR_DIR_VARIABLE) or ".emulator"
    return Path(directory) / "connection.json"


def select_cloud(name: str, environ: Mapping[str, str]) -> Cloud:
    if name in PUBLIC:
        return PUBLIC[name]
    if name != "local":
        raise UsageError(f"unknown cloud {name!r}", hint=f"use one of: {', '.join(CLOUD_NAMES)}")
    path = emulator_connection_file(environ)
    try:
        connection: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(
            f"--cloud local needs the local emulator, but {path} does not exist",
            hint="start it with `python -m emulator up` (or set AZUREML_EMULATOR_DIR to its "
            "state directory)",
        ) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read the emulator's connection file {path}: {exc}") from exc
    try:
        local = LocalConnection(
            subscription_id=str(connection["subscription_id"]),
            resource_group=str(connection["resource_group"]),
            workspace=str(connection["workspace"]),
            tenant_id=str(connection["tenant_id"]),
            client_id=str(connection["client_id"]),
            registry=str(connection["registry"]),
            oidc_request_url=str(connection["oidc"]["request_url"]),
            oidc_request_token=str(connection["oidc"]["request_token"]),
            storage_proxy=connection.get("storage_proxy"),
            public_registry=connection.get("public_registry"),
        )
        arm = str(connection["arm_url"]).rstrip("/")
        authority = str(connection["authority_url"]).rstrip("/")
        metadata = dict(connection["cloud_metadata"])
        ca_bundle = str(connection["ca_bundle"])
        metrics_minute = float(connection.get("metrics_minute", 60.0))
    except (KeyError, TypeError) as exc:
        raise UsageError(
            f"the emulator's connection file {path} lacks {exc}",
            hint="restart the emulator (python -m emulator down; python -m emulator up)",
        ) from exc
    return Cloud(
        # azure-ai-ml registers a custom cloud once per process: one name per emulator.
        name="AzureMLEmulator" + arm.rsplit(":", 1)[-1],
        resource_manager=arm,
        authority=authority,
        studio=str(connection.get("admin_url", arm)) + "/state",
        metadata=metadata,
        ca_bundle=ca_bundle,
        local=local,
        metrics_minute=metrics_minute,
    )
