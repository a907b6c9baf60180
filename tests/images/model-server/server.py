"""A model server for the tests; its behaviour is chosen by environment variables:

MODE=serve (default) | crash | never-ready    SCORE_DELAY=<seconds>    SCORE_STATUS=<code>
SCORE_DROP=1 closes the connection on /score without an answer. FAIL_INPUT=<key> answers 500
to a scoring request whose JSON object has that key (an input the smoke request lacks: a new
version's bug that only real clients hit). PREDICT=parity answers a request {"x": <integer>}
as a classifier would, {"label": "even" | "odd", "score": x / 100}; with `,flip_every=20` the
label of every 20th x is wrong (fast, healthy and 5 % wrong), with `,drift=0.0004` every score
is that much off. SWAGGER=1 serves
/swagger.json. /score answers which deployment and instance served it, how many scoring
requests this instance has seen, the FLAVOR build argument of its image, and the files of the
model Azure ML mounts for it (AZUREML_MODEL_DIR), if any.
"""

import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = os.environ.get("MODE", "serve")
PORT = int(os.environ.get("PORT", "5001"))
served = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self._send(200, {"alive": True})
        elif self.path == "/ready":
            if MODE == "never-ready":
                self._send(503, {"ready": False, "reason": "model still loading"})
            else:
                self._send(200, {"ready": True})
        elif self.path == "/swagger.json" and os.environ.get("SWAGGER") == "1":
            self._send(200, {"openapi": "3.0.0", "info": {"title": "test model"}})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        global served  # noqa: PLW0603 - one counter for the whole test server
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length)
        if self.path != "/score":
            self._send(404, {"error": "not found"})
            return
        with lock:
            served += 1
            count = served
        time.sleep(float(os.environ.get("SCORE_DELAY", "0")))
        payload = json.loads(data or b"null")
        fail_input = os.environ.get("FAIL_INPUT")
        if fail_input and isinstance(payload, dict) and fail_input in payload:
            self._send(500, {"error": f"KeyError: cannot score {fail_input!r}"})
            return
        answer = predict(payload)
        if answer is not None:
            self._send(int(os.environ.get("SCORE_STATUS", "200")), answer)
            return
        if os.environ.get("SCORE_DROP") == "1":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(
            int(os.environ.get("SCORE_STATUS", "200")),
            {
                "deployment": os.environ.get("AZUREML_DEPLOYMENT_NAME"),
                "instance": socket.gethostname(),
                "served": count,
                "echo": payload,
                "color": os.environ.get("COLOR"),
                "flavor": os.environ.get("FLAVOR"),
                **model_files(),
            },
        )

    def log_message(self, format, *args):
        sys.stdout.write(f"{self.command} {self.path}\n")
        sys.stdout.flush()


def predict(payload):
    """PREDICT's answer to {"x": <integer>}, or None (not in PREDICT mode, or another request)."""
    mode, *options = os.environ.get("PREDICT", "").split(",")
    if mode != "parity" or not isinstance(payload, dict) or not isinstance(payload.get("x"), int):
        return None
    settings = dict(option.split("=", 1) for option in options)
    x = payload["x"]
    flip_every = int(settings.get("flip_every", "0"))
    flipped = flip_every > 0 and x % flip_every == 0
    label = "even" if (x % 2 == 0) != flipped else "odd"
    return {"label": label, "score": x / 100 + float(settings.get("drift", "0"))}


def model_files():
    """The model Azure ML mounts for a custom container (AZUREML_MODEL_DIR), if any."""
    root = os.environ.get("AZUREML_MODEL_DIR")
    if not root:
        return {}
    found = sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _, names in os.walk(root)
        for name in names
    )
    return {"model_dir": root, "model_files": found}


if MODE == "crash":
    print("boom: the model file /models/model.bin is missing", file=sys.stderr, flush=True)
    sys.exit(3)
print(f"test model server listening on {PORT} (mode {MODE})", flush=True)
ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
