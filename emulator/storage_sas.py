"""Shared access signatures for the emulator's storage accounts, as the services that hand them
out (datastore listSecrets, startPendingUpload, a registry's temporary data references) sign
them: container-scoped, with the account key, expiring."""

from __future__ import annotations

import datetime
import uuid

from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from emulator.ledger import LEDGER
from emulator.resources.model import utc_now
from emulator.storage import SUFFIX


def container_sas(account: str, container: str, key: str, hours: float = 1) -> str:
    token: str = generate_container_sas(
        account,
        container,
        account_key=key,
        permission=ContainerSasPermissions(
            read=True, write=True, list=True, add=True, create=True, delete=True
        ),
        expiry=utc_now() + datetime.timedelta(hours=hours),
    )
    LEDGER.record("storage-sas", token)
    return token


def container_url(account: str, container: str, port: int | None) -> str:
    """The container's URL as the SDK reaches it (through the storage proxy)."""
    return f"https://{account}.blob.{SUFFIX}:{port}/{container}"


def blob_reference(
    account: str, container: str, key: str, port: int | None, account_arm_id: str
) -> dict[str, object]:
    """BlobReferenceForConsumptionDto: where to upload, and the SAS to do it with — a new
    place on every call ("a new SAS uri and blob uri every time", azure-ai-ml's
    `get_storage_info_for_non_registry_asset`). azure-ai-ml uploads to the root of what it takes
    for a container (`ContainerClient.from_container_url`, whose last path segment is the
    container), so a unique last segment under the real container keeps uploads apart: the
    files land in `<container>/<uuid>/<folder name>/…`, and the SAS signs the real container."""
    url = f"{container_url(account, container, port)}/{uuid.uuid4().hex}"
    return {
        "blobUri": url,
        "storageAccountArmId": account_arm_id,
        "credential": {
            "credentialType": "SAS",
            "sasUri": f"{url}?{container_sas(account, container, key)}",
        },
    }
