"""Environment images into a registry without compressing them again.

Every test worker runs an emulator with a registry of its own, and `docker push` compresses
each layer of an environment image anew for each of them (the engine keeps no compressed copy):
seconds of CPU per hundred megabytes, for bytes another registry on the machine already holds.
The first push of an image on this machine leaves its manifest and compressed blobs in a
machine-wide cache, keyed by the local image's id; a later push of that image uploads those
bytes through the registry's API, as `crane copy` or ACR's import do.

How the emulator's stand-in for ACR Tasks fills its own registry, not an Azure behaviour: the
registry ends with the same image either way (a manifest, its config and its layers, by the
distribution API)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

# One per user, and trusted only when it is the user's own: what is in it goes into registries.
ROOT = Path(tempfile.gettempdir()) / f"azureml-emulator-image-cache-{os.getuid()}"
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
_CHUNK = 1024 * 1024
_TIMEOUT = 120


class CacheMiss(Exception):
    """The cache cannot serve this push (not there, incomplete, or the registry said no)."""


@dataclass(frozen=True)
class Target:
    """Where the image goes: `login_server/repository:tag`, pushed with `auth`, over TLS that
    `ca_cert` verifies."""

    login_server: str
    repository: str
    tag: str
    auth: Mapping[str, str]
    ca_cert: str


def entry(image_id: str) -> Path:
    return ROOT / image_id.removeprefix("sha256:")


def _own_root() -> bool:
    """The cache's folder exists (made now if not), is a folder of this user's and no one
    else's: not a link, not writable by others."""
    with contextlib.suppress(FileExistsError):
        ROOT.mkdir(mode=0o700)
    try:
        status = ROOT.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(status.st_mode)
        and status.st_uid == os.getuid()
        and not (status.st_mode & (stat.S_IWGRP | stat.S_IWOTH))
    )


def push_cached(image_id: str, target: Target) -> str:
    """Push the cached image with id `image_id`: its manifest digest. CacheMiss when there is
    no complete entry or any call fails (the caller pushes with the engine then)."""
    folder = entry(image_id)
    if not _own_root():
        raise CacheMiss("the cache's folder is not this user's own")
    try:
        manifest = (folder / "manifest.json").read_bytes()
        media_type = (folder / "media-type").read_text().strip()
        session = _session(target, "pull,push")
        for digest in _blob_digests(manifest):
            _upload(session, target, folder / "blobs" / digest.removeprefix("sha256:"), digest)
    except (OSError, ValueError, KeyError) as exc:
        raise CacheMiss(str(exc)) from exc
    response = session.put(
        _url(target, f"manifests/{target.tag}"),
        data=manifest,
        headers={"Content-Type": media_type},
        timeout=_TIMEOUT,
    )
    if response.status_code != 201:
        raise CacheMiss(f"manifest upload answered {response.status_code}")
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def keep(image_id: str, target: Target, digest: str) -> None:
    """Copy the image just pushed to `target` (by `digest`) into the cache, whole or not at
    all: written beside the entry, then renamed into place. Any failure leaves no entry."""
    folder = entry(image_id)
    if folder.exists() or not _own_root():
        return
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=ROOT))
    try:
        session = _session(target, "pull")
        response = session.get(
            _url(target, f"manifests/{digest}"),
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
            timeout=_TIMEOUT,
        )
        response.raise_for_status()
        manifest = response.content
        if "sha256:" + hashlib.sha256(manifest).hexdigest() != digest:
            return
        (staging / "blobs").mkdir()
        for blob in _blob_digests(manifest):
            _download(session, target, blob, staging / "blobs" / blob.removeprefix("sha256:"))
        (staging / "manifest.json").write_bytes(manifest)
        (staging / "media-type").write_text(json.loads(manifest)["mediaType"])
        with contextlib.suppress(OSError):  # another emulator kept it first
            staging.rename(folder)
    except (requests.RequestException, OSError, ValueError, KeyError):
        pass  # no entry: the next push compresses again
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _blob_digests(manifest: bytes) -> list[str]:
    document = json.loads(manifest)
    return [document["config"]["digest"], *(layer["digest"] for layer in document["layers"])]


def _url(target: Target, path: str) -> str:
    return f"https://{target.login_server}/v2/{target.repository}/{path}"


def _session(target: Target, actions: str) -> requests.Session:
    """A session with a registry access token for the repository, by the token flow the
    registry's challenge names (the docker CLI's own flow)."""
    session = requests.Session()
    # Only the registry's own CA and no proxy: with the environment trusted, requests lets
    # REQUESTS_CA_BUNDLE (a test process's, say, that this emulator's CA is not in yet)
    # override `verify`, and every push fell back to the engine.
    session.trust_env = False
    session.verify = target.ca_cert
    challenge = session.get(f"https://{target.login_server}/v2/", timeout=_TIMEOUT)
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge.headers.get("Www-Authenticate", "")))
    if challenge.status_code != 401 or "realm" not in fields:
        raise CacheMiss(f"the registry's /v2/ answered {challenge.status_code}")
    token = session.get(
        fields["realm"],
        params={
            "service": fields.get("service", target.login_server),
            "scope": f"repository:{target.repository}:{actions}",
        },
        auth=(target.auth["username"], target.auth["password"]),
        timeout=_TIMEOUT,
    )
    if token.status_code != 200:
        raise CacheMiss(f"the registry's token endpoint answered {token.status_code}")
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return session


def _upload(session: requests.Session, target: Target, blob: Path, digest: str) -> None:
    exists = session.head(_url(target, f"blobs/{digest}"), timeout=_TIMEOUT)
    if exists.status_code == 200:
        return
    if not blob.is_file():
        raise CacheMiss(f"the cache has no blob {digest}")
    started = session.post(_url(target, "blobs/uploads/"), timeout=_TIMEOUT)
    location = started.headers.get("Location", "")
    if started.status_code != 202 or not location:
        raise CacheMiss(f"starting an upload answered {started.status_code}")
    if location.startswith("/"):
        location = f"https://{target.login_server}{location}"
    separator = "&" if "?" in location else "?"
    with blob.open("rb") as data:
        done = session.put(
            f"{location}{separator}digest={digest}",
            data=data,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(blob.stat().st_size),
            },
            timeout=_TIMEOUT,
        )
    if done.status_code != 201:
        raise CacheMiss(f"uploading {digest} answered {done.status_code}")


def _download(session: requests.Session, target: Target, digest: str, path: Path) -> None:
    hasher = hashlib.sha256()
    with session.get(_url(target, f"blobs/{digest}"), stream=True, timeout=_TIMEOUT) as response:
        response.raise_for_status()
        with path.open("wb") as out:
            for chunk in response.iter_content(_CHUNK):
                hasher.update(chunk)
                out.write(chunk)
    if "sha256:" + hasher.hexdigest() != digest:
        raise ValueError(f"blob {digest} did not match its digest")
