"""The hostile inputs of the attacker suite, shared with `make reliability` (which measures
them): files that expand without end, events nested without end, a model server that answers
slowly or without end, and a model server whose every word tries to command the runner."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tools.images import ROOT
from tools.repo import App, JobRun


def merge_bomb(levels: int = 10, width: int = 10) -> str:
    """The attack of the issue (611 bytes there): each level merges the one before it `width`
    times, so a loader that expands merge keys without counting visits width**levels
    mappings."""
    lines = ["version: 1", "x0: &x0 {a: 1}"]
    for level in range(1, levels + 1):
        sources = ", ".join([f"*x{level - 1}"] * width)
        lines.append(f"x{level}: &x{level} {{<<: [{sources}]}}")
    return "\n".join(lines) + "\n"


def merge_flood(keys: int = 1000, merges: int = 120) -> str:
    """One mapping of `keys` keys merged `merges` times into another: few values come out (the
    merged keys are the same), but every merged key must be looked at. 12 KB."""
    big = ", ".join(f"k{i}: {i}" for i in range(keys))
    sources = ", ".join(["*big"] * merges)
    return f"version: 1\nbig: &big {{{big}}}\nflood: {{<<: [{sources}]}}\n"


def deep_event(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


class _Hostile(BaseHTTPRequestHandler):
    """/trickle: 100 bytes, one a second. /big: 300 MB. Counts what it managed to send."""

    protocol_version = "HTTP/1.1"
    sent = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        trickle = self.path == "/trickle"
        size = 100 if trickle else 300 * 1024 * 1024
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b" " if trickle else b"x" * 65536
        with contextlib.suppress(OSError):
            for _ in range(size // len(chunk)):
                self.wfile.write(chunk)
                self.wfile.flush()
                type(self).sent += len(chunk)
                if trickle:
                    time.sleep(1)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextlib.contextmanager
def hostile_http_server() -> Iterator[tuple[str, type[_Hostile]]]:
    """A hostile model server on 127.0.0.1: its URL, and its handler class (`.sent`)."""
    _Hostile.sent = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", _Hostile
    finally:
        httpd.shutdown()
        httpd.server_close()


HOSTILE_DEPLOY = """\
version: 1
endpoint: {name: hostile}
image:
  registry: contosoml.azurecr.io
  repository: hostile
  build: {context: ., args: {FAIL_BUILD: "0"}}
deployment:
  instance_type: Standard_DS2_v2
  environment_variables: {HOSTILE_STATUS: "500"}
  inference_config:
    liveness_route: {port: 5001, path: /health}
    readiness_route: {port: 5001, path: /ready}
    scoring_route: {port: 5001, path: /score}
  readiness_probe: {initial_delay: 1, period: 1, failure_threshold: 3}
  liveness_probe: {initial_delay: 1, period: 1}
rollout: {timeout_minutes: 5}
smoke_test: {request: request.json, attempts: 1, timeout_seconds: 5}
environments:
  preview:
    endpoint: {name: "hostile-pr{pr}"}
    rollout: {strategy: replace}
    ttl_hours: 1
"""


def hostile_app(app: App, **changes: str) -> dict[str, str]:
    """tests/images/hostile-server in `app` at hostile/, with `changes` made to its deploy
    file; the job environment for its own commit (the image tag is the commit's short sha)."""
    shutil.copytree(ROOT / "tests" / "images" / "hostile-server", app.root / "hostile")
    text = HOSTILE_DEPLOY
    for old, new in changes.items():
        text = text.replace(old, new)
    (app.root / "hostile" / "deploy.yml").write_text(text)
    (app.root / "hostile" / "request.json").write_text("{}\n")
    return {"GITHUB_SHA": app.commit("a hostile pull request")}


def hostile_preview(app: App, folder: Path, **changes: str) -> JobRun:
    """The hostile server deployed as pull request 9's preview, in a GitHub job."""
    job = hostile_app(app, **changes)
    return app.in_a_job(
        "deploy",
        folder,
        "--environment",
        "preview",
        pull_request=9,
        config="hostile/deploy.yml",
        env=job,
    )
