"""A deploy with the runner's debug logging on leaks nothing and leaves no credentials on disk.
(Every other test in this folder and in tests/e2e is scanned for secrets as well.)"""

from __future__ import annotations

from pathlib import Path

from emulator.client import Emulator
from tools.reliability.scanner import scan_runs
from tools.reliability.scenarios import AppFactory, deploy_in_debug_mode, docker_credentials


def test_debug_logging_leaks_no_secret(
    new_app: AppFactory, emulator: Emulator, tmp_path: Path
) -> None:
    since = emulator.last_secret()
    app = new_app()
    home = deploy_in_debug_mode(app, tmp_path)
    findings = scan_runs(emulator, [app], since, [app.root, home])
    assert findings.secrets >= 5  # keys, Entra and ACR tokens, ID and request tokens
    assert not findings.leaks, findings.leaks
    credentials = docker_credentials(app, home)
    assert credentials.met, credentials.detail
