"""Reading a file the deploy file names: bounded, regular files only, and only the file that
was checked (no symlink swapped in since)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

# Our own bounds, far above what these files need; not Azure's limits.
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # a smoke test's request body
MAX_SCHEMA_BYTES = 1024 * 1024  # a smoke test's expect_body_schema
MAX_AGREEMENT_REQUESTS = 1000  # rollout.agreement's request set: how many
MAX_AGREEMENT_BYTES = 16 * 1024 * 1024  # and how much in all


class UnreadableFile(Exception):
    """Why a file named by the deploy file cannot be used, phrased to follow its name."""


def read_bounded(path: Path, limit: int) -> bytes:
    """The content of `path`, a resolved path (validation resolved it), at most `limit` bytes.

    Refuses a path that resolves elsewhere now (a symlink put in after the check), a final
    component that is a symlink, and anything but a regular file (a FIFO would block)."""
    if path.resolve() != path:
        raise UnreadableFile("is no longer the file that was checked (a symlink changed)")
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise UnreadableFile(f"cannot be read: {exc.strerror}") from exc
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise UnreadableFile("is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnreadableFile(f"is larger than {_size(limit)}, the most azureml-deploy reads")
    return data


def request_files(written: str | list[str], folder: Path) -> tuple[Path, ...]:
    """rollout.agreement's request set, resolved from the deploy file's `folder`: the files
    listed, or the `*.json` files of the folder named (not its subfolders), by name. At most
    one more than MAX_AGREEMENT_REQUESTS, so a huge folder is refused without being listed."""
    if isinstance(written, list):
        return tuple((folder / name).resolve() for name in written)
    directory = (folder / written).resolve()
    found: list[tuple[str, Path]] = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.endswith(".json") and not entry.name.startswith("."):
                    found.append((entry.name, Path(entry.path).resolve()))
                    if len(found) > MAX_AGREEMENT_REQUESTS:
                        break
    except OSError:
        return ()
    return tuple(path for _, path in sorted(found))


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 1024} KiB"
