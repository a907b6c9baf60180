"""Azure ML's assets through azure-ai-ml: models, code and environments, in the workspace and in
Azure ML registries. Reads find exact versions (a label resolved: `get(name, label=...)`);
writes register a version of staged local files (the SDK uploads them to the workspace's
default datastore, then creates the version)."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError

from deployer.azure.entities import inference_config
from deployer.errors import AzureError
from deployer.spec.model import InferenceConfig
from deployer.spec.references import AssetReference

if TYPE_CHECKING:
    from deployer.azure.client import AzureML

ASSET_WORDS = {"models": "model", "environments": "environment", "codes": "code"}


class AssetNotFound(AzureError):
    """A referenced model or environment (version or label) that Azure does not have."""


class AzureAssets:
    def __init__(self, azure: AzureML, client_id: str | None = None) -> None:
        self.azure = azure
        self.client_id = client_id  # the app registration this run signs in as, for hints
        self._registries: dict[str, Any] = {}
        # environments read by exact(): the image each runs unchanged (no conda file, no build)
        self.images_as_is: dict[str, str] = {}

    def exact(self, reference: AssetReference) -> AssetReference:
        """`reference` at an exact version: a label resolved, an exact version checked."""
        operations = self._operations(reference)
        word = ASSET_WORDS[reference.kind]
        where = f"registry {reference.registry}" if reference.registry else "the workspace"
        with self.azure.errors(f"reading {word} {reference}"):
            try:
                if reference.exact:
                    found = operations.get(reference.name, version=reference.version)
                else:
                    found = operations.get(reference.name, label=reference.label)
            except ResourceNotFoundError as exc:
                raise AssetNotFound(
                    f"{word} {reference} was not found in {where}",
                    code="ResourceNotFound",
                    status=404,
                    hint=_not_found_hint(reference, word),
                ) from exc
        resolved = reference.at(str(found.version))
        if reference.kind == "environments" and _as_is(found):
            self.images_as_is[str(resolved)] = str(found.image)
        return resolved

    def tags_of(self, kind: str, name: str, version: str) -> Mapping[str, str] | None:
        """The tags of this version of a workspace model, code or environment; None when
        the workspace does not have it."""
        operations = self._workspace_operations(kind)
        with self.azure.errors(f"reading {ASSET_WORDS[kind]} {name}:{version}"):
            try:
                found = operations.get(name=name, version=version)
            except ResourceNotFoundError:
                return None
        return dict(getattr(found, "tags", None) or {})

    def register_model(
        self, name: str, version: str, path: Path, model_type: str, tags: Mapping[str, str]
    ) -> str:
        from azure.ai.ml.entities import Model

        model = Model(name=name, version=version, path=str(path), type=model_type, tags=dict(tags))
        with self.azure.errors(f"registering model {name}:{version}"), _quiet_upload():
            self.azure.client.models.create_or_update(model)
        return f"azureml:{name}:{version}"

    def register_code(self, name: str, version: str, path: Path, tags: Mapping[str, str]) -> str:
        from azure.ai.ml.entities._assets import Code

        # azure-ai-ml exposes code assets only as MLClient._code (CodeOperations).
        code = Code(name=name, version=version, path=str(path), tags=dict(tags))
        with self.azure.errors(f"registering code {name}:{version}"), _quiet_upload():
            self.azure.client._code.create_or_update(code)
        return f"azureml:{name}:{version}"

    def register_environment(
        self,
        name: str,
        version: str,
        *,
        tags: Mapping[str, str],
        image: str | None = None,
        conda_file: Path | None = None,
        build_context: Path | None = None,
        dockerfile_path: str = "Dockerfile",
        routes: InferenceConfig | None = None,
    ) -> str:
        from azure.ai.ml.entities import BuildContext, Environment

        environment = Environment(
            name=name,
            version=version,
            tags=dict(tags),
            image=image,
            conda_file=str(conda_file) if conda_file is not None else None,
            build=BuildContext(path=str(build_context), dockerfile_path=dockerfile_path)
            if build_context is not None
            else None,
            # a server of its own answers on its own routes; None: Azure ML's inference server
            inference_config=inference_config(routes) if routes is not None else None,
        )
        with self.azure.errors(f"registering environment {name}:{version}"), _quiet_upload():
            self.azure.client.environments.create_or_update(environment)
        return f"azureml:{name}:{version}"

    def versions(self, kind: str, name: str) -> list[tuple[str, Mapping[str, str]]]:
        """A workspace model's or environment's versions and their tags ([] for none)."""
        with self.azure.errors(f"listing {ASSET_WORDS[kind]} {name}"):
            try:
                found = list(getattr(self.azure.client, kind).list(name=name))
            except ResourceNotFoundError:
                return []
        return [(str(item.version), dict(item.tags or {})) for item in found]

    def archive(self, kind: str, name: str, version: str) -> None:
        with self.azure.errors(f"archiving {ASSET_WORDS[kind]} {name}:{version}"):
            getattr(self.azure.client, kind).archive(name=name, version=version)

    def _operations(self, reference: AssetReference) -> Any:
        if reference.registry is None:
            return self._workspace_operations(reference.kind)
        client = self._registries.get(reference.registry)
        if client is None:
            try:
                client = self.azure.registry_client(reference.registry)
            except AzureError as refused:
                if refused.status != 403:
                    raise
                raise AzureError(
                    refused.message,
                    code=refused.code,
                    status=403,
                    hint=registry_role_hint(reference.registry, self.client_id),
                ) from refused
            self._registries[reference.registry] = client
        return getattr(client, reference.kind)

    def _workspace_operations(self, kind: str) -> Any:
        client = self.azure.client
        return client._code if kind == "codes" else getattr(client, kind)


# Loggers whose warnings during an upload speak to a notebook user, not to the action's:
# azure-ai-ml's "exceeds 100 MB, use AzCopy" (with a staging path and a literal "\n\n"), and
# urllib3's "Connection pool is full" (the SDK uploads 16 blocks at once over azure-core's 10
# pooled connections; the extra ones are reopened, nothing is lost).
_UPLOAD_LOGGERS = ("azure.ai.ml._artifacts._blob_storage_helper", "urllib3.connectionpool")


@contextlib.contextmanager
def _quiet_upload() -> Iterator[None]:
    """azure-ai-ml's blob upload prints a colour reset and a blank line to stderr after every
    upload, progress bars off or not (_blob_storage_helper.py), and warns as above; the action
    says what it uploads itself."""
    loggers = [logging.getLogger(name) for name in _UPLOAD_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def registry_role_hint(registry: str, client_id: str | None) -> str:
    """What to grant so that this run (and Azure ML, deploying as the workspace) may read a
    registry's assets: the built-in AzureML Registry User role on the registry
    (how-to-manage-registries.md, "Choose Azure AD identity roles")."""
    assignee = client_id or "<the app registration's client id>"
    return (
        f"grant the AzureML Registry User role on registry {registry} to the identity this run "
        f"signs in as: az role assignment create --role 'AzureML Registry User' --assignee "
        f"{assignee} --scope $(az ml registry show --name {registry} --query id -o tsv)"
    )


def _as_is(environment: Any) -> bool:
    image = getattr(environment, "image", None)
    return (
        bool(image)
        and not getattr(environment, "conda_file", None)
        and not (getattr(environment, "build", None))
    )


def _not_found_hint(reference: AssetReference, word: str) -> str:
    if reference.registry is not None:
        return (
            f"check the {word}'s name and version in registry {reference.registry}; the "
            "run's identity needs the AzureML Registry User role on the registry to read it"
        )
    what = "version" if reference.exact else f"label {reference.label!r}"
    return (
        f"check the {word}'s name and {what} in the workspace "
        f"(az ml {word} list --name {reference.name})"
    )
