"""An image reference as Docker reads it: which registry, which repository, which tag or digest.

Docker's rules (distribution/reference, normalize.go, the parser `docker pull` uses): the first
component of a name is a registry only if it holds a '.' or a ':' or is `localhost`; otherwise the
image is on Docker Hub, whose canonical domain is `docker.io` (the legacy `index.docker.io` is
the same registry), and a one-component Hub name is an official image under `library/`
(`ubuntu:22.04` is `docker.io/library/ubuntu:22.04`). Hub's registry API itself answers at
`registry-1.docker.io` (normalize.go: "the actual domain of Docker Hub's registry is
registry-1.docker.io"), which names the same images.
"""

from __future__ import annotations

from dataclasses import dataclass

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_NAMES = {DOCKER_HUB, "index.docker.io", DOCKER_HUB_API}


@dataclass(frozen=True)
class ImageName:
    registry: str  # as Docker names it: docker.io for Hub, else the host[:port] given
    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """What the registry's manifest API takes: the digest if given, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def api_host(self) -> str:
        """Where the registry's API answers."""
        return api_host(self.registry)

    def pinned(self, digest: str) -> str:
        return f"{self.registry}/{self.repository}@{digest}"

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.registry}/{self.repository}{tag}{digest}"


def has_registry(first: str) -> bool:
    """Whether a name's first component is a registry host (Docker's rule)."""
    return "." in first or ":" in first or first == "localhost"


def is_docker_hub(registry: str) -> bool:
    return registry.lower() in _HUB_NAMES


def api_host(registry: str) -> str:
    return DOCKER_HUB_API if is_docker_hub(registry) else registry


def parse_image(text: str) -> ImageName:
    """`text` (a reference the deploy file's pattern accepts) by Docker's rules."""
    first, slash, rest = text.partition("/")
    if slash and has_registry(first):
        registry, remainder = first, rest
    else:
        registry, remainder = DOCKER_HUB, text
    name, _, digest = remainder.partition("@")
    repository, _, tag = name.partition(":")
    if is_docker_hub(registry):
        registry = DOCKER_HUB
        if "/" not in repository:
            repository = f"library/{repository}"
    return ImageName(registry, repository, tag or None, digest or None)
