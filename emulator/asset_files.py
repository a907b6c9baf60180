"""An asset version's files, out of storage: what a deployment mounts.

Where a version's files are is its URI: `modelUri` (models), `codeUri` (codes),
`build.contextUri` (environments built from a context). Two forms reach here, both as
azure-ai-ml writes them:

- `azureml://subscriptions/{s}/resourcegroups/{g}/workspaces/{w}/datastores/{d}/paths/{path}`
  (a local folder uploaded to the workspace's datastore: `{path}` is
  `LocalUpload/<content hash>/<folder or file name>`), resolved through the datastore's account
  and container;
- `https://{account}.blob.<storage suffix>[:port]/{container}/{path}` (uploads through
  startPendingUpload or a registry's temporary data reference: `{path}` is
  `<uuid>/<folder or file name>`).

`{path}` names a blob (a single file) or a prefix (a folder). `AssetFiles.files(id)` downloads
it once into `<state dir>/assets/<hash of the id>/<last segment of path>` — versions are
immutable, so the copy stays valid — and returns that directory: mount it as the model or
code directory (Azure sets AZUREML_MODEL_DIR to the directory that holds the model's folder).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from azure.storage.blob import ContainerClient

from emulator.resources.assets import AssetVersion
from emulator.resources.store import Store
from emulator.storage import Azurite

_DATASTORE_URI = re.compile(
    r"^azureml://subscriptions/(?P<s>[^/]+)/resourcegroups/(?P<g>[^/]+)/workspaces/(?P<w>[^/]+)"
    r"/datastores/(?P<d>[^/]+)/paths/(?P<path>.+)$",
    re.IGNORECASE,
)
_BLOB_URI = re.compile(
    r"^https://(?P<account>[a-z0-9]+)\.blob\.[^/]+/(?P<container>[^/?]+)/(?P<path>[^?]+)",
    re.IGNORECASE,
)


class AssetFilesError(LookupError):
    """The asset, its URI or its files could not be found."""


@dataclass(frozen=True)
class BlobLocation:
    account: str
    container: str
    path: str  # a blob's name, or a prefix of blob names (a folder)


def uri_of(version: AssetVersion) -> str:
    properties = version.properties
    if version.kind == "models":
        return str(properties.get("modelUri") or "")
    if version.kind == "codes":
        return str(properties.get("codeUri") or "")
    build = properties.get("build") or {}
    return str(build.get("contextUri") or "") if isinstance(build, dict) else ""


def locate(store: Store, uri: str) -> BlobLocation:
    found = _DATASTORE_URI.match(uri)
    if found is not None:
        workspace = (found["s"].lower(), found["g"].lower(), found["w"].lower())
        datastore = store.datastores.get((workspace, found["d"].lower()))
        if datastore is None:
            raise AssetFilesError(f"no datastore {found['d']} for {uri}")
        return BlobLocation(datastore.account, datastore.container, found["path"].strip("/"))
    found = _BLOB_URI.match(uri)
    if found is not None:
        return BlobLocation(found["account"].lower(), found["container"], found["path"].strip("/"))
    raise AssetFilesError(f"not a storage URI: {uri!r}")


def download(
    location: BlobLocation, destination: Path, account_url: str, key: str, ca_cert: str
) -> Path:
    """The blob, or every blob under the prefix, into `destination/<last segment>`; returns
    `destination`."""
    client = ContainerClient(
        account_url,
        location.container,
        credential={"account_name": location.account, "account_key": key},
        connection_verify=ca_cert,
    )
    name = PurePosixPath(location.path).name
    found = False
    for blob in client.list_blobs(name_starts_with=location.path):
        if blob.name == location.path:
            target = destination / name
        elif blob.name.startswith(location.path + "/"):
            target = destination / name / blob.name[len(location.path) + 1 :]
        else:
            continue  # a sibling sharing the prefix (model vs model2)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as handle:
            client.download_blob(blob.name).readinto(handle)
        found = True
    if not found:
        raise AssetFilesError(f"no blobs at {location.container}/{location.path}")
    return destination


class AssetFiles:
    """The emulator's own reader of asset files (it holds every account's key)."""

    def __init__(self, store: Store, azurite: Azurite, ca_cert: Path, root: Path) -> None:
        self.store = store
        self.azurite = azurite
        self.ca_cert = ca_cert
        self.root = root

    def files(self, asset_id: str) -> Path:
        """The directory holding the version's folder or file (downloaded on first use)."""
        version = self.store.assets.by_id(asset_id)
        if version is None:
            raise AssetFilesError(f"no asset version {asset_id}")
        location = locate(self.store, uri_of(version))
        account = self.azurite.accounts.get(location.account)
        if account is None:
            raise AssetFilesError(f"no storage account {location.account}")
        target = self.root / hashlib.sha256(version.id.lower().encode()).hexdigest()[:24]
        if target.exists():
            return target
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".download-"))
        # mkdtemp makes it its owner's alone; the container's user (dockeruser in Azure ML's
        # images) reads the mounted model and code, as it does from Azure's mounts.
        staging.chmod(0o755)
        try:
            download(
                location,
                staging,
                self.azurite.account_url(location.account),
                account.key,
                str(self.ca_cert),
            )
            try:
                staging.rename(target)
            except OSError:
                if not target.exists():
                    raise
                shutil.rmtree(staging, ignore_errors=True)  # another call got there first
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target
