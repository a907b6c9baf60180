"""A model server with a realistic dependency layer for the fresh-runner tests and benchmark:
tests/images/heavy-server plus `wheels/`, a wheel of over 100 MB of incompressible data built
here with `pip wheel` (hatchling, no build isolation: no network), as a private package index's
torch-sized wheel would be. The requirements never change; a commit changes only server.py.

Three Dockerfiles (`Dockerfile`, the default, or a `variant`): `install` installs the wheel in
the final stage, `copy` copies the package in unpacked (`deps/`, a large folder of files), and
`stages` installs it in a builder stage whose output the final stage copies.

Making the wheel takes tens of seconds of CPU (104 MiB of seeded random bytes, deflated), and
every test worker that runs a fresh-runner test needs the same bytes: it is made once per
machine and user, in the user's cache folder, keyed by what goes into it.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Literal

from tools.images import ROOT, TEST_SERVER

SERVER = ROOT / "tests" / "images" / "heavy-server"
PACKAGE = "heavy_deps"
DATA_FILES = 4
DATA_FILE_BYTES = 26 * 1024 * 1024  # 104 MiB in all: the layer is over 100 MB compressed too
_CODE_LINE = re.compile(r'^CODE_VERSION = "[^"]*"$', re.MULTILINE)
Variant = Literal["install", "copy", "stages"]

_PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "heavy-deps"
version = "1.0.0"
description = "Model weights stand-in: incompressible data files"

[tool.hatch.build.targets.wheel]
packages = ["heavy_deps"]
"""

_INIT = '''\
"""Incompressible data files standing in for a model library's weights."""

from pathlib import Path


def installed_bytes():
    return sum(path.stat().st_size for path in Path(__file__).parent.glob("data-*.bin"))
'''


def dependency_bytes() -> int:
    return DATA_FILES * DATA_FILE_BYTES


def served_code(code_version: str) -> str:
    """What the server's /score says in "color": which code, and its dependency's size."""
    return f"code {code_version}, {dependency_bytes()} dependency bytes"


_SEED = 15
# In the user's own cache folder: what is there goes into the tests' images.
_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "azureml-deploy-heavy-wheel"
)


@functools.cache
def dependency_wheel() -> Path:
    """The wheel, the same bytes every time (seeded data), built once per machine and user."""
    inputs = (DATA_FILES, DATA_FILE_BYTES, _SEED, _PYPROJECT, _INIT, version("hatchling"))
    key = hashlib.sha256(repr(inputs).encode()).hexdigest()[:16]
    kept = _CACHE / key
    _CACHE.mkdir(parents=True, exist_ok=True)
    # The fresh-runner tests start together (the longest first): one worker builds, the
    # others wait for it rather than build the same bytes beside it.
    with (_CACHE / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not kept.is_dir():
            staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=_CACHE))
            try:
                _build_wheel(staging).parent.rename(kept)  # whole or not at all
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    (wheel,) = kept.glob("*.whl")
    return wheel


def _build_wheel(work: Path) -> Path:
    """The wheel, built in `work` (its source removed after): its path, in `work/wheels`."""
    source = work / "source"
    package = source / PACKAGE
    package.mkdir(parents=True)
    (source / "pyproject.toml").write_text(_PYPROJECT)
    (package / "__init__.py").write_text(_INIT)
    generator = random.Random(_SEED)  # noqa: S311 - test data, not a secret
    for number in range(DATA_FILES):
        (package / f"data-{number}.bin").write_bytes(generator.randbytes(DATA_FILE_BYTES))
    wheels = work / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-build-isolation", "--no-index",
         "--no-deps", "--wheel-dir", str(wheels), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"pip wheel failed:\n{result.stderr}")
    shutil.rmtree(source)
    (wheel,) = wheels.glob("*.whl")
    return wheel


def write_server(target: Path, code_version: str = "1", variant: Variant = "install") -> Path:
    """The server's build context in `target` (created or refreshed): Dockerfiles (`Dockerfile`
    is the `variant`'s), requirements, the wheel (and for `copy` the package unpacked in
    `deps/`), and server.py answering `code_version`."""
    target.mkdir(parents=True, exist_ok=True)
    for path in SERVER.iterdir():
        shutil.copy2(path, target / path.name)
    if variant != "install":
        shutil.copy2(SERVER / f"Dockerfile.{variant}", target / "Dockerfile")
    shutil.copy2(TEST_SERVER / "server.py", target / "model_server.py")
    wheels = target / "wheels"
    wheels.mkdir(exist_ok=True)
    wheel = dependency_wheel()
    if not (wheels / wheel.name).exists():
        shutil.copy2(wheel, wheels / wheel.name)
    if variant == "copy" and not (target / "deps" / PACKAGE).exists():
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(target / "deps")
    change_code(target, code_version)
    return target


def change_code(target: Path, code_version: str) -> None:
    """A code-only change: the one line of server.py that says which code this is."""
    server = target / "server.py"
    text, count = _CODE_LINE.subn(f'CODE_VERSION = "{code_version}"', server.read_text())
    if count != 1:
        raise RuntimeError(f"{server} has no CODE_VERSION line to change")
    server.write_text(text)
