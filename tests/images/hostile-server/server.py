"""A model server that answers its scoring route with text meant to hijack the runner: workflow
commands in both forms, a stop-commands, the key it was given (raw and base64), Markdown and
HTML for the job summary. HOSTILE_STATUS is the status of /score (default 500, so the smoke
test fails and quotes the body); CRASH=1 prints the same to its log and exits.
"""

import base64
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INJECTIONS = [
    "```",
    "<img src=x onerror=alert(1)>",
    "| broken | table |",
    "[click](javascript:alert(1)) ![pixel](https://attacker.invalid/p.png)",
    "##[stop-commands]tok-server",
    "::error title=azureml-deploy::INJECTED-SERVER",
    "\u3000::add-mask::INJECTED-SERVER",
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._send(200, b"ok")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        echoed = [f"your key: {key}", "base64: " + base64.b64encode(key.encode()).decode()]
        body = "\n".join([*echoed, *INJECTIONS]).encode()
        self._send(int(os.environ.get("HOSTILE_STATUS", "500")), body)

    def log_message(self, format, *args):
        sys.stdout.write("##[warning]INJECTED-ACCESS-LOG " + self.path + "\n")


for line in INJECTIONS:
    print(line, flush=True)
if os.environ.get("CRASH") == "1":
    sys.exit(3)
ThreadingHTTPServer(("0.0.0.0", 5001), Handler).serve_forever()
