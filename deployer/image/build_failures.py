"""A failed BuildKit build as the user can act on it: which step, why, and the fix.

Dockerfile features newer than an engine's built-in frontend fail to parse there; the versions
are those of the Dockerfile reference (moby/buildkit frontend/dockerfile/docs, syntax 1.4 added
here-documents and `COPY --link`, 1.6 `ADD --checksum`, 1.7 `COPY --parents`/`--exclude` as
labs). Docker Engine 23.0 was the first to ship BuildKit v0.10, whose built-in frontend is 1.4
(moby/moby v23.0.0 release notes); older engines need a `# syntax=` line to use them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from deployer.errors import ImageError
from deployer.image.progress import BuildProgress

_SYNTAX = re.compile(r"^#\s*syntax\s*=\s*(\S+)", re.IGNORECASE)
_INSTRUCTION = re.compile(r"^\s*(RUN|COPY|ADD)\b(.*)$", re.IGNORECASE)
_HEREDOC = re.compile(r"<<-?[\"']?[A-Za-z_][A-Za-z0-9_]*")
_SECRET_MISSING = re.compile(r"secret ([A-Za-z0-9_.-]+):? not found")
_NOT_FOUND = re.compile(r'failed to compute cache key:.*?"(/[^"]*)":? not found')


@dataclass(frozen=True)
class Feature:
    name: str
    syntax: str
    pattern: re.Pattern[str]


FEATURES = (
    Feature("here-documents (RUN <<EOF)", "1.4", _HEREDOC),
    Feature("COPY --link", "1.4", re.compile(r"--link\b")),
    Feature("ADD --checksum", "1.6", re.compile(r"--checksum\b")),
    Feature("COPY --parents", "1.7-labs", re.compile(r"--parents\b")),
    Feature("COPY --exclude", "1.7-labs", re.compile(r"--exclude\b")),
)
BUILTIN_FRONTEND_SINCE = "23.0"


def syntax_directive(dockerfile: str) -> str | None:
    """The `# syntax=` parser directive, which BuildKit reads only before the first instruction."""
    for line in dockerfile.splitlines():
        if not line.strip():
            continue
        match = _SYNTAX.match(line.strip())
        if match:
            return match.group(1)
        if not line.lstrip().startswith("#"):
            return None
    return None


def features_used(dockerfile: str) -> list[Feature]:
    used: list[Feature] = []
    for line in dockerfile.splitlines():
        match = _INSTRUCTION.match(line)
        if match is None:
            continue
        for feature in FEATURES:
            if feature not in used and feature.pattern.search(match.group(2)):
                used.append(feature)
    return used


def engine_major(version: str) -> int | None:
    match = re.match(r"(\d+)\.", version)
    return int(match.group(1)) if match else None


def _error_text(progress: BuildProgress) -> str:
    lines = [line for line in progress.trailer if not set(line.strip()) <= {"-"}]
    errors = [line for line in lines if not line.lstrip().startswith(">")]
    if errors:
        return errors[-1].removeprefix("ERROR: ").strip()
    failed = progress.failed
    return failed[-1].error or "" if failed else "the build ended with an error"


def translate(
    progress: BuildProgress,
    *,
    dockerfile: str,
    engine_version: str,
    secret_ids: Iterable[str],
) -> ImageError:
    """The ImageError for a failed build (the failing step's output was already shown)."""
    text = _error_text(progress)
    failed = progress.failed
    step = next((vertex for vertex in failed if vertex.is_step), None)
    directive = syntax_directive(dockerfile)

    frontend = next((v for v in failed if v.name.startswith("resolve image config for")), None)
    if directive and (frontend is not None or "frontend gateway" in text):
        return ImageError(
            f"the Dockerfile's `# syntax={directive}` line names a Dockerfile frontend the "
            f"engine could not pull ({(frontend.error if frontend else None) or text})",
            hint="let the runner reach that image's registry (docker/dockerfile is on Docker "
            "Hub), or remove the line to build with the engine's built-in frontend",
        )
    if "network bridge not found" in text:
        return ImageError(
            "the build's RUN steps need the engine's default bridge network, which this engine "
            "does not have",
            hint="build on a network the engine has: --build-network host or none "
            "(or AZUREML_DEPLOY_BUILD_NETWORK)",
        )
    missing_secret = _SECRET_MISSING.search(text)
    if missing_secret:
        secret = missing_secret.group(1)
        declared = ", ".join(sorted(secret_ids)) or "none"
        return ImageError(
            f"a build step mounts the build secret {secret!r}, which the deploy file does not "
            f"give (image.build.secrets declares: {declared})",
            hint=f"add it: image.build.secrets: {{{secret}: {{env: NAME}}}}, or {{file: path}}",
        )
    base = next((v for v in failed if v.name.startswith(_LOAD_METADATA)), None)
    if base is not None and "dockerfile parse error" not in text:
        return _base_image_error(base.name.removeprefix(_LOAD_METADATA), base.error or text)
    if "dockerfile parse error" in text or "failed to create LLB definition" in text:
        return _parse_error(text, dockerfile, directive, engine_version)
    missing_file = _NOT_FOUND.search(text)
    if missing_file:
        return ImageError(
            f"a COPY or ADD source is not in the build context: {missing_file.group(1)}",
            hint="check image.build.context and the context's .dockerignore",
        )
    if step is not None:
        return ImageError(
            f"the build step {step.name} failed: {step.error}",
            hint="the step's output is above",
        )
    return ImageError(f"the image build failed: {text}", hint="the build's output is above")


# BuildKit reads each FROM image's config first, in a vertex of this name; a base image it
# cannot pull fails there ("failed to create LLB definition: …", tests/unit/buildkit/base-*.txt).
_LOAD_METADATA = "[internal] load metadata for "
# How registries refuse: a missing tag or repository (distribution's MANIFEST_UNKNOWN / NAME_UNKNOWN
# as 404 "not found"), credentials the runner lacks (401/403; Docker Hub answers "pull access
# denied … insufficient_scope: authorization failed", oracle/docker-images#2366), or a registry
# the runner cannot reach.
_PULL_REASONS = (
    ("not found", ("not found", "manifest unknown", "name unknown")),
    (
        "denied",
        ("401 unauthorized", "403 forbidden", "pull access denied", "insufficient_scope",
         "authorization failed", "denied"),
    ),
    (
        "unreachable",
        ("connection refused", "no such host", "i/o timeout", "network is unreachable",
         "tls handshake timeout", "connection reset", "dial tcp", "server gave http response"),
    ),
)  # fmt: skip


def registry_of(image: str) -> str:
    """The registry a reference names: its first part when that is a host (a dot, a port or
    localhost, as Docker reads references), else Docker Hub."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def _base_image_error(image: str, error: str) -> ImageError:
    registry = registry_of(image)
    lowered = error.lower()
    reason = next(
        (name for name, marks in _PULL_REASONS if any(mark in lowered for mark in marks)), ""
    )
    hints = {
        "not found": f"check the FROM line (and the build args it uses): {registry} has no "
        f"image {image}",
        "denied": f"sign the runner in to {registry} before this step (docker/login-action, or "
        "`docker login`), or use an image the runner may pull",
        "unreachable": f"let the runner reach {registry}, or use a base image from a registry "
        "it can reach (a copy in your Azure Container Registry: az acr import)",
    }
    said = {"not found": "not found", "denied": "access denied", "unreachable": "unreachable"}
    why = f"{said[reason]}: " if reason else ""
    return ImageError(
        f"the base image {image} could not be pulled from {registry} ({why}{error})",
        hint=hints.get(reason, f"check that the runner can pull {image}"),
    )


def _parse_error(
    text: str, dockerfile: str, directive: str | None, engine_version: str
) -> ImageError:
    detail = text.split("dockerfile parse error", 1)[-1].strip(" :")
    used = features_used(dockerfile)
    major = engine_major(engine_version)
    if used and directive is None and major is not None and major < 23:
        names = ", ".join(f"{feature.name} (syntax {feature.syntax})" for feature in used)
        return ImageError(
            f"the Dockerfile uses {names}, newer than the built-in Dockerfile frontend of "
            f"Docker engine {engine_version} ({detail})",
            hint="build on Docker Engine "
            f"{BUILTIN_FRONTEND_SINCE} or newer (GitHub's runners have it), or make "
            "`# syntax=docker/dockerfile:1` the Dockerfile's first line so the engine pulls "
            "a current frontend",
        )
    return ImageError(
        f"the Dockerfile does not parse: {detail}",
        hint="fix the line it names (Dockerfile reference: docs.docker.com/reference/dockerfile)",
    )
