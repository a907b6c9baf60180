"""A container registry's ARM resource: its login server and role assignment mode."""

from __future__ import annotations

import re

import requests

from deployer.auth import SignIn
from deployer.azure.pull import RegistryFacts
from deployer.cloud import Cloud
from deployer.errors import DeployerError

# The first api-version with `properties.roleAssignmentMode` ('AbacRepositoryPermissions' |
# 'LegacyRegistryPermissions'): Azure/bicep-types-az generated/containerregistry/
# microsoft.containerregistry/2025-05-01-preview/types.md (from azure-rest-api-specs).
API_VERSION = "2025-05-01-preview"
_ARM_ID = re.compile(
    r"^/subscriptions/[\w-]+/resourceGroups/[\w.()-]+/providers/"
    r"Microsoft\.ContainerRegistry/registries/[A-Za-z0-9]+$",
    re.IGNORECASE,
)


def read_registry(cloud: Cloud, sign_in: SignIn, registry_id: str) -> RegistryFacts:
    """What the registry's ARM resource says; only its id when it cannot be read."""
    if not _ARM_ID.match(registry_id):  # the token goes only to ARM, to a path we recognise
        return RegistryFacts(registry_id)
    try:
        response = requests.get(
            f"{cloud.resource_manager}{registry_id}",
            params={"api-version": API_VERSION},
            headers={"Authorization": f"Bearer {sign_in.token(cloud.arm_scope)}"},
            verify=cloud.ca_bundle or True,
            timeout=30,
        )
    except (requests.RequestException, DeployerError):
        return RegistryFacts(registry_id)
    if response.status_code != 200:
        return RegistryFacts(registry_id)
    try:
        properties = response.json().get("properties") or {}
    except ValueError:
        return RegistryFacts(registry_id)
    mode = properties.get("roleAssignmentMode")
    return RegistryFacts(
        registry_id,
        login_server=properties.get("loginServer") or None,
        abac=None if mode is None else mode == "AbacRepositoryPermissions",
    )
