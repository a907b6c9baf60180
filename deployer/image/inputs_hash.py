"""The short hash of an image's build inputs, half of its default tag `<short sha>-<hash>`.

The commit alone does not say which image it builds: the same commit built with other build
args, another target or platform is another image, and must not be mistaken for the first one
(a re-run would reuse it: "no build, no push"). Secret ids are inputs (the build mounts them);
secret values never are: they are not read here, and a rotated token builds the same image.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping

from deployer.files import UnreadableFile, read_bounded
from deployer.spec.model import BuildSpec

HASH_LENGTH = 8
MAX_DOCKERFILE_BYTES = 1024 * 1024  # our own bound, far above any Dockerfile


def build_inputs_hash(spec: BuildSpec, extra_args: Mapping[str, str]) -> str:
    """8 hex characters of the SHA-256 of every build input but the context's files (the
    commit names those)."""
    inputs = {
        "args": {**spec.args, **extra_args},
        "target": spec.target,
        "platform": spec.platform,
        "dockerfile": os.path.relpath(spec.dockerfile, spec.context),
        "dockerfile_sha256": _dockerfile_digest(spec),
        "secret_ids": sorted(spec.secrets),
    }
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def _dockerfile_digest(spec: BuildSpec) -> str:
    try:
        content = read_bounded(spec.dockerfile, MAX_DOCKERFILE_BYTES)
    except UnreadableFile:
        return ""  # the build itself reports the Dockerfile it cannot read
    return hashlib.sha256(content).hexdigest()
