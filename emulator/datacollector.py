"""Azure ML's data collector, payload logging: what the gateway served to a deployment whose
`dataCollector` enables the `request` or `response` collection, written as JSON lines to the
workspace's storage (Azurite) where Azure writes them.

Sources (Learn, how-to-collect-production-data and reference-yaml-deployment-managed-online):
- "To enable payload logging, in your deployment YAML, use the names `request` and `response`";
  any other collection is custom logging from the scoring script (not done here).
- The path: the collection's data asset's datastore path (azure-ai-ml registers one per
  collection, by default `azureml://datastores/workspaceblobstore/paths/modelDataCollector/
  <endpoint>/<deployment>/<collection>`), then `{yyyy}/{MM}/{dd}/{HH}/{instance_id}.jsonl` for
  the default hourly rolling rate; "If it's day, all data will be collected in blob path
  /yyyy/MM/dd/" (the REST specification's DataCollector.rollingRate).
- Each line: `specversion`, `id`, `source` (the deployment's ARM id), `type`
  (`azureml.inference.request` / `.response`), `datacontenttype`, `time`, `data`, and for a
  request `path` and `method`; `contentrange`, `correlationid`, `xrequestid`.
- `samplingRate`: the share of requests collected (1.0: all).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import random
import re
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulator.resources.model import Deployment
from emulator.resources.store import Store

if TYPE_CHECKING:
    from emulator.storage import Azurite

PAYLOAD = ("request", "response")
DEFAULT_PATH = "modelDataCollector"
_DATASTORE_PATH = re.compile(r"^azureml://(?:.*/)?datastores/(?P<store>[^/]+)/paths/(?P<path>.+)$")
# Folders per rolling rate: hour and day as the REST specification says; minute, month and
# year are the emulator's reading of the same pattern (emulator/README.md, Differences).
_ROLLED = {
    "minute": "%Y/%m/%d/%H/%M",
    "hour": "%Y/%m/%d/%H",
    "day": "%Y/%m/%d",
    "month": "%Y/%m",
    "year": "%Y",
}


@dataclass(frozen=True)
class Exchange:
    """One scoring request a deployment answered, as the gateway saw it."""

    deployment: Deployment
    instance: str
    path: str
    method: str
    request_type: str
    request_body: bytes
    response_type: str
    response_body: bytes
    request_id: str
    correlation_id: str
    at: datetime.datetime


class PayloadLogger:
    def __init__(self, store: Store, azurite: Azurite) -> None:
        self.store = store
        self.azurite = azurite
        self._lock = threading.Lock()

    def collections(self, deployment: Deployment) -> dict[str, Any]:
        """The deployment's enabled payload collections, by name."""
        collector = deployment.properties.get("dataCollector") or {}
        collections = collector.get("collections") or {}
        return {
            name: settings
            for name, settings in collections.items()
            if name.lower() in PAYLOAD
            and isinstance(settings, dict)
            and str(settings.get("dataCollectionMode", "")).lower() == "enabled"
        }

    def log(self, exchange: Exchange) -> None:
        """Writes what `exchange`'s deployment collects of it (in the caller's thread)."""
        deployment = exchange.deployment
        collections = self.collections(deployment)
        if not collections:
            return
        rate = min(float(s.get("samplingRate", 1.0) or 0) for s in collections.values())
        # One draw per request, so that a collected request's response is collected too.
        if random.random() >= rate:  # noqa: S311
            return
        rolling = str(deployment.properties["dataCollector"].get("rollingRate") or "hour")
        folder = exchange.at.strftime(_ROLLED.get(rolling.lower(), _ROLLED["hour"]))
        for name, settings in collections.items():
            where = self._destination(deployment, name, settings)
            if where is None:
                continue
            account, container, prefix = where
            line = json.dumps(self._event(exchange, name.lower()), separators=(",", ":"))
            blob = f"{prefix}/{folder}/{exchange.instance}.jsonl"
            with self._lock:
                self.azurite.append_line(account, container, blob, line)

    def _destination(
        self, deployment: Deployment, name: str, settings: dict[str, Any]
    ) -> tuple[str, str, str] | None:
        """(account, container, blob prefix) of a collection: its data asset's datastore path,
        else Azure's default under workspaceblobstore."""
        workspace = deployment.endpoint.workspace
        uri = None
        data_id = settings.get("dataId")
        if isinstance(data_id, str):
            asset = self.store.assets.by_id(data_id)
            uri = asset.properties.get("dataUri") if asset is not None else None
        match = _DATASTORE_PATH.match(uri) if isinstance(uri, str) else None
        if match is None:
            datastore = self.store.default_datastore(workspace.id)
            path = f"{DEFAULT_PATH}/{deployment.endpoint.name}/{deployment.name}/{name}"
        else:
            datastore = self.store.datastores.get((workspace.key, match["store"].lower()))
            path = match["path"].strip("/")
        if datastore is None or not datastore.account or not datastore.container:
            return None
        return datastore.account, datastore.container, path

    @staticmethod
    def _event(exchange: Exchange, collection: str) -> dict[str, Any]:
        request = collection == "request"
        body = exchange.request_body if request else exchange.response_body
        content_type = exchange.request_type if request else exchange.response_type
        data, shown_type = _data(body, content_type)
        event: dict[str, Any] = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": exchange.deployment.id,
            "type": f"azureml.inference.{collection}",
            "datacontenttype": shown_type,
            "time": exchange.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": data,
        }
        if request:
            event |= {"path": exchange.path, "method": exchange.method}
        size = len(body)
        event |= {
            "contentrange": f"bytes 0-{max(size - 1, 0)}/{size}",
            "correlationid": exchange.correlation_id,
            "xrequestid": exchange.request_id,
        }
        return event


def _data(body: bytes, content_type: str) -> tuple[Any, str]:
    """A JSON body as its value, other text as a string (Azure keeps binary bodies in blobs of
    their own, which the emulator does not: they are left out)."""
    kind = content_type.split(";", 1)[0].strip().lower() or "application/octet-stream"
    with contextlib.suppress(ValueError):
        text = body.decode("utf-8")
        if kind.endswith("json"):
            with contextlib.suppress(ValueError):
                return json.loads(text), "application/json"
        return text, kind
    return None, kind
