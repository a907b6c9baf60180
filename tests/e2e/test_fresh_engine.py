"""The second Docker engine that plays a fresh runner (tools/engines.py): empty, its own paths,
gone when its test ends, even when the test process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.engines import Engine, fresh_engine, remove
from tools.images import ROOT

pytestmark = pytest.mark.docker


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"


def _wait_gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return False


def test_two_fresh_engines_run_side_by_side_empty_and_leave_nothing(fresh_runner: Engine) -> None:
    with fresh_engine() as other:
        assert other.host != fresh_runner.host
        assert other.root != fresh_runner.root
        for engine in (fresh_runner, other):
            assert engine.docker("info", "--format", "{{.DockerRootDir}}").stdout.strip() == str(
                engine.root / "data"
            )
        # Empty but for what a runner has preinstalled: no build cache, no layers of ours.
        images = fresh_runner.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
        assert images.split() == ["azureml-deploy/python-base:bookworm"]
        assert other.docker("images", "-q").stdout.strip() == ""
        usage = fresh_runner.docker("system", "df", "--format", "{{.Type}}={{.Size}}").stdout
        assert "Build Cache=0B" in usage.splitlines()
        assert fresh_runner.start_seconds < 30
        pid, root = other.pid, other.root
    assert _wait_gone(pid, timeout=1)
    assert not root.exists()
    assert str(root) not in Path("/proc/mounts").read_text()


def test_a_killed_test_process_leaves_no_engine_running(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = (
        "import sys, time\n"
        "from tools.engines import fresh_engine\n"
        "with fresh_engine() as engine:\n"
        f"    open({str(pids)!r}, 'w').write(f'{{engine.pid}} {{engine.root}}')\n"
        "    time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not pids.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        dockerd = int(pids.read_text().split()[0])
        assert _alive(dockerd)
        children = Path(f"/proc/{dockerd}/task/{dockerd}/children").read_text().split()
        os.kill(child.pid, signal.SIGKILL)  # no finally, no session end: the kernel's doing
        child.wait(timeout=10)
        assert _wait_gone(dockerd), "dockerd outlived the killed test process"
        for pid in map(int, children):  # its containerd
            assert _wait_gone(pid), f"process {pid} of the engine outlived it"
    finally:
        if child.poll() is None:
            child.kill()
        if pids.exists():  # the killed process could not remove its engine's directory
            remove(Path(pids.read_text().split()[1]))
