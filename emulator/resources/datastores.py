"""A workspace's datastores: the default `workspaceblobstore` (a container of the workspace's
storage account) and any the user adds.

Shape: the REST specification's Datastore / AzureBlobDatastore (`datastoreType`, `accountName`,
`containerName`, `endpoint`, `protocol`, `credentials.credentialsType`, `isDefault`;
api-version 2024-10-01-preview, as azure-ai-ml 1.35 sends it). "When you create a workspace, an
Azure Storage account is automatically created … A blob container is created in this account,
and its connection information is stored as a datastore named 'workspaceblobstore'" (Learn,
`az ml datastore` reference). The container's name, `azureml-blobstore-<workspace id>`, is the
one Azure gives it (public scripts and URLs show it; the docs do not spell it out).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from emulator.resources.model import PROVIDER, _system_data, utc_now

DEFAULT = "workspaceblobstore"


@dataclass
class Datastore:
    workspace_id: str
    name: str
    properties: dict[str, Any]
    # The secret listSecrets hands out (an account key), never in a GET.
    account_key: str | None = None
    sas_token: str | None = None  # a Sas-credential datastore's token
    created: datetime.datetime = field(default_factory=utc_now)

    @property
    def id(self) -> str:
        return f"{self.workspace_id}/datastores/{self.name}"

    @property
    def account(self) -> str:
        return str(self.properties.get("accountName") or "")

    @property
    def container(self) -> str:
        return str(self.properties.get("containerName") or "")

    def rest(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": f"{PROVIDER}/workspaces/datastores",
            "properties": self.properties,
            "systemData": _system_data(self.created, self.created),
        }


def default_blobstore(
    workspace_id: str, workspace_guid: str, account: str, key: str, endpoint: str
) -> Datastore:
    return Datastore(
        workspace_id,
        DEFAULT,
        {
            "datastoreType": "AzureBlob",
            "accountName": account,
            "containerName": f"azureml-blobstore-{workspace_guid}",
            "endpoint": endpoint,
            "protocol": "https",
            "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
            "credentials": {"credentialsType": "AccountKey"},
            "isDefault": True,
            "description": None,
            "tags": {},
            "properties": {},
        },
        account_key=key,
    )
