"""The command line: argument parsing, command dispatch and exit codes.

Every failure ends in a message (and a hint) on stderr and an exit code, never a traceback,
unless debugging is on (`--debug` or the runner's RUNNER_DEBUG=1).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from deployer import __version__
from deployer.errors import DeployerError, ExitCode, InvalidDeployFileError
from deployer.github import command, in_github_actions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="azureml-deploy",
        description="Ship a model server to an Azure ML managed online endpoint.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate",
        help="check the deploy file offline (no credentials needed)",
        description="Check the deploy file against its schema and Azure ML's rules, offline. "
        "Reports every problem at its line; exit code 0 valid, 1 invalid, 2 usage error.",
    )
    _add_config_options(validate)
    return parser


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default="deploy.yml", help="the deploy file (default: deploy.yml)"
    )
    parser.add_argument(
        "--environment",
        default=None,
        help="an environment overlay of the deploy file (default: all of them)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    github = in_github_actions()
    debug = bool(args.debug) or os.environ.get("RUNNER_DEBUG") == "1"
    try:
        return int(_dispatch(args, github=github))
    except InvalidDeployFileError as exc:
        for problem in exc.problems:
            print(problem.human(args.config), file=sys.stderr)
        return _fail(exc, github=github)
    except DeployerError as exc:
        return _fail(exc, github=github)
    except KeyboardInterrupt:
        print("azureml-deploy: cancelled", file=sys.stderr)
        return int(ExitCode.CANCELLED)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if debug:
            traceback.print_exc()
        message = f"internal error: {type(exc).__name__}: {exc}"
        print(f"azureml-deploy: {message}", file=sys.stderr)
        print(
            "  hint: this is a bug in azureml-deploy; please report it with the command you ran"
            + ("" if debug else " and the output of --debug"),
            file=sys.stderr,
        )
        if github:
            print(command("error", message, title="azureml-deploy"))
        return int(ExitCode.FAILURE)


def _dispatch(args: argparse.Namespace, *, github: bool) -> ExitCode:
    if args.command == "validate":
        from deployer.commands.validate import run_validate

        return run_validate(args.config, args.environment, github=github)
    raise AssertionError(f"unhandled command {args.command}")


def _fail(exc: DeployerError, *, github: bool) -> int:
    print(f"azureml-deploy: {exc.diagnostics()}", file=sys.stderr)
    if github:
        print(command("error", exc.diagnostics(), title="azureml-deploy"))
    return int(exc.exit_code)
