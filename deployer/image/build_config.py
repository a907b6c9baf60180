"""The docker CLI's configuration for one build: the user's own (their `docker login`s for base
images stay usable) plus a credential helper for the Azure registry, so that BuildKit can import
the build cache from it.

The registry's refresh token is never written to disk: the helper is a two-line script that
prints it from its environment, which only the docker CLI process of this build carries (the
credential-helper protocol of docker/docker-credential-helpers: `get`, the server on stdin, a
JSON {ServerURL, Username, Secret} on stdout).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HELPER = "azureml-deploy"
TOKEN_VARIABLE = "AZUREML_DEPLOY_REGISTRY_CREDENTIAL"  # noqa: S105 - a variable name
USER_VARIABLE = "AZUREML_DEPLOY_REGISTRY_USER"
_SCRIPT = f"""#!/bin/sh
[ "$1" = get ] || exit 1
printf '{{"ServerURL":"","Username":"%s","Secret":"%s"}}' "${USER_VARIABLE}" "${TOKEN_VARIABLE}"
"""


def _user_config(environ: dict[str, str]) -> dict[str, object]:
    folder = environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    try:
        loaded = json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


@contextmanager
def cli_environment(
    login_server: str, username: str, token: str, base: dict[str, str]
) -> Iterator[dict[str, str]]:
    """The environment of a docker CLI that signs in to `login_server` with `token`."""
    folder = Path(tempfile.mkdtemp(prefix="azureml-deploy-docker-"))
    try:
        config = _user_config(base)
        helpers = dict(config.get("credHelpers") or {})  # type: ignore[call-overload]
        helpers[login_server] = HELPER
        config["credHelpers"] = helpers
        (folder / "config.json").write_text(json.dumps(config))
        (folder / "config.json").chmod(0o600)
        helper = folder / f"docker-credential-{HELPER}"
        helper.write_text(_SCRIPT)
        helper.chmod(0o700)
        environment = {
            **base,
            "DOCKER_CONFIG": str(folder),
            "PATH": f"{folder}{os.pathsep}{base.get('PATH', '')}",
            TOKEN_VARIABLE: token,
            USER_VARIABLE: username,
        }
        yield environment
    finally:
        shutil.rmtree(folder, ignore_errors=True)
