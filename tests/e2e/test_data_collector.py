"""deployment.data_collector end to end (issue 31): payload logging on, requests scored, and the
collected JSON lines read back from the workspace's storage with azure-storage-blob, at the path
Learn gives (how-to-collect-production-data: modelDataCollector/<endpoint>/<deployment>/
<collection>/<yyyy>/<MM>/<dd>/<HH>/<instance>.jsonl)."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from azure.storage.blob import ContainerClient

from tests.e2e.conftest import App

COLLECTOR = """\
  data_collector:
    collections:
      request: {enabled: true}
      response:
        enabled: 'True'
        data: {name: answers, path: "azureml://datastores/workspaceblobstore/paths/answers/ep"}
"""


def collected(app: App, prefix: str, wanted: int) -> dict[str, list[dict[str, Any]]]:
    """The JSON lines under `prefix` in workspaceblobstore, by blob name, read as a user reads
    them: with the datastore's SAS, through azure-storage-blob."""
    ml = app.emulator.ml_client()
    store = ml.datastores.get("workspaceblobstore", include_secrets=True)
    container = ContainerClient(
        f"https://{store.account_name}.blob.{store.endpoint}",
        store.container_name,
        credential=store.credentials.sas_token,
    )
    deadline = time.monotonic() + 30
    while True:  # the collector writes after the answer, as Azure's does
        blobs = {
            blob.name: [
                json.loads(line)
                for line in container.download_blob(blob.name).readall().decode().splitlines()
            ]
            for blob in container.list_blobs(name_starts_with=prefix)
        }
        if sum(map(len, blobs.values())) >= wanted or time.monotonic() > deadline:
            return blobs
        time.sleep(0.2)


def test_request_and_response_payloads_are_collected_to_the_workspace_storage(app: App) -> None:
    deploy_file = app.root / "server" / "deploy.yml"
    text = deploy_file.read_text()
    deploy_file.write_text(
        text.replace("  inference_config:\n", COLLECTOR + "  inference_config:\n")
    )
    app.commit("collect the payloads")

    plan = app.run("plan")
    assert plan.returncode == 0, plan.stderr
    assert "data collector: blue collects request, response (100% of requests, by hour)" in (
        plan.stderr
    )
    # a pull request's preview collects only to data assets of its own
    preview = app.run("plan", "--environment", "preview", "--pr", "9")
    assert preview.returncode == 0, preview.stderr
    assert "this run acts for a pull request, so response is collected to Azure's default" in (
        preview.stderr
    )

    outputs = app.root.parent / "collect-outputs.json"
    first = app.deploy("--output-json", str(outputs))
    assert first.returncode == 0, first.stderr
    assert "experimental" not in first.stderr  # azure-ai-ml's note on DataCollector, not ours
    deployed = json.loads(outputs.read_text())
    endpoint = deployed["endpoint-name"]
    run = uuid.uuid4().hex  # the storage keeps its blobs across the tests of one emulator
    sent = [{"rows": [n, n + 1], "run": run} for n in range(3)]
    answers = []
    for payload in sent:
        (app.root / "server" / "row.json").write_text(json.dumps(payload))
        answer = app.score(deployed, request="server/row.json")
        assert answer.status_code == 200
        answers.append(answer.json())

    # azure-ai-ml registered each collection's data asset where the data goes
    ml = app.emulator.ml_client()
    asset = ml.data.get(f"{endpoint}-blue-request", "1")
    assert asset.path.endswith(f"/paths/modelDataCollector/{endpoint}/blue/request")

    assert ml.data.get("answers", "1").path.endswith("/paths/answers/ep")

    base = f"modelDataCollector/{endpoint}/blue/request"
    requests = collected(app, f"{base}/", wanted=len(sent) + 1)  # + the smoke test
    responses = collected(app, "answers/ep/", wanted=len(sent) + 1)  # its data.path
    rolled = re.compile(rf"({base}|answers/ep)/\d{{4}}/\d\d/\d\d/\d\d/[^/]+\.jsonl")
    assert all(rolled.fullmatch(name) for name in [*requests, *responses]), [*requests]
    asked = [event for events in requests.values() for event in events]
    said = {event["correlationid"]: event for events in responses.values() for event in events}
    mine = [event for event in asked if event["data"] in sent]
    assert [event["data"] for event in mine] == sent
    for event, answer in zip(mine, answers, strict=True):
        assert event["type"] == "azureml.inference.request"
        assert (event["path"], event["method"]) == ("/score", "POST")
        assert event["source"].endswith(f"/onlineEndpoints/{endpoint}/deployments/blue")
        assert event["datacontenttype"] == "application/json"
        response = said[event["correlationid"]]
        assert response["type"] == "azureml.inference.response"
        assert response["data"] == answer
