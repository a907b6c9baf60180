"""Starting and stopping emulators for the tests, with their own command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from emulator.client import Emulator

ROOT = Path(__file__).resolve().parents[1]


class Bundle:
    """One CA bundle trusted by the whole test process, holding every emulator's CA."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def trust(self, emulator: Emulator) -> None:
        if not self.path.exists():
            self.path.write_bytes(Path(emulator["ca_bundle"]).read_bytes())
        else:
            with self.path.open("ab") as handle:
                handle.write(Path(emulator["ca_cert"]).read_bytes())
        os.environ["REQUESTS_CA_BUNDLE"] = str(self.path)
        # The docker CLI fetches the registry's tokens for its BuildKit builds (a Go program).
        os.environ["SSL_CERT_FILE"] = str(self.path)


def run_cli(*args: str, state_dir: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args, "--state-dir", str(state_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start(state_dir: Path, *extra: str) -> Emulator:
    result = run_cli("up", *extra, state_dir=state_dir)
    assert result.returncode == 0, result.stderr
    return Emulator.at(state_dir)
