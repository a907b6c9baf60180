"""What an environment version builds from, and the content hash Azure ML names its image by.

Azure ML names the image it builds for an environment `azureml/azureml_<hash>` in the
workspace's registry, tag `latest` (how-to-troubleshoot-online-endpoints.md, "Unable to
download user container image":
`testacr.azurecr.io/azureml/azureml_92a029f831ce58d2ed011c3c42d35acb:latest`), and its conda
environment `/azureml-envs/azureml_<hash>` (the Dockerfile Azure ML generates,
azure.github.io/azureml-cheatsheets "Azure ML Containers"). The hash is 32 hex digits of the
definition's content; Azure does not document how it is computed, so the emulator's is its own:
the same definition always gets the same name, another definition another.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

# Changes with the way the emulator builds, so that an image built the old way is not reused.
RECIPE = "2"


class DefinitionInvalid(ValueError):
    """An environment that names neither an image nor a build context, or both."""


@dataclass(frozen=True)
class EnvironmentDefinition:
    """An environment version's build inputs: `image` with an optional `conda_file` (the YAML
    text), or `context` (a local folder holding the build context, already downloaded from
    storage) with `dockerfile_path` relative to it, as the REST API's `build.dockerfilePath`."""

    image: str | None = None
    conda_file: str | None = None
    context: Path | None = None
    dockerfile_path: str = "Dockerfile"

    def __post_init__(self) -> None:
        if (self.image is None) == (self.context is None):
            raise DefinitionInvalid("an environment has either an image or a build context")
        if self.context is not None and self.conda_file is not None:
            raise DefinitionInvalid("a build context environment takes no conda file")

    @property
    def needs_build(self) -> bool:
        """An image alone is used as it is; a conda file or a build context is built."""
        return self.context is not None or self.conda_file is not None

    def content_hash(self) -> str:
        parts: dict[str, object] = {"recipe": RECIPE}
        if self.image is not None:
            parts.update(image=self.image, conda_file=self.conda_file)
        if self.context is not None:
            parts.update(context=_tree_hash(self.context), dockerfile=self.dockerfile_path)
        canonical = json.dumps(parts, sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()[:32]

    def image_name(self) -> str:
        """The repository Azure ML builds this environment into: `azureml/azureml_<hash>`."""
        return f"azureml/azureml_{self.content_hash()}"


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
