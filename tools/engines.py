"""A second Docker engine playing a fresh GitHub-hosted runner: an empty data root, its own
exec root, pidfile and unix socket, the safe flags of DESIGN.md (no default bridge, iptables,
NAT or IP forwarding). Started and stopped by pid; used by the tests and the benchmark.

A hosted runner's image comes with some images preinstalled but with nothing of ours; here the
only preinstalled image is the local base image (it cannot be pulled), loaded with
`docker save | docker load`. Its build cache and layer store start empty.

What every engine pays and no test looks at is done once or out of the way: an image is saved
from the main engine once per process (by id) and each engine loads the file; an engine's
folder (its data root: the base image's thousands of files, the test's layers) is deleted in the
background after the engine has stopped and its mounts are gone, and the end of the session
waits for those deletions.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# The Debian engine's own client: it talks to any engine of its era (and has BuildKit built in).
DOCKER_CLI = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
_PR_SET_PDEATHSIG = 1

# Every engine this process started and has not stopped yet: its pid (also its process group).
_running: set[int] = set()
# Deletions of stopped engines' folders still going on.
_removing: list[subprocess.Popen[bytes]] = []


class EngineError(RuntimeError):
    pass


@dataclass(frozen=True)
class Engine:
    host: str  # the DOCKER_HOST of this engine
    root: Path  # data root, exec root, socket, config and log are all under it
    pid: int
    start_seconds: float  # from spawning dockerd to its first answer

    def docker(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DOCKER_CLI, "--host", self.host, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def environ(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}


def _die_with_parent() -> None:
    """Runs in the child before exec: if the test process is killed, the kernel sends dockerd
    SIGTERM (it then stops its own containerd), so no daemon outlives a killed test."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _dockerd() -> str:
    binary = shutil.which("dockerd")
    if binary is None:
        raise EngineError("dockerd is not installed; run scripts/ensure-docker.sh")
    return binary


def _command(root: Path, registries: Iterable[str]) -> list[str]:
    # The main engine trusts the emulator's registry on 127.0.0.1 through the engine's default
    # insecure-registries (127.0.0.0/8): pushes and pulls try HTTPS without verifying it. The
    # engine's BuildKit does not: for a loopback registry it has no entry for, it speaks plain
    # HTTP (containerd's MatchLocalhost default), which a TLS registry answers with 400, so a
    # `--cache-from` import fails. An `https://host:port` entry gives BuildKit that host as an
    # HTTPS registry (moby 20.10 daemon.RegistryHosts). In this engine's own config only.
    config = root / "daemon.json"
    insecure = ["127.0.0.0/8", *(f"https://{registry}" for registry in registries)]
    config.write_text(json.dumps({"insecure-registries": insecure}))
    # containerd's namespace rule: letters and digits, single separators between them
    # (containerd namespaces.Validate); a temporary directory's name may end in "_", and an
    # engine whose namespace breaks the rule fails every pull ("namespace validation").
    namespace = "fresh" + re.sub(r"[^A-Za-z0-9]", "", root.name)
    return [
        _dockerd(),
        "--config-file", str(config),
        "--data-root", str(root / "data"),
        "--exec-root", str(root / "exec"),
        "--pidfile", str(root / "dockerd.pid"),
        "--host", f"unix://{root / 'docker.sock'}",
        "--containerd-namespace", namespace,
        "--containerd-plugins-namespace", f"{namespace}-plugins",
        "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip-forward=false",
    ]  # fmt: skip


def _wait_ready(engine: Engine, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise EngineError(f"the fresh engine exited ({process.returncode}):\n{tail}")
        if engine.docker("version", "--format", "{{.Server.Version}}", timeout=10).returncode == 0:
            return
        time.sleep(0.2)
    raise EngineError(f"the fresh engine did not answer within {START_TIMEOUT:.0f} s; see {log}")


def stop(pid: int) -> None:
    """SIGTERM to the dockerd we started, then SIGKILL to its process group (dockerd and the
    containerd it runs) if it has not exited in time."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        if not _alive(pid):
            break
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    _running.discard(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def sweep() -> list[int]:
    """Stops every engine this process started and has not stopped (a test killed by its
    timeout before its `finally`), and waits for the engines' folders to be deleted: the end of
    a test session calls this."""
    stopped = sorted(_running)
    for pid in stopped:
        stop(pid)
    while _removing:
        _removing.pop().wait()
    return stopped


def _preload(engine: Engine, images: Iterable[str]) -> None:
    for image in images:
        load = engine.docker("load", "--quiet", "--input", str(_saved(image, _image_id(image))))
        if load.returncode != 0:
            raise EngineError(f"could not load {image} into the fresh engine: {load.stderr}")


def _main_engine(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DOCKER_CLI, *args], capture_output=True, text=True, timeout=300, check=False
    )


def _image_id(image: str) -> str:
    result = _main_engine("image", "inspect", "--format", "{{.Id}}", image)
    if result.returncode != 0:
        raise EngineError(f"the main engine has no image {image}: {result.stderr}")
    return result.stdout.strip()


@functools.cache
def _saved(image: str, image_id: str) -> Path:
    """The main engine's `image` (now `image_id`: a rebuilt image is saved again) as a
    `docker save` archive with its name, made once per process in a folder of its own (removed
    when the process exits)."""
    folder = Path(tempfile.mkdtemp(prefix="engine-images-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    archive = folder / f"{image_id.removeprefix('sha256:')}.tar"
    result = _main_engine("save", "--output", str(archive), image)
    if result.returncode != 0:
        raise EngineError(f"could not save image {image}: {result.stderr}")
    return archive


@contextlib.contextmanager
def fresh_engine(
    preinstalled: Iterable[str] = (), registries: Iterable[str] = ()
) -> Iterator[Engine]:
    """A running empty engine with `preinstalled` images loaded from the main engine, able to
    push to, pull from and import build cache from `registries` (`host:port` on 127.0.0.1);
    stopped and its directory removed on exit."""
    root = Path(tempfile.mkdtemp(prefix="engine-"))
    log = root / "dockerd.log"
    started = time.monotonic()
    with log.open("ab") as output:
        process = subprocess.Popen(
            _command(root, registries),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches containerd too
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - prctl is safe before exec
        )
    _running.add(process.pid)
    try:
        engine = Engine(f"unix://{root / 'docker.sock'}", root, process.pid, 0.0)
        _wait_ready(engine, process, log)
        engine = Engine(engine.host, root, process.pid, round(time.monotonic() - started, 2))
        _preload(engine, preinstalled)
        yield engine
    finally:
        stop(process.pid)
        remove(root)


def remove(root: Path) -> None:
    """An engine's directory, once it has stopped: dockerd leaves its default network
    namespace (`exec/netns/default`) mounted, so unmount what is mounted under it first."""
    mounts = Path("/proc/mounts").read_text().splitlines()
    for target in sorted((line.split()[1] for line in mounts), reverse=True):
        if Path(target).is_relative_to(root):
            subprocess.run(["umount", "--lazy", target], capture_output=True, check=False)
    # Seconds of disk work for a folder no one reads again: renamed out of the way at once,
    # deleted in the background (sweep() waits for it).
    doomed = root.with_name(f".{root.name}-removing")
    try:
        root.rename(doomed)
    except OSError:
        shutil.rmtree(root, ignore_errors=True)
        return
    _removing[:] = [deletion for deletion in _removing if deletion.poll() is None]
    _removing.append(
        subprocess.Popen(
            ["rm", "-rf", "--one-file-system", "--", str(doomed)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # outlives a killed test process, and finishes
        )
    )
