"""The two sides of a scenario, each as its own process like a workflow step: the action's
command line in a repository, and a baseline (bench/baseline.py); timed, and failing loudly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from emulator.client import Emulator
from tools.repo import App

ROOT = Path(__file__).resolve().parents[1]


def action(
    app: App, config: str, label: str, *args: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """`azureml-deploy deploy` of `config` in the app's repository; seconds and the result."""
    started = time.monotonic()
    result = app.run("deploy", *args, "--no-summary", config=config, timeout=900)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"the action failed:\n{result.stderr[-3000:]}")
    print(f"     action {label}: {seconds:.1f} s", flush=True)
    return seconds, result


def baseline(emulator: Emulator, what: str, label: str, *args: str) -> float:
    """`python -m bench.baseline what --emulator … args`; its seconds."""
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.baseline",
            what,
            "--emulator",
            str(emulator.state_dir),
            *args,
        ],
        cwd=ROOT,
        # this process's MLClient left its cloud there; a fresh shell would not have it
        env={k: v for k, v in os.environ.items() if k != "AZUREML_CURRENT_CLOUD"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"the baseline failed:\n{result.stderr[-3000:]}")
    print(f"     baseline {what} {label}: {seconds:.1f} s", flush=True)
    return seconds
