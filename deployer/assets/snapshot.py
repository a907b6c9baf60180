"""A local model, code folder or build context as it is uploaded: its files, their size and a
hash of their content, which names the version the action registers (content-addressed: an
unchanged folder maps to the version already there, so nothing is uploaded or registered).

The files are chosen as azure-ai-ml chooses them (`get_ignore_file`: `.amlignore`, else
`.gitignore`, at the folder's root), and `.git` is never among them. They are staged as hard
links (a copy across file systems) in a folder of their own when the SDK would otherwise take
more than them (a `.git` it does not skip); else the folder itself is uploaded, the SDK applying
the same ignore file. Either way the files hashed are exactly the files uploaded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from deployer.errors import DeployerError

CHUNK = 1024 * 1024
NEVER_UPLOADED = frozenset({".git"})


@dataclass(frozen=True)
class Snapshot:
    root: Path  # the file or folder named in the deploy file
    files: tuple[tuple[Path, str], ...]  # (absolute path, POSIX path relative to root)
    size: int
    digest: str  # sha256 hex over the relative paths, sizes and contents
    pruned: bool = False  # a folder the SDK would upload (.git) was left out

    @property
    def version(self) -> str:
        """The asset version this content registers as."""
        return self.digest[:16]

    def stage(self, into: Path) -> Path:
        """What to hand the SDK's upload: the folder itself, or, when it holds what must not
        be uploaded, its files under `into/<root name>` (hard links where possible)."""
        if not self.pruned:
            return self.root
        target = into / self.root.name
        if self.root.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            _link(self.root, target)
            return target
        for source, relative in self.files:
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            _link(source, destination)
        target.mkdir(parents=True, exist_ok=True)
        return target


def snapshot(root: Path, workspace: Path) -> Snapshot:
    """The files of `root` that would be uploaded; every one must stay inside `workspace`."""
    pruned: list[Path] = []
    files = (
        [(root, root.name)] if root.is_file() else sorted(_walk(root, pruned), key=lambda f: f[1])
    )
    digest = hashlib.sha256(f"{len(files)}".encode())
    size = 0
    for path, relative in files:
        resolved = path.resolve()
        if not resolved.is_relative_to(workspace.resolve()):
            raise DeployerError(
                f"{root.relative_to(workspace.resolve()).as_posix()}/{relative} links to "
                f"{resolved}, outside the workspace; it would be uploaded with the asset",
                hint="replace the link with the file, or list it in .amlignore",
            )
        length = resolved.stat().st_size
        size += length
        digest.update(f"#{relative}#{length}".encode())
    for path, _ in files:
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
    return Snapshot(root, tuple(files), size, digest.hexdigest(), bool(pruned))


def _walk(root: Path, pruned: list[Path]) -> Iterator[tuple[Path, str]]:
    from azure.ai.ml._utils._asset_utils import get_ignore_file

    ignore = get_ignore_file(root)
    seen = {root.resolve()}  # links are followed, as azure-ai-ml does; a cycle only once
    for folder, directories, names in os.walk(root, followlinks=True):
        here = Path(folder)
        kept = []
        for name in sorted(directories):
            resolved = (here / name).resolve()
            if ignore.is_file_excluded(here / name):
                continue
            if name in NEVER_UPLOADED or resolved in seen:  # .git, or a link back up the tree
                pruned.append(here / name)
                continue
            seen.add(resolved)
            kept.append(name)
        directories[:] = kept
        for name in sorted(names):
            path = here / name
            if not ignore.is_file_excluded(path):
                yield path, path.relative_to(root).as_posix()


def _link(source: Path, destination: Path) -> None:
    try:
        os.link(source.resolve(), destination)
    except OSError:
        shutil.copyfile(source, destination)
