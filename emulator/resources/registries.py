"""Azure ML registries: assets shared across workspaces, each registry with storage of its own,
and who may use it.

A principal needs a role on a registry (Learn "Manage Azure Machine Learning registries",
how-to-manage-registries.md: "AzureML Registry User" to read and use assets); the curated
`azureml` registry, which holds Azure ML's curated environments, is open to everyone
(Learn "Curated environments", resource-curated-environments.md, `azureml://registries/azureml/
environments/<name>/labels/latest`). Without a role the registry's discovery answers 403
`UserError` "User/tenant/subscription is not allowed to access registry {name}" (the recording
test_online_deployment_create_when_registry_assets of azure-sdk-for-python).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.inference_images import CURATED_ENVIRONMENTS
from emulator.resources.model import PROVIDER

CURATED = "azureml"
# Azure ML's curated environments that deployments name (`azureml://registries/azureml/
# environments/<name>/labels/latest`, as azureml-examples and the docs write them) are
# emulator/inference_images' CURATED_ENVIRONMENTS: Azure ML publishes their images as
# mcr.microsoft.com/azureml/curated/<name> (Azure/azureml-assets,
# assets/inference/environments/<name>, and resource-curated-environments.md).


@dataclass
class Registry:
    subscription: str
    resource_group: str
    name: str
    location: str
    storage_account: str  # its own storage account (in Azurite)
    storage_key: str
    # Object ids with a role on the registry; None: everyone (the curated registry).
    principals: set[str] | None = field(default_factory=set)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{PROVIDER}/registries/{self.name}"
        )

    @property
    def container(self) -> str:
        """The blob container the registry's assets are uploaded to."""
        return f"{self.name.lower()}-assets"

    def allows(self, principal: str) -> bool:
        return self.principals is None or principal in self.principals

    def discovery(self, arm_url: str) -> dict[str, Any]:
        """The registry discovery answer (RegistryDiscoveryDto of azure-ai-ml's
        `_restclient/registry_discovery`): where its resource provider is, and its scope."""
        return {
            "registryName": self.name,
            "subscriptionId": self.subscription,
            "resourceGroup": self.resource_group,
            "primaryRegion": self.location,
            "regions": [self.location],
            "primaryRegionResourceProviderUri": arm_url + "/",
        }


def curated_environments() -> list[tuple[str, str, dict[str, Any]]]:
    """(name, version, properties) of the curated registry's environments."""
    return [
        (
            name,
            "1",
            {
                "image": image,
                "osType": "Linux",
                "environmentType": "Curated",
                "description": f"Azure ML curated environment {name}",
                "tags": {},
                "isArchived": False,
                "isAnonymous": False,
            },
        )
        for name, image in CURATED_ENVIRONMENTS.items()
    ]
