# The action's own image. BASE_IMAGE can name a local copy of the base image where public images
# cannot be pulled; on GitHub's runners the default is used. Debian 12 (bookworm), so that the
# docker CLI below is the one of that release.
ARG BASE_IMAGE=python:3.12-slim-bookworm

# The model server is built with BuildKit through a docker CLI (deployer/image/docker_cli.py):
# Debian 12's docker.io, pinned by version and checked by apt against the release's signed index.
# Only its client binary is kept (docker 20.10, BuildKit client built in); it builds on the
# runner's engine, whose BuildKit and Dockerfile frontend are the runner's.
FROM ${BASE_IMAGE} AS docker-cli
ARG DOCKER_CLI_VERSION=20.10.24+dfsg1-1+deb12u1+b6
RUN apt-get update -qq \
 && cd /tmp && apt-get download -qq "docker.io=${DOCKER_CLI_VERSION}" \
 && dpkg-deb --fsys-tarfile docker.io_*.deb | tar -x -C /tmp ./usr/bin/docker \
 && /tmp/usr/bin/docker --version

FROM ${BASE_IMAGE} AS install
COPY requirements.lock /tmp/requirements.lock
# Only the pinned, hash-checked lock file; no compilers, no pip cache.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes \
      --no-deps -r /tmp/requirements.lock \
 && /opt/venv/bin/pip uninstall --yes pip setuptools \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

FROM ${BASE_IMAGE}
COPY --from=docker-cli /tmp/usr/bin/docker /usr/local/bin/docker
COPY --from=install /opt/venv /opt/venv
COPY deployer/ /app/deployer/
COPY schema/ /app/schema/
COPY entrypoint.py /app/entrypoint.py
# Byte-compile at build time what a run loads: the action starts faster on every run. Only
# what it imports, not all of the SDKs (a deploy never loads most of azure-ai-ml): as fast to
# start as compiling everything, and 16 MB smaller (docs/performance.md, scenario 5).
RUN /opt/venv/bin/python -m compileall -q /app \
 && PYTHONPATH=/app /opt/venv/bin/python -c "import deployer.action, deployer.cli, \
deployer.commands.deploy, deployer.commands.cleanup, deployer.commands.delete, \
deployer.commands.rollback, deployer.azure.client, deployer.image.resolve, deployer.pipeline, \
azure.ai.ml, azure.ai.ml.entities, azure.identity, docker" \
 && chmod 0755 /app/entrypoint.py
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The runner mounts the workspace at /github/workspace and runs the container as root.
ENTRYPOINT ["/app/entrypoint.py"]
