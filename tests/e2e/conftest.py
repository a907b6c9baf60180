"""The end-to-end tests deploy a test repository with the real command line. After each test,
every run it made and every file in its repository is searched for every secret issued, and
every run's output is read as the runner reads it (tools/checks.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.client import Emulator
from tools.checks import after_runs
from tools.repo import SERVER_DEPLOY, App, make_app

__all__ = ["SERVER_DEPLOY", "App"]


@pytest.fixture
def app(emulator: Emulator, tmp_path: Path) -> Iterator[App]:
    since = emulator.last_secret()
    app = make_app(emulator, tmp_path / "repo")
    yield app
    problems = after_runs(emulator, app, since)
    assert not problems, "\n".join(problems)
