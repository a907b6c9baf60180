"""What reached the registry: every blob upload it completed, read from the registry's own
access log (`registry.log` in the state directory, combined log format) and its blob store.

An upload is complete when the registry answers 201 to the `PUT …/blobs/uploads/<id>?digest=`
that closes it, or to a monolithic `POST …/blobs/uploads/?digest=` (distribution's
docs/spec/api.md, "Pushing An Image"). A blob the client found with `HEAD` is not uploaded, so
a layer pushed again shows here even when its digest, and so the blob store, is unchanged.
A cross-repository mount (`POST ?mount=`) moves no bytes and is not counted.

Tests and the benchmark read this through the state directory (`Emulator.registry_uploads`);
nothing in the product does.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

LOG = "registry.log"
_REQUEST = re.compile(r'"(?P<method>PUT|POST) (?P<uri>/v2/\S+/blobs/uploads/\S*) HTTP/[\d.]+" 201 ')


@dataclass(frozen=True)
class Upload:
    repository: str
    digest: str  # sha256:…
    size: int  # bytes of the blob as stored


def log_mark(state_dir: Path) -> int:
    """A position in the registry's log: uploads_since(mark) counts only what comes after."""
    path = state_dir / LOG
    return path.stat().st_size if path.exists() else 0


# distribution's filesystem driver's layout under the root directory acr.py gives it
_STORAGE = Path("registry") / "data" / "docker" / "registry" / "v2"


def blobs_root(state_dir: Path) -> Path:
    return state_dir / _STORAGE / "blobs"


def blob_path(state_dir: Path, digest: str) -> Path:
    """Where the blob `digest` (sha256:… or bare hex) is stored."""
    algorithm, _, hex_digest = digest.rpartition(":")
    return blobs_root(state_dir) / (algorithm or "sha256") / hex_digest[:2] / hex_digest / "data"


def _blob_size(state_dir: Path, digest: str) -> int:
    path = blob_path(state_dir, digest)
    return path.stat().st_size if path.exists() else 0


def tag_digest(state_dir: Path, repository: str, tag: str) -> str:
    """The digest a tag points at, from the registry's tag link."""
    repositories = state_dir / _STORAGE / "repositories"
    link = repositories / repository / "_manifests" / "tags" / tag / "current" / "link"
    return link.read_text().strip()


def manifest_layers(state_dir: Path, digest: str) -> dict[str, int]:
    """The layers (digest → compressed size) of the image manifest stored as `digest`."""
    document = json.loads(blob_path(state_dir, digest).read_bytes())
    return {str(layer["digest"]): int(layer["size"]) for layer in document["layers"]}


def _parse(line: str) -> tuple[str, str] | None:
    match = _REQUEST.search(line)
    if match is None:
        return None
    uri = urlsplit(match["uri"])
    query = parse_qs(uri.query)
    if "digest" not in query or "mount" in query:
        return None
    repository = unquote(uri.path).removeprefix("/v2/").split("/blobs/uploads/")[0]
    return repository, query["digest"][0]


def uploads_since(state_dir: Path, mark: int, settle: float = 0.5) -> list[Upload]:
    """Every blob upload completed after `mark`, in order. The registry writes a request's
    log line just after answering it: wait until the log has been still for `settle` s."""
    path = state_dir / LOG
    size = -1
    while path.exists() and path.stat().st_size != size:
        size = path.stat().st_size
        time.sleep(settle)
    if not path.exists():
        return []
    with path.open("rb") as log:
        log.seek(mark)
        text = log.read().decode("utf-8", errors="replace")
    uploads = []
    for line in text.splitlines():
        parsed = _parse(line)
        if parsed is not None:
            repository, digest = parsed
            uploads.append(Upload(repository, digest, _blob_size(state_dir, digest)))
    return uploads
