"""The fresh-runner tests' model server: the test model server (model_server.py, copied into
the build context from tests/images/model-server by tools/heavy_server.py) with a dependency it
imports, and CODE_VERSION, the one line a code-only commit changes. /score says both in
"color"."""

import os

import heavy_deps

CODE_VERSION = "1"
os.environ["COLOR"] = f"code {CODE_VERSION}, {heavy_deps.installed_bytes()} dependency bytes"

import model_server  # noqa: E402, F401 - serves until stopped
