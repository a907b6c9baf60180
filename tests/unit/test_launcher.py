"""The launcher forks the test's runs of the CLI from a process that has imported it: each run
behaves as a process started from its console script (tools/launcher.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools import launcher as launcher_module
from tools.launcher import LaunchedRun, Launcher, popen

PROGRAM = "some-program"


@pytest.fixture(scope="module")
def launcher() -> Iterator[Launcher]:
    started = Launcher("tests.unit.launched_program:main", preload=["json"])
    yield started
    started.stop()


def launch(launcher: Launcher, cwd: Path, *args: str, **env: str) -> LaunchedRun:
    return LaunchedRun(
        launcher,
        [PROGRAM, *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_run_has_its_own_argv_directory_environment_pipes_and_exit_code(
    launcher: Launcher, tmp_path: Path
) -> None:
    with launch(launcher, tmp_path, "echo", "3", GREETING="hello") as run:
        stdout, stderr = run.communicate(timeout=30)
    assert stdout == f"argv=['echo', '3'] cwd={tmp_path} greeting=hello\n"
    assert stderr == "to stderr\n"
    assert run.returncode == 3
    assert run.pid != os.getpid()


def test_a_run_is_a_process_signals_reach(launcher: Launcher, tmp_path: Path) -> None:
    with launch(launcher, tmp_path, "sleep", "60") as run:
        assert run.poll() is None
        run.send_signal(signal.SIGKILL)
        assert run.wait(timeout=10) == -signal.SIGKILL


def test_a_run_that_outlives_its_timeout_raises_as_popen_does(
    launcher: Launcher, tmp_path: Path
) -> None:
    with launch(launcher, tmp_path, "sleep", "60") as run:
        with pytest.raises(subprocess.TimeoutExpired):
            run.wait(timeout=0.2)
        run.kill()
        assert run.wait(timeout=10) == -signal.SIGKILL


def test_a_run_ends_as_the_interpreter_would(launcher: Launcher, tmp_path: Path) -> None:
    """Threads joined and atexit functions run after main() returns; an exception printed."""
    with launch(launcher, tmp_path, "finish") as run:
        stdout, _ = run.communicate(timeout=30)
    assert stdout.splitlines() == ["thread finished", "atexit ran"]
    with launch(launcher, tmp_path, "raise") as run:
        _, stderr = run.communicate(timeout=30)
    assert run.returncode == 1
    assert "RuntimeError: boom" in stderr


def test_runs_do_not_share_a_working_directory_or_environment(
    launcher: Launcher, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    with launch(launcher, tmp_path / "a", "echo", GREETING="first") as first:
        first.communicate(timeout=30)
    with launch(launcher, tmp_path, "echo") as second:
        stdout, _ = second.communicate(timeout=30)
    assert stdout.endswith(f"cwd={tmp_path} greeting=None\n")


def test_a_missing_working_directory_is_refused_as_popen_refuses_it(
    launcher: Launcher, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        launch(launcher, tmp_path / "missing", "echo")


def test_what_the_launcher_cannot_start_starts_the_ordinary_way(tmp_path: Path) -> None:
    """Another program, or Python started differently, is not forked from the CLI's launcher."""
    other = popen([sys.executable, "-c", "print(1)"], cwd=tmp_path, stdout=subprocess.PIPE)
    assert type(other) is subprocess.Popen
    other.communicate(timeout=30)
    env = {**os.environ, "PYTHONHASHSEED": "7" if os.environ.get("PYTHONHASHSEED") != "7" else "8"}
    differently = popen(
        [sys.executable, "-c", "print(1)"], cwd=tmp_path, env=env, stdout=subprocess.PIPE
    )
    assert type(differently) is subprocess.Popen
    differently.communicate(timeout=30)


def test_the_benchmarks_start_every_run_cold(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """make bench and make reliability time what a user waits for, the import included."""
    monkeypatch.setattr(launcher_module, "_cold", False)
    launcher_module.start_cold()
    run = popen([launcher_module.SCRIPT, "--version"], cwd=tmp_path, stdout=subprocess.PIPE)
    assert type(run) is subprocess.Popen
    run.communicate(timeout=60)
