"""Where an asset version's files are in storage, from the URI azure-ai-ml registered."""

from __future__ import annotations

import pytest

from emulator.asset_files import AssetFilesError, BlobLocation, locate, uri_of
from emulator.resources.assets import AssetVersion
from emulator.resources.datastores import default_blobstore
from emulator.resources.model import Workspace
from emulator.resources.store import Store


def _store() -> Store:
    store = Store()
    workspace = Workspace("sub", "rg", "ws", "eastus", workspace_id="guid")
    workspace.blobstore = default_blobstore(workspace.id, "guid", "acct", "key", "x")
    store.add_workspace(workspace)
    return store


def test_a_datastore_path_names_the_datastore_container() -> None:
    uri = (
        "azureml://subscriptions/SUB/resourcegroups/rg/workspaces/ws/datastores/"
        "workspaceblobstore/paths/LocalUpload/abc/model"
    )
    assert locate(_store(), uri) == BlobLocation(
        "acct", "azureml-blobstore-guid", "LocalUpload/abc/model"
    )


def test_a_blob_url_names_account_and_container() -> None:
    uri = "https://regacct.blob.storage.localhost:4321/reg-assets/0f1e/src"
    assert locate(_store(), uri) == BlobLocation("regacct", "reg-assets", "0f1e/src")


def test_unknown_datastores_and_other_uris_are_refused() -> None:
    with pytest.raises(AssetFilesError):
        locate(
            _store(),
            "azureml://subscriptions/s/resourcegroups/g/workspaces/w/datastores/no/paths/x",
        )
    with pytest.raises(AssetFilesError):
        locate(_store(), "file:///etc/passwd")


def test_the_uri_of_each_kind() -> None:
    def version(kind: str, **properties: object) -> AssetVersion:
        return AssetVersion("/ws", kind, "n", "1", dict(properties))

    assert uri_of(version("models", modelUri="m")) == "m"
    assert uri_of(version("codes", codeUri="c")) == "c"
    assert uri_of(version("environments", build={"contextUri": "e"})) == "e"
    assert uri_of(version("environments", image="i")) == ""
