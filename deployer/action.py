"""The action: its inputs (INPUT_*) → azureml-deploy's command line (entrypoint.py at the
repository's root runs this in the action's container).

The runner names an input INPUT_<NAME> with spaces turned into '_' and hyphens kept
(INPUT_SUBSCRIPTION-ID); the underscore form is read too. Everything else (the pull request,
sha, ref, tag, OIDC) the deployer reads from the runner's environment itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from deployer.commands import BUILDS_AN_IMAGE, CHANGES_AN_ENDPOINT, COMMANDS

# (input, command-line option); options of commands that do not take them are left out.
AZURE_OPTIONS = [
    ("subscription-id", "--subscription-id"),
    ("resource-group", "--resource-group"),
    ("workspace", "--workspace"),
    ("client-id", "--client-id"),
    ("tenant-id", "--tenant-id"),
    ("audience", "--audience"),
    ("cloud", "--cloud"),
]


def read_input(name: str, environ: Mapping[str, str]) -> str:
    for key in (f"INPUT_{name.upper()}", f"INPUT_{name.upper().replace('-', '_')}"):
        value = environ.get(key)
        if value is not None:
            return value.strip()
    return ""


def arguments(environ: Mapping[str, str]) -> list[str]:
    command = read_input("command", environ) or "deploy"
    if command == "import":
        return _import_arguments(environ)
    args = [command, "--config", read_input("config", environ) or "deploy.yml"]
    args += _named(environ, "environment", "endpoint-file", "deployment-file")
    if command not in COMMANDS or command == "validate":
        return args  # an unknown command is refused by the command line itself, with usage
    for name, option in AZURE_OPTIONS:
        if value := read_input(name, environ):
            args += [option, value]
    if read_input("summary", environ).lower() in ("false", "no", "0"):
        args.append("--no-summary")
    waits = read_input("wait", environ).lower() not in ("false", "no", "0")
    if command in CHANGES_AN_ENDPOINT and not waits:
        args.append("--no-wait")
    if command in BUILDS_AN_IMAGE:
        if tag := read_input("image-tag", environ):
            args += ["--image-tag", tag]
        if image := read_input("image", environ):
            args += ["--image", image]
        for line in read_input("build-args", environ).splitlines():
            if line.strip():
                args += ["--build-arg", line.strip()]
    return args


def _named(environ: Mapping[str, str], *names: str) -> list[str]:
    """`--name value` for each input given."""
    return [part for name in names if (v := read_input(name, environ)) for part in (f"--{name}", v)]


def _import_arguments(environ: Mapping[str, str]) -> list[str]:
    """`import`: the az ml files in, the deploy file (`config`) out."""
    files = [read_input(name, environ) for name in ("endpoint-file", "deployment-file")]
    output = read_input("config", environ) or "deploy.yml"
    return ["import", *[file for file in files if file], "--output", output]


def main() -> int:
    from deployer.cli import main as cli

    return cli(arguments(dict(os.environ)))
