"""A program for tests/unit/test_launcher.py to start through the launcher."""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from pathlib import Path


def _finish_later() -> None:
    time.sleep(0.3)
    print("thread finished", flush=True)


def main() -> int:
    command, *rest = sys.argv[1:]
    if command == "echo":
        print(f"argv={sys.argv[1:]} cwd={Path.cwd()} greeting={os.environ.get('GREETING')}")
        print("to stderr", file=sys.stderr)
        return int(rest[0]) if rest else 0
    if command == "sleep":
        time.sleep(float(rest[0]))
        return 0
    if command == "finish":  # what the interpreter does after main() returns
        atexit.register(lambda: print("atexit ran", flush=True))
        threading.Thread(target=_finish_later).start()
        return 0
    if command == "raise":
        raise RuntimeError("boom")
    sys.exit(f"unknown command {command}")
