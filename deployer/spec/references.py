"""References to registered Azure ML assets, as the Azure ML CLI v2 YAML writes them.

`azureml:<name>:<version>` and `azureml:<name>@<label>` name a workspace's asset;
`azureml://registries/<registry>/<kind>/<name>/versions/<version>` (or `/labels/<label>`) a
registry's (azure-ai-ml: `ARM_ID_PREFIX`, `REGISTRY_VERSION_PATTERN`, `parse_name_label`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

AssetKind = Literal["models", "environments"]

# The syntax checked offline; whether the name exists is Azure's to answer.
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}"
_WORKSPACE = re.compile(
    rf"^azureml:(?P<name>{_NAME})(?::(?P<version>{_NAME})|@(?P<label>{_NAME}))$"
)
_REGISTRY = re.compile(
    rf"^azureml://registries/(?P<registry>{_NAME})/(?P<kind>models|environments)/"
    rf"(?P<name>{_NAME})/(?:versions/(?P<version>{_NAME})|labels/(?P<label>{_NAME}))$"
)


class ReferenceSyntaxError(ValueError):
    """A reference the action cannot read; its message says what the forms are."""


@dataclass(frozen=True)
class AssetReference:
    """A registered asset, by an exact version or by a label still to be resolved."""

    kind: AssetKind
    name: str
    version: str | None = None
    label: str | None = None
    registry: str | None = None

    @property
    def exact(self) -> bool:
        return self.version is not None

    def at(self, version: str) -> AssetReference:
        return AssetReference(self.kind, self.name, version, None, self.registry)

    def __str__(self) -> str:
        if self.registry is not None:
            tail = f"versions/{self.version}" if self.exact else f"labels/{self.label}"
            return f"azureml://registries/{self.registry}/{self.kind}/{self.name}/{tail}"
        return (
            f"azureml:{self.name}:{self.version}"
            if self.exact
            else f"azureml:{self.name}@{self.label}"
        )


def forms(kind: AssetKind) -> str:
    return (
        f"azureml:<name>:<version>, azureml:<name>@<label> (e.g. @latest), or "
        f"azureml://registries/<registry>/{kind}/<name>/versions/<version> (or /labels/<label>)"
    )


def parse_reference(text: str, kind: AssetKind) -> AssetReference:
    workspace = _WORKSPACE.match(text)
    if workspace is not None:
        return AssetReference(
            kind, workspace["name"], workspace["version"], workspace["label"], None
        )
    registry = _REGISTRY.match(text)
    if registry is not None and registry["kind"] == kind:
        return AssetReference(
            kind, registry["name"], registry["version"], registry["label"], registry["registry"]
        )
    if registry is not None:
        raise ReferenceSyntaxError(
            f"names registry {registry['kind']}, not {kind}: write "
            f"azureml://registries/{registry['registry']}/{kind}/{registry['name']}/..."
        )
    raise ReferenceSyntaxError(f"is not a reference the action reads; write {forms(kind)}")
