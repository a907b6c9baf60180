"""Start the `azureml-deploy` command line from a process that has already imported it.

Importing azure-ai-ml takes about 1.7 s of CPU, more than most of what a test's run of the CLI
then does, and the suite runs the CLI well over a thousand times on a 2-core machine. A
launcher process per test worker imports the deployer once; each run is a fork of it, with the
test's pipes as its stdin, stdout and stderr, its own working directory, environment and
argv, and the console script's entry point run as `python azureml-deploy …` would run it:
`sys.exit(main())`, then the threads joined and the `atexit` functions run.

To the test it is a `subprocess.Popen`: `pid` is the run's own process (signals reach it, a
SIGKILL kills it), and `wait()`/`poll()` give its exit status, which the launcher (its parent)
reads from a pidfd and passes on. A run whose environment changes how Python starts (`PYTHON*`,
the locale), or that needs more of Popen than pipes, a working directory and an environment,
is started the ordinary way. `python -m tools.launcher MODULE:FUNCTION` is the launcher.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import importlib
import json
import os
import pkgutil
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENTRY_POINT = "deployer.cli:main"
SCRIPT = str(Path(sys.executable).parent / "azureml-deploy")  # the console script of ENTRY_POINT
PRELOAD = ("deployer", "azure.ai.ml", "azure.identity", "docker")
# What Python reads from the environment as it starts: a run that sets these differently from
# the launcher's own start is not a fork of it.
_STARTUP_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE")
_HEADER = 8  # bytes of a request's length


def _for_imports(environ: Mapping[str, str]) -> dict[str, str]:
    """The launcher's own environment: the test process's, without the cloud a test's
    MLClient registered (azure-ai-ml sets AZUREML_CURRENT_CLOUD to it, and reads it while it
    is imported, where a cloud registered in another process is unknown). Each run sets its
    own cloud (deployer/sdk.py)."""
    return {key: value for key, value in environ.items() if key != "AZUREML_CURRENT_CLOUD"}


def _startup_environment(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in environ.items()
        if name.startswith("PYTHON") or name in _STARTUP_VARIABLES
    }


# The launcher process


@dataclass
class _Child:
    pid: int
    pidfd: int
    connection: socket.socket


class _Server:
    """Forks one run per request; reports each run's wait status on its request's
    connection. Single-threaded, so a fork copies no lock held by another thread."""

    def __init__(self, entry_point: Callable[[], Any], path: Path) -> None:
        self.entry_point = entry_point
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(64)
        self.children: dict[int, _Child] = {}  # by pidfd

    def serve(self) -> None:
        while True:
            poller = select.poll()
            poller.register(0, select.POLLIN)  # the test worker's pipe: EOF when it ends
            poller.register(self.listener.fileno(), select.POLLIN)
            for pidfd in self.children:
                poller.register(pidfd, select.POLLIN)
            for fd, _ in poller.poll():
                if fd == 0:
                    if not os.read(0, 4096):
                        return
                elif fd == self.listener.fileno():
                    self._accept()
                else:
                    self._reap(fd)

    def _accept(self) -> None:
        connection, _ = self.listener.accept()
        try:
            request, fds = _receive_request(connection)
        except (OSError, ValueError) as exc:
            connection.close()
            print(f"launcher: a request could not be read: {exc}", file=sys.stderr)
            return
        try:
            if not Path(request["cwd"]).is_dir():
                _send(connection, {"error": "FileNotFoundError", "path": request["cwd"]})
                connection.close()
                return
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                self._become_the_run(request, fds, connection)
            pidfd = os.pidfd_open(pid)
        finally:
            for fd in fds:
                os.close(fd)
        self.children[pidfd] = _Child(pid, pidfd, connection)
        _send(connection, {"pid": pid})

    def _reap(self, pidfd: int) -> None:
        child = self.children.pop(pidfd)
        _, status = os.waitpid(child.pid, 0)
        os.close(pidfd)
        with contextlib.suppress(OSError):  # the test stopped waiting for it
            _send(child.connection, {"status": status})
        child.connection.close()

    def _become_the_run(
        self, request: dict[str, Any], fds: list[int], connection: socket.socket
    ) -> None:
        code: int = 1
        try:
            # Hand every descriptor of the launcher back without closing it through a Python
            # object later, which could close a descriptor the run has reused.
            self.listener.detach()
            connection.detach()
            for child in self.children.values():
                child.connection.detach()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            os.chdir(request["cwd"])
            os.environ.clear()
            os.environ.update(request["env"])
            tempfile.tempdir = None
            sys.argv = list(request["argv"])
            code = _exit_code(self.entry_point)
            threading._shutdown()  # type: ignore[attr-defined]  # as the interpreter exits
            atexit._run_exitfuncs()
        except BaseException:  # noqa: BLE001 - a fork must never return into the launcher
            traceback.print_exc()
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
            os._exit(code)


def _exit_code(entry_point: Callable[[], Any]) -> int:
    """What `sys.exit(entry_point())` makes the interpreter exit with."""
    try:
        result = entry_point()
    except SystemExit as exc:
        result = exc.code
    except BaseException:  # noqa: BLE001 - printed as the interpreter prints it
        traceback.print_exc()
        return 1
    if result is None:
        return 0
    if isinstance(result, int):
        return result & 0xFF
    print(result, file=sys.stderr)
    return 1


def _receive_request(connection: socket.socket) -> tuple[dict[str, Any], list[int]]:
    fds = array.array("i")
    data, ancillary, _, _ = connection.recvmsg(65536, socket.CMSG_SPACE(3 * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ValueError("a request carries stdin, stdout and stderr")
    length = int.from_bytes(data[:_HEADER], "big")
    body = data[_HEADER:]
    while len(body) < length:
        more = connection.recv(length - len(body))
        if not more:
            raise ValueError("the request ended early")
        body += more
    return json.loads(body), list(fds)


def _send(connection: socket.socket, message: dict[str, Any]) -> None:
    connection.sendall(json.dumps(message).encode() + b"\n")


def _load(entry_point: str) -> Callable[[], Any]:
    module, _, function = entry_point.partition(":")
    loaded: Callable[[], Any] = getattr(importlib.import_module(module), function)
    return loaded


def _preload(names: Sequence[str]) -> None:
    for name in names:
        module = importlib.import_module(name)
        if name == "deployer":  # every room of the house: commands import theirs lazily
            for info in pkgutil.walk_packages(module.__path__, "deployer."):
                if not info.name.endswith(".__main__"):  # which would run the CLI
                    importlib.import_module(info.name)


def main(argv: Sequence[str]) -> int:
    entry_point = _load(argv[0] if argv else ENTRY_POINT)
    _preload(argv[1:] or PRELOAD)
    if threading.active_count() != 1:  # a fork would copy another thread's locks
        print("launcher: importing started a thread; not forking", file=sys.stderr)
        return 1
    # not a TemporaryDirectory: its clean-up is an atexit function, which each run would call
    folder = Path(tempfile.mkdtemp(prefix="launcher-"))
    try:
        server = _Server(entry_point, folder / "socket")
        print(folder / "socket", flush=True)
        server.serve()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


# The test's side


class Launcher:
    """One launcher process; started on first use, ended with the process that started it."""

    def __init__(self, entry_point: str = ENTRY_POINT, preload: Sequence[str] = ()) -> None:
        self.entry_point = entry_point
        self.preload = tuple(preload)
        self._process: subprocess.Popen[bytes] | None = None
        self._path = ""
        self._startup: dict[str, str] | None = None  # the environment it started with
        self._lock = threading.Lock()

    def path(self) -> str:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._startup = _startup_environment(os.environ)
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "tools.launcher", self.entry_point, *self.preload],
                    cwd=Path(__file__).resolve().parent.parent,
                    env=_for_imports(os.environ),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
                assert self._process.stdout is not None
                self._path = self._process.stdout.readline().decode().strip()
                if not self._path:
                    raise RuntimeError("the launcher did not start (its stderr says why)")
                atexit.register(self.stop)
            return self._path

    def accepts(self, env: Mapping[str, str]) -> bool:
        started = self._startup if self._startup is not None else os.environ
        return _startup_environment(env) == _startup_environment(started)

    def stop(self) -> None:
        with self._lock:
            if self._process is not None:
                assert self._process.stdin is not None
                self._process.stdin.close()
                self._process.wait(timeout=30)
                self._process = None


class LaunchedRun(subprocess.Popen[str]):
    """A run forked by the launcher, as a Popen: pipes, `pid`, signals, `wait`, `poll`."""

    def __init__(self, launcher: Launcher, args: Sequence[str], **kwargs: Any) -> None:
        self._launcher = launcher
        self._connection: socket.socket | None = None
        self._reply = b""
        super().__init__(list(args), **kwargs)

    def _execute_child(  # noqa: PLR0917 - Popen's own signature
        self,
        args: list[str],
        executable: Any,
        preexec_fn: Any,
        close_fds: Any,
        pass_fds: Any,
        cwd: Any,
        env: Mapping[str, str],
        startupinfo: Any,
        creationflags: Any,
        shell: Any,
        p2cread: int,
        p2cwrite: int,
        c2pread: int,
        c2pwrite: int,
        errread: int,
        errwrite: int,
        *rest: Any,
    ) -> None:
        child_ends = [
            fd if fd != -1 else default
            for fd, default in zip((p2cread, c2pwrite, errwrite), (0, 1, 2), strict=True)
        ]
        request = json.dumps({"argv": list(args), "cwd": os.fspath(cwd), "env": dict(env)}).encode()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.connect(self._launcher.path())
            connection.sendmsg(
                [len(request).to_bytes(_HEADER, "big") + request],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", child_ends))],
            )
            reply = self._message(connection)
        except BaseException:
            connection.close()
            raise
        finally:
            # the child's ends of the pipes, as Popen closes them once it has forked
            self._close_pipe_fds(  # type: ignore[attr-defined]
                p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite
            )
        if "error" in reply:
            connection.close()
            raise FileNotFoundError(2, "No such file or directory", reply["path"])
        self._connection = connection
        self.pid = int(reply["pid"])
        self._child_created = True

    def _message(self, connection: socket.socket, block: bool = True) -> dict[str, Any]:
        while b"\n" not in self._reply:
            if not block and not select.select([connection], [], [], 0)[0]:
                return {}
            more = connection.recv(4096)
            if not more:
                raise ChildProcessError("the launcher ended before the run did")
            self._reply += more
        line, _, self._reply = self._reply.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message

    def _try_wait(self, wait_flags: int) -> tuple[int, int]:
        assert self._connection is not None
        message = self._message(self._connection, block=not wait_flags & os.WNOHANG)
        if "status" not in message:
            return 0, 0
        self._connection.close()
        return self.pid, int(message["status"])

    def _internal_poll(self, _deadstate: Any = None, *_: Any) -> int | None:
        if self.returncode is None and self._connection is not None:
            with self._waitpid_lock:  # type: ignore[attr-defined]
                if self.returncode is None:
                    pid, status = self._try_wait(os.WNOHANG)
                    if pid == self.pid:
                        self._handle_exitstatus(status)  # type: ignore[attr-defined]
        return self.returncode


_LAUNCHER = Launcher()
_PLAIN = ("stdin", "stdout", "stderr", "text", "cwd", "env")
_cold = False


def start_cold() -> None:
    """From now on, start every run the ordinary way: the benchmark times what a user waits
    for, the interpreter's start included, on both sides."""
    global _cold  # noqa: PLW0603 - one switch for the process
    _cold = True


def popen(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
    """`subprocess.Popen(args, **kwargs)`, forked from the launcher when it can be."""
    env = kwargs.get("env") or os.environ
    # pidfds are Linux's (5.3 and later): elsewhere every run starts the ordinary way
    forkable = (
        not _cold
        and hasattr(os, "pidfd_open")
        and args[0] == SCRIPT
        and set(kwargs) <= set(_PLAIN)
        and kwargs.get("cwd")
    )
    if forkable and _LAUNCHER.accepts(env):
        return LaunchedRun(_LAUNCHER, args, **{**kwargs, "env": env})
    return subprocess.Popen(list(args), **kwargs)


def run(
    args: Sequence[str], *, timeout: float, cwd: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(args, capture_output=True, text=True, …)` through `popen`."""
    with popen(
        args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    return subprocess.CompletedProcess(list(args), process.returncode, stdout, stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
