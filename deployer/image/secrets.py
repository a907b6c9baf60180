"""Build secrets are there before anything changes: each one's environment variable is set, or
its file exists inside the workspace. Only existence is checked here; the docker CLI reads the
values itself at build time (`--secret id=ID,env=NAME|src=FILE`). The builder reads them once
more only to register them with the runner's masker (image/build.py), so no value reaches the
log, the command line or the tag's hash."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from deployer.errors import BuildSecretMissing
from deployer.spec.model import BuildSpec, reserved_variable


def check_sources(build: BuildSpec, workspace: Path, environ: Mapping[str, str]) -> None:
    """Raise BuildSecretMissing for the first secret whose source is not there."""
    for secret_id, secret in build.secrets.items():
        if secret.env is not None and reserved_variable(secret.env):  # validation refused it
            raise BuildSecretMissing(
                f"build secret {secret_id!r} names {secret.env}, which carries the job's "
                "credentials",
                hint="give the secret a variable of its own",
            )
        if secret.env is not None and not environ.get(secret.env):
            raise BuildSecretMissing(
                f"build secret {secret_id!r} reads the environment variable {secret.env}, "
                "which is not set (or empty)",
                hint=f"set {secret.env} for this step, e.g. in a workflow `env: {secret.env}: "
                f"${{{{ secrets.{secret.env} }}}}`",
            )
        if secret.file is not None:
            _check_file(secret_id, secret.file, workspace.resolve())


def _check_file(secret_id: str, file: Path, workspace: Path) -> None:
    shown = file.relative_to(workspace).as_posix() if file.is_relative_to(workspace) else file
    if not file.resolve().is_relative_to(workspace):
        raise BuildSecretMissing(
            f"build secret {secret_id!r} names {shown}, which points outside the workspace "
            "(a symlink)",
            hint="write the secret to a file inside the workspace, not a link to one outside",
        )
    if not file.is_file():
        raise BuildSecretMissing(
            f"build secret {secret_id!r} names the file {shown}, which does not exist",
            hint="write it in an earlier step of the job (from a secret), or fix "
            f"image.build.secrets.{secret_id}.file",
        )
