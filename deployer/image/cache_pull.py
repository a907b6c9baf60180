"""Bringing the build cache's image into the engine before a build, where the engine's BuildKit
needs it there to keep the cache whole from one fresh runner to the next.

BuildKit keeps, in the image it builds, an inline cache: each step's cache key and the layer
that step made. On engines whose BuildKit is older than 0.14 (Docker Engine 20.10 to 26; moby
vendors BuildKit 0.8 in 20.10 and 0.14 from 27.0), a step served by a cache imported straight
from the registry loses its layer in the new image's inline cache (moby/buildkit#1992, "20.10
cache layer lost after many imports"; fixed by moby/buildkit#4796 in 0.14). The next fresh
runner then finds every step's key but no layer to go with it and builds everything again:
the cache works every second time (moby/buildkit#1981).

moby looks for a `--cache-from` image in its own image store first and imports the inline
cache from there, with the layers at hand (builder-next's localinlinecache: the local image,
else the registry). So on those engines the engine pulls the cache image first, with the
registry session's token: the steps it serves keep their layers, and the image built carries a
whole cache on to the next runner. The layers it pulls are the ones the build takes from the
cache anyway (the engine's image store needs them to hold the image). The pull goes through the
engine's own registry client, which also reaches a loopback registry over HTTPS where BuildKit's
resolver would speak plain HTTP.

From BuildKit 0.14 on, the cache is imported from the registry as it is: moby/buildkit#5242
reports the local import of an inline cache missing steps on Docker 27 and newer. GitHub's
hosted runners run Docker 28.0.4 with buildx 0.36.1 (actions/runner-images,
images/ubuntu/Ubuntu2404-Readme.md; the classic image store, as install-docker.sh leaves it):
buildx's `docker` driver exports only the inline cache there (build/opt.go refuses every other
`--cache-to` without the containerd image store), and moby v28.0.4 imports it through the same
localinlinecache importer (builder/builder-next/controller.go) with BuildKit 0.20.2.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from deployer.image.build_failures import engine_major

if TYPE_CHECKING:
    import docker

FIRST_WHOLE_REGISTRY_IMPORT = 27  # Docker Engine 27.0 vendors BuildKit 0.14 (moby/buildkit#4796)


def needs_pull(engine_version: str) -> bool:
    """Whether this engine's BuildKit loses the layers of a cache it imports from a registry."""
    major = engine_major(engine_version)
    return major is not None and major < FIRST_WHOLE_REGISTRY_IMPORT


def pull_cache(
    client: docker.DockerClient,
    references: list[str],
    auth_config: Mapping[str, str],
    say: Callable[[str], None],
) -> None:
    """Pulls each `registry/repository:tag` in `references` into the engine; one that cannot be
    pulled is said and left out (the build then imports it from the registry, or goes on
    without it)."""
    import docker.errors

    for reference in references:
        repository, _, tag = reference.rpartition(":")
        pulled = present = 0
        try:
            for item in client.api.pull(
                repository, tag=tag, stream=True, decode=True, auth_config=dict(auth_config)
            ):
                if "error" in item:
                    raise docker.errors.APIError(str(item["error"]))
                status = str(item.get("status", ""))
                pulled += status == "Pull complete"
                present += status == "Already exists"
        except docker.errors.APIError as exc:
            say(f"could not pull the build cache {reference} ({exc.explanation or exc})")
            continue
        say(
            f"pulled the build cache {reference} into the engine ({pulled} layer(s) pulled, "
            f"{present} already there)"
        )
