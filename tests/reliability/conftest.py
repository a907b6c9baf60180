"""Every reliability test gets fresh test repositories from `new_app`, and afterwards every
run they made and every file they left is searched for every secret issued meanwhile, and every
run's output is read as the runner reads it (tools/checks.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.client import Emulator
from tools.checks import runner_problems
from tools.reliability.scanner import issued_secrets, scan_runs
from tools.reliability.scenarios import AppFactory
from tools.repo import App, make_app


@pytest.fixture
def new_app(emulator: Emulator, tmp_path: Path) -> Iterator[AppFactory]:
    since = emulator.last_secret()
    apps: list[App] = []

    def factory() -> App:
        if apps:
            emulator.reset()
        app = make_app(emulator, tmp_path / f"repo{len(apps) + 1}")
        apps.append(app)
        return app

    yield factory
    home = tmp_path / "home"
    folders = [app.root for app in apps] + ([home] if home.exists() else [])
    findings = scan_runs(emulator, apps, since, folders)
    assert findings.places > 0
    assert not findings.leaks, "secrets leaked:\n" + "\n".join(findings.leaks)
    secrets = issued_secrets(emulator, since)
    problems = [problem for app in apps for problem in runner_problems(app, secrets)]
    assert not problems, "\n".join(problems)
