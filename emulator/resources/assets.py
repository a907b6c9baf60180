"""Azure ML's versioned assets — models, codes, environments — of a workspace or a registry:
containers (`{owner}/models/{name}`) holding immutable versions (`…/versions/{version}`).

Shapes from the REST specification (specification/machinelearningservices/resource-manager/
Microsoft.MachineLearningServices/…/mfe.json: ModelContainer/ModelVersion, CodeContainer/
CodeVersion, EnvironmentContainer/EnvironmentVersion; `latestVersion` and `nextVersion` are the
container's read-only properties, `isArchived` and `isAnonymous` the version's).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from emulator.resources.model import PROVIDER, _system_data, utc_now

# `data`: the data assets azure-ai-ml registers for a deployment's data collector (its
# OnlineDeploymentOperations._register_collection_data_assets), `{ws}/data/{name}/versions/{v}`.
KINDS = ("models", "codes", "environments", "data")
# What a version's content is: changing any of these on an existing version is refused (asset
# versions are immutable); description, tags, stage and isArchived may change.
CONTENT = {
    "models": ("modelUri", "modelType", "flavors"),
    "codes": ("codeUri",),
    "environments": ("image", "condaFile", "build", "osType", "inferenceConfig"),
    "data": ("dataUri", "dataType"),
}
# The service's message for a changed path, as azure-ai-ml matches it (ASSET_PATH_ERROR in
# azure/ai/ml/_artifacts/_constants.py: "(UserError) Asset paths cannot be updated.").
PATH_FIELDS = {"modelUri", "codeUri", "dataUri"}
SERVER_DEFAULTS: dict[str, dict[str, Any]] = {
    "models": {"modelType": "custom_model", "flavors": {}},
    "codes": {},
    "data": {},
    "environments": {
        "osType": "Linux",
        "environmentType": "UserCreated",
        "autoRebuild": "Disabled",
    },
}


@dataclass
class AssetVersion:
    owner_id: str  # the workspace's or the registry's ARM id
    kind: str  # models | codes | environments
    name: str
    version: str
    properties: dict[str, Any]
    created: datetime.datetime = field(default_factory=utc_now)
    modified: datetime.datetime = field(default_factory=utc_now)

    @property
    def id(self) -> str:
        return f"{_prefix(self.owner_id)}/{self.kind}/{self.name}/versions/{self.version}"

    @property
    def image(self) -> str:
        return str(self.properties.get("image") or "")

    @property
    def archived(self) -> bool:
        return bool(self.properties.get("isArchived"))

    def rest(self) -> dict[str, Any]:
        owner = "registries" if "/registries/" in self.owner_id.lower() else "workspaces"
        return {
            "id": self.id,
            "name": self.version,
            "type": f"{PROVIDER}/{owner}/{self.kind}/versions",
            "properties": {**self.properties, "provisioningState": "Succeeded"},
            "systemData": _system_data(self.created, self.modified),
        }


@dataclass
class AssetContainer:
    owner_id: str
    kind: str
    name: str
    properties: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, AssetVersion] = field(default_factory=dict)  # by lower-cased version
    created: datetime.datetime = field(default_factory=utc_now)

    @property
    def id(self) -> str:
        return f"{_prefix(self.owner_id)}/{self.kind}/{self.name}"

    def latest(self) -> AssetVersion | None:
        """The version created last (what the `latest` label and `@latest` name)."""
        live = [v for v in self.versions.values() if not v.archived] or list(self.versions.values())
        return max(live, key=lambda v: v.created, default=None)

    def next_version(self) -> str:
        """One more than the greatest integer version (the SDK's auto-increment reads it)."""
        numbers = [int(v.version) for v in self.versions.values() if v.version.isdigit()]
        return str(max(numbers, default=0) + 1)

    def rest(self) -> dict[str, Any]:
        owner = "registries" if "/registries/" in self.owner_id.lower() else "workspaces"
        latest = self.latest()
        properties = {
            "description": None,
            "tags": {},
            "properties": {},
            "isArchived": False,
            **self.properties,
            "latestVersion": latest.version if latest else None,
            "nextVersion": self.next_version(),
            "provisioningState": "Succeeded",
        }
        return {
            "id": self.id,
            "name": self.name,
            "type": f"{PROVIDER}/{owner}/{self.kind}",
            "properties": properties,
            "systemData": _system_data(self.created, self.created),
        }


class ChangedContent(ValueError):
    """A version exists with other content."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(", ".join(fields))
        self.fields = fields


@dataclass
class AssetStore:
    containers: dict[tuple[str, str, str], AssetContainer] = field(default_factory=dict)

    def container(self, owner_id: str, kind: str, name: str) -> AssetContainer | None:
        return self.containers.get((owner_id.lower(), kind, name.lower()))

    def containers_of(self, owner_id: str, kind: str) -> list[AssetContainer]:
        return [
            c
            for (owner, k, _), c in self.containers.items()
            if owner == owner_id.lower() and k == kind
        ]

    def version(self, owner_id: str, kind: str, name: str, version: str) -> AssetVersion | None:
        container = self.container(owner_id, kind, name)
        return container.versions.get(version.lower()) if container else None

    def put_container(
        self, owner_id: str, kind: str, name: str, properties: dict[str, Any]
    ) -> tuple[AssetContainer, bool]:
        container = self.container(owner_id, kind, name)
        created = container is None
        if container is None:
            container = AssetContainer(owner_id, kind, name)
            self.containers[(owner_id.lower(), kind, name.lower())] = container
        container.properties = {
            key: properties.get(key)
            for key in ("description", "tags", "properties", "isArchived")
            if key in properties
        }
        return container, created

    def put_version(
        self, owner_id: str, kind: str, name: str, version: str, properties: dict[str, Any]
    ) -> tuple[AssetVersion, bool]:
        """Register a version, or update what may change of an existing one. Raises
        ChangedContent when the content differs from the registered version's."""
        wanted = {**SERVER_DEFAULTS[kind], **properties}
        wanted.pop("provisioningState", None)
        wanted.setdefault("isArchived", False)
        wanted.setdefault("isAnonymous", False)
        existing = self.version(owner_id, kind, name, version)
        if existing is not None:
            changed = [
                key
                for key in CONTENT[kind]
                if _normal(existing.properties.get(key)) != _normal(wanted.get(key))
            ]
            if changed:
                raise ChangedContent(changed)
            existing.properties = {**existing.properties, **wanted}
            existing.modified = utc_now()
            return existing, False
        container = self.container(owner_id, kind, name)
        if container is None:
            container, _ = self.put_container(owner_id, kind, name, {})
        asset = AssetVersion(owner_id, kind, container.name, version, wanted)
        container.versions[version.lower()] = asset
        return asset, True

    def by_id(self, asset_id: str) -> AssetVersion | None:
        """The version an ARM id (`{owner}/{kind}/{name}/versions/{version}`) or an
        `azureml://registries/{r}/{kind}/{name}/versions/{version}` names, or `labels/latest`
        in place of `versions/{version}`."""
        parts = asset_id.strip("/").split("/")
        by = parts[-2].lower() if len(parts) >= 4 else ""
        if by not in ("versions", "labels") or parts[-4].lower() not in KINDS:
            return None
        kind, name, version = parts[-4].lower(), parts[-3], parts[-1]
        for (owner, k, n), container in self.containers.items():
            if k != kind or n != name.lower():
                continue
            if asset_id.lower().startswith("azureml://registries/"):
                registry = parts[3].lower()
                if not owner.endswith(f"/registries/{registry}"):
                    continue
            elif not asset_id.lower().startswith(owner):
                continue
            if by == "labels":
                # `.../labels/latest`, as deployments name a curated environment and the
                # service resolves it (the SDK sends it as it is); no other label is kept here.
                return container.latest() if version.lower() == "latest" else None
            return container.versions.get(version.lower())
        return None


def _prefix(owner_id: str) -> str:
    """A registry's assets are named `azureml://registries/{registry}/…` (the ids of the
    registry recordings of azure-sdk-for-python), a workspace's by their ARM id."""
    if "/registries/" in owner_id.lower():
        return "azureml://registries/" + owner_id.rsplit("/", 1)[-1]
    return owner_id


def _normal(value: Any) -> Any:
    """Compare content as the service stores it: a missing value and an empty one alike."""
    return value if value not in (None, "", {}, []) else None
