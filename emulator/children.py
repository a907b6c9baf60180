"""The processes the emulator starts beside itself (the registries, Azurite): a free loopback
port for one, why one exited, and stopping one by its own handle (never by name)."""

from __future__ import annotations

import contextlib
import random
import socket
import subprocess
from pathlib import Path

# How Go (docker-registry) and Node (Azurite) word EADDRINUSE in their logs; `up` starts again
# with other ports when a child's startup failed for it.
PORT_TAKEN = "address already in use"

_LOWEST = 20000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port() -> int:
    """A loopback port nobody listens on, for a child that binds it a moment later.

    Picked below the kernel's ephemeral range: the kernel hands ports from that range to every
    bind(0) and every outgoing connection on the machine, so a port it gave us and we closed
    may be the next one it gives another process before our child binds it (several test
    workers start emulators at once). Below the range only another pick like this one can
    collide, and it is random."""
    below = _ephemeral_low()
    picker = random.SystemRandom()
    if below - _LOWEST >= 1024:
        for _ in range(64):
            port = picker.randrange(_LOWEST, below)
            if _bindable(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_low() -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    return 32768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def exited(name: str, process: subprocess.Popen[bytes], log: Path, lines: int = 8) -> str:
    """Why a child is gone, with the end of its log (the emulator's log then says it all)."""
    try:
        tail = log.read_text("utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        tail = []
    said = "\n  ".join(tail) if tail else "(its log is empty)"
    return f"{name} exited with code {process.returncode}; the end of {log}:\n  {said}"


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
