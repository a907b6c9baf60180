"""Dockerfiles as users write them today, made from a test image's own Dockerfile."""

from __future__ import annotations

import re

MODERN_STAGES = """\
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE} AS deps
RUN --mount=type=cache,target=/root/.cache/pip python -m venv /opt/venv \\
    && echo "pip cache: $(ls /root/.cache/pip | wc -l) entries"
# A private package index's token and a netrc file, as BuildKit secrets. The step prints the
# token (as a careless build script would): the log must show it masked.
RUN --mount=type=secret,id=index_token,required=true \\
    --mount=type=secret,id=netrc,required=true \\
    echo "index token: $(cat /run/secrets/index_token)" \\
    && test -s /run/secrets/netrc \\
    && echo "secrets were mounted" > /opt/venv/SECRETS_SEEN
FROM ${BASE_IMAGE} AS assets
RUN mkdir /assets && echo "model weights" > /assets/weights.txt
"""
_LAST_FROM = re.compile(r"^FROM .*$", re.MULTILINE)


def modern(dockerfile: str) -> str:
    """`dockerfile` behind the modern stages, its final stage copying from both."""
    body = "\n".join(
        line for line in dockerfile.splitlines() if not line.startswith("ARG BASE_IMAGE")
    )
    last = list(_LAST_FROM.finditer(body))[-1]
    copies = "\nCOPY --from=deps /opt/venv /opt/venv\nCOPY --from=assets /assets /assets"
    return MODERN_STAGES + body[: last.end()] + copies + body[last.end() :] + "\n"
