"""A small credit-risk model server with Azure ML's inference contract.

GET /health (liveness), GET /ready (readiness), POST /score (scoring), all on port 5001.
Standard library only, so the image builds without installing anything.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MODEL_PATH = Path(__file__).resolve().parent.parent / "model" / "model.json"
PORT = int(os.environ.get("PORT", "5001"))
MAX_BODY = 1024 * 1024

log = logging.getLogger("credit-risk")


class Model:
    def __init__(self, path: Path) -> None:
        spec = json.loads(path.read_text("utf-8"))
        self.version = os.environ.get("MODEL_VERSION", spec["version"])
        self.bias: float = spec["bias"]
        self.weights: dict[str, float] = spec["weights"]
        self.thresholds: dict[str, float] = spec["thresholds"]

    def predict(self, applicant: dict[str, Any]) -> dict[str, Any]:
        missing = [name for name in self.weights if name not in applicant]
        if missing:
            raise ValueError(f"missing features: {', '.join(missing)}")
        score = self.bias + sum(
            weight * float(applicant[name]) for name, weight in self.weights.items()
        )
        probability = 1.0 / (1.0 + math.exp(-score))
        if probability < self.thresholds["medium"]:
            risk = "low"
        elif probability < self.thresholds["high"]:
            risk = "medium"
        else:
            risk = "high"
        return {"default_probability": round(probability, 4), "risk": risk}


class Handler(BaseHTTPRequestHandler):
    model: Model
    server_version = "credit-risk"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(HTTPStatus.OK, {"status": "alive"})
        elif self.path == "/ready":
            self._send(HTTPStatus.OK, {"status": "ready", "model_version": self.model.version})
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})

    def do_POST(self) -> None:
        if self.path != "/score":
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "request too large"})
            return
        try:
            body = json.loads(self.rfile.read(length) or b"null")
            rows = body["data"]
            if not isinstance(rows, list):
                raise TypeError("`data` must be a list of applicants")
            predictions = [self.model.predict(row) for row in rows]
        except (ValueError, KeyError, TypeError) as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": f"bad request: {exc}"})
            return
        self._send(HTTPStatus.OK, {"predictions": predictions, "model_version": self.model.version})

    def _send(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stdout,
    )
    Handler.model = Model(MODEL_PATH)
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)  # noqa: S104 - a container
    signal.signal(signal.SIGTERM, lambda *_: server.shutdown())
    log.info("credit-risk model %s listening on port %d", Handler.model.version, PORT)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
