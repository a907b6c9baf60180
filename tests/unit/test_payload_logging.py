"""The emulator's payload logging (emulator/datacollector.py): which blob, which lines."""

from __future__ import annotations

import datetime
import json
from typing import Any, cast

from emulator.datacollector import Exchange, PayloadLogger
from emulator.resources.datastores import Datastore, default_blobstore
from emulator.resources.model import Deployment, Endpoint, Workspace
from emulator.resources.store import Store
from emulator.storage import Azurite

AT = datetime.datetime(2026, 5, 4, 3, 2, 1, tzinfo=datetime.UTC)


class Blobs:
    """What the logger appends, by (account, container, blob)."""

    def __init__(self) -> None:
        self.lines: dict[tuple[str, str, str], list[dict[str, Any]]] = {}

    def append_line(self, account: str, container: str, path: str, line: str) -> None:
        self.lines.setdefault((account, container, path), []).append(json.loads(line))


def workspace_store() -> tuple[Store, Workspace]:
    """A workspace with workspaceblobstore and a second datastore, `archive`."""
    store = Store()
    workspace = Workspace("sub", "rg", "ws", "eastus", workspace_id="guid")
    workspace.blobstore = default_blobstore(workspace.id, "guid", "acct", "key", "x")
    store.add_workspace(workspace)
    store.datastores[(workspace.key, "archive")] = Datastore(
        workspace.id, "archive", {"accountName": "acct", "containerName": "arch"}
    )
    return store, workspace


def logged(
    collector: dict[str, Any],
    request: bytes = b'{"x": 1}',
    where: tuple[Store, Workspace] | None = None,
) -> Blobs:
    """What one exchange of deployment ep/blue, collecting with `collector`, writes."""
    store, workspace = where or workspace_store()
    endpoint = Endpoint(workspace, "ep", "eastus", "Key", None, {}, {}, {}, {}, {}, "https://x")
    deployment = Deployment(endpoint, "blue", "eastus", {"dataCollector": collector}, {}, {})
    blobs = Blobs()
    PayloadLogger(store, cast(Azurite, blobs)).log(
        Exchange(
            deployment=deployment,
            instance="blue-0",
            path="/score",
            method="POST",
            request_type="text/plain",
            request_body=request,
            response_type="application/json",
            response_body=b'{"y": 2}',
            request_id="r-1",
            correlation_id="c-1",
            at=AT,
        )
    )
    return blobs


def test_each_enabled_payload_collection_gets_a_line_where_learn_says() -> None:
    collections = {
        "request": {"dataCollectionMode": "Enabled"},
        "response": {"dataCollectionMode": "Enabled"},
        "model_inputs": {"dataCollectionMode": "Enabled"},  # the scoring script's, not ours
    }
    blobs = logged({"collections": collections}, request=b"plain words")
    base = "modelDataCollector/ep/blue"
    assert set(blobs.lines) == {
        ("acct", "azureml-blobstore-guid", f"{base}/request/2026/05/04/03/blue-0.jsonl"),
        ("acct", "azureml-blobstore-guid", f"{base}/response/2026/05/04/03/blue-0.jsonl"),
    }
    [[request], [response]] = [blobs.lines[key] for key in sorted(blobs.lines)]
    assert (request["data"], request["datacontenttype"]) == ("plain words", "text/plain")
    assert request["contentrange"] == "bytes 0-10/11"
    assert (response["data"], response["type"]) == ({"y": 2}, "azureml.inference.response")
    assert "path" not in response and response["correlationid"] == "c-1"
    assert response["time"] == "2026-05-04T03:02:01Z"


def test_a_data_path_a_rolling_rate_and_sampling_are_honoured() -> None:
    response = {"dataCollectionMode": "Enabled"}
    daily = logged({"collections": {"response": response}, "rollingRate": "Day"})
    base = "modelDataCollector/ep/blue/response"
    assert list(daily.lines) == [
        ("acct", "azureml-blobstore-guid", f"{base}/2026/05/04/blue-0.jsonl")
    ]
    # a collection whose data asset names another datastore path is written there
    store, workspace = where = workspace_store()
    path = "azureml://datastores/archive/paths/answers/blue"
    asset, _ = store.assets.put_version(workspace.id, "data", "answers", "1", {"dataUri": path})
    moved = logged({"collections": {"response": {**response, "dataId": asset.id}}}, where=where)
    assert list(moved.lines) == [("acct", "arch", "answers/blue/2026/05/04/03/blue-0.jsonl")]
    # sampled out: nothing
    none = {"request": {"dataCollectionMode": "Enabled", "samplingRate": 0.0}}
    assert logged({"collections": none}).lines == {}
