"""`up`, `down`, `status` and `env`: start the emulator in the background, stop exactly what it
started, and tell clients how to reach it."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from emulator.children import PORT_TAKEN

CONNECTION_FILE = "connection.json"
PID_FILE = "emulator.pid"
LOG_FILE = "emulator.log"
DEFAULT_DIR = ".emulator"
ENV_DIR = "AZUREML_EMULATOR_DIR"

# A port picked for a child can be taken by another process before the child binds it
# (emulator/children.free_port); `up` then starts again, at most this many times in all.
STARTS = 3
_EXITED = 2
_TIMED_OUT = 3


def state_dir(given: str | None) -> Path:
    """--state-dir, else $AZUREML_EMULATOR_DIR, else .emulator/ in the current directory."""
    return Path(given or os.environ.get(ENV_DIR) or DEFAULT_DIR).resolve()


def read_connection(directory: Path) -> dict[str, Any] | None:
    path = directory / CONNECTION_FILE
    if not path.exists():
        return None
    connection: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return connection


def _pid(directory: Path) -> int | None:
    try:
        return int((directory / PID_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def admin_headers(connection: dict[str, Any]) -> dict[str, str]:
    """The admin API's credential: this start's `admin_token` from the connection file."""
    return {"Authorization": f"Bearer {connection.get('admin_token', '')}"}


def _healthy(connection: dict[str, Any]) -> bool:
    """The admin API answers, and to this connection file's token (the file is written when
    every part is ready, before any probe: `up` reads it first)."""
    context = ssl.create_default_context(cafile=connection["ca_cert"])
    request = urllib.request.Request(  # noqa: S310 - our own https URL
        connection["admin_url"] + "/health", headers=admin_headers(connection)
    )
    try:
        with urllib.request.urlopen(  # noqa: S310
            request, context=context, timeout=2
        ) as response:
            return bool(response.status == 200)
    except (OSError, KeyError):
        return False


def running(directory: Path) -> dict[str, Any] | None:
    """The connection of a live emulator in `directory`, or None."""
    pid = _pid(directory)
    connection = read_connection(directory)
    if pid is None or connection is None or connection.get("pid") != pid or not _alive(pid):
        return None
    return connection if _healthy(connection) else None


def storage_environment(connection: dict[str, Any]) -> dict[str, str]:
    """What a process sets so that the SDK's blob URLs (`https://<account>.blob.storage.
    localhost:<port>`) reach Azurite: the emulator's storage proxy, which takes those names
    alone (emulator/storage_proxy.py); everything the emulator serves on 127.0.0.1 and the
    scoring gateway's host-style names go direct."""
    return {
        "HTTPS_PROXY": str(connection["storage_proxy"]),
        "NO_PROXY": "127.0.0.1,inference.localhost",
    }


def preflight(data_plane: str) -> str | None:
    """Why the emulator cannot start here, in one line, or None."""
    from emulator import storage

    return _data_plane_missing(data_plane) or storage.missing()


def _data_plane_missing(data_plane: str) -> str | None:
    if data_plane != "docker":
        return None
    fix = (
        "run scripts/ensure-docker.sh (Debian/Ubuntu, as root), "
        "or install Docker and Debian's docker-registry yourself"
    )
    if shutil.which("docker-registry") is None:
        return f"the docker-registry binary (CNCF distribution) is not installed; {fix}"
    try:
        import docker

        docker.from_env(timeout=10).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means the same thing here
        return f"the Docker engine is not reachable ({type(exc).__name__}); {fix}"
    return None


def up(
    directory: Path,
    profile: str,
    time_scale: float,
    data_plane: str = "docker",
    *,
    timeout: float = 60,
    storage: str = "disk",
) -> int:
    problem = preflight(data_plane)
    if problem is not None:
        print(f"emulator: {problem}", file=sys.stderr)
        return 1
    directory.mkdir(parents=True, exist_ok=True)
    existing = running(directory)
    if existing is not None:
        print(
            f"emulator already running (pid {existing['pid']}, profile "
            f"{existing['profile']}); `down` first to restart it",
            file=sys.stderr,
        )
        _print_summary(directory, existing)
        return 0
    serve = [
        "--state-dir",
        str(directory),
        "--profile",
        profile,
        "--time-scale",
        str(time_scale),
        "--data-plane",
        data_plane,
        "--storage",
        storage,
    ]
    for attempt in range(1, STARTS + 1):
        log_start = _size(directory / LOG_FILE)
        outcome = _start(directory, serve, timeout)
        if outcome == 0:
            return 0
        since = _read_from(directory / LOG_FILE, log_start)
        if outcome == _EXITED and PORT_TAKEN in since and attempt < STARTS:
            print(
                "emulator: a port it picked was taken before its process bound it; "
                "starting again with other ports",
                file=sys.stderr,
            )
            continue
        if outcome == _EXITED:
            print("the emulator exited at startup; its log:", file=sys.stderr)
        else:
            print(
                f"the emulator did not become ready within {timeout:.0f} s; its log:",
                file=sys.stderr,
            )
        print(_tail_text(since), file=sys.stderr)
        return 1
    return 1


def _start(directory: Path, serve: list[str], timeout: float) -> int:
    """One start of `serve`: 0 when it answers, _EXITED or _TIMED_OUT (stopped) when not."""
    (directory / CONNECTION_FILE).unlink(missing_ok=True)
    environment = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [package_root, environment.get("PYTHONPATH")])
    )
    with (directory / LOG_FILE).open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulator",
                "serve",
                *serve,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
        )
    (directory / PID_FILE).write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            (directory / PID_FILE).unlink(missing_ok=True)
            return _EXITED
        connection = running(directory)
        if connection is not None:
            _print_summary(directory, connection)
            return 0
        time.sleep(0.1)
    _stop(process.pid)
    (directory / PID_FILE).unlink(missing_ok=True)
    return _TIMED_OUT


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log)"


def down(directory: Path) -> int:
    pid = _pid(directory)
    if pid is None or not _alive(pid):
        print("emulator not running", file=sys.stderr)
    else:
        _stop(pid)
        print(f"emulator stopped (pid {pid})", file=sys.stderr)
    (directory / PID_FILE).unlink(missing_ok=True)
    (directory / CONNECTION_FILE).unlink(missing_ok=True)
    return 0


def _stop(pid: int, grace: float = 30) -> None:
    """SIGTERM the emulator (it stops its own children), SIGKILL its process group if stuck."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pid) or _is_zombie(pid):
            _reap(pid)
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _reap(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (FileNotFoundError, IndexError):
        return False


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def status(directory: Path) -> int:
    connection = running(directory)
    if connection is None:
        print(f"emulator not running (state dir {directory})")
        return 3
    print(
        f"emulator running (pid {connection['pid']}, profile {connection['profile']}, "
        f"time scale {connection['time_scale']})"
    )
    _print_summary(directory, connection, to=sys.stdout)
    return 0


def env(directory: Path) -> int:
    connection = running(directory)
    if connection is None:
        print("emulator not running; start it with `python -m emulator up`", file=sys.stderr)
        return 1
    exports = {
        ENV_DIR: str(directory),
        "REQUESTS_CA_BUNDLE": connection["ca_bundle"],
        # The docker CLI fetches registry tokens for BuildKit itself (Go: SSL_CERT_FILE).
        "SSL_CERT_FILE": connection["ca_bundle"],
        "AZURE_TENANT_ID": connection["tenant_id"],
        "AZURE_CLIENT_ID": connection["client_id"],
        "AZURE_SUBSCRIPTION_ID": connection["subscription_id"],
        "AZURE_AUTHORITY_HOST": connection["authority_url"],
        "ACTIONS_ID_TOKEN_REQUEST_URL": connection["oidc"]["request_url"],
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": connection["oidc"]["request_token"],
        **storage_environment(connection),
    }
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def _print_summary(directory: Path, connection: dict[str, Any], to: Any = sys.stderr) -> None:
    print(f"  state dir    {directory}", file=to)
    print(f"  connection   {directory / CONNECTION_FILE}", file=to)
    for label, key in (
        ("ARM", "arm_url"),
        ("Entra ID", "authority_url"),
        ("scoring", "gateway_url"),
        ("admin", "admin_url"),
    ):
        print(f"  {label:<12} {connection[key]}", file=to)
    print(f"  OIDC issuer  {connection['oidc']['issuer']}", file=to)
    print(
        f"  workspace    {connection['subscription_id']}/{connection['resource_group']}/"
        f"{connection['workspace']}",
        file=to,
    )


def _tail_text(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:]) or "(no log)"
