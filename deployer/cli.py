"""The command line: argument parsing, command dispatch and exit codes.

Every failure ends in a message (and a hint) in the log and an exit code, never a traceback,
unless debugging is on (`--debug` or the runner's RUNNER_DEBUG=1).
"""

from __future__ import annotations

import argparse
import os
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from deployer import __version__
from deployer.cloud import CLOUD_NAMES
from deployer.commands import BUILDS_AN_IMAGE, CHANGES_AN_ENDPOINT, COMMANDS
from deployer.diagnostics import one_line
from deployer.errors import DeployerError, ExitCode, InvalidDeployFileError, UsageError
from deployer.github.oidc import TOKEN_EXCHANGE_AUDIENCE
from deployer.github.runner import Runner
from deployer.options import Options


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="azureml-deploy",
        description="Ship a model server to an Azure ML managed online endpoint.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in COMMANDS.items():
        sub = commands.add_parser(name, help=text, description=text)
        if name == "import":
            _add_import_options(sub)
            continue
        _add_config_options(sub)
        if name != "validate":
            _add_azure_options(sub)
        if name in BUILDS_AN_IMAGE:
            sub.add_argument(
                "--image-tag",
                help="tag for the built image (default: <short sha>-<hash of the build inputs>)",
            )
            sub.add_argument(
                "--image",
                help="deploy this prebuilt image instead of building: repository:tag or "
                "repository@sha256:... in the deploy file's registry (image.build is ignored)",
            )
            sub.add_argument(
                "--build-arg",
                action="append",
                default=[],
                metavar="NAME=VALUE",
                help="an extra build argument (repeatable), e.g. a local BASE_IMAGE; also "
                "$AZUREML_DEPLOY_BUILD_ARGS (NAME=VALUE, space-separated)",
            )
            sub.add_argument(
                "--build-network",
                help="network mode for the image build, e.g. host; also "
                "$AZUREML_DEPLOY_BUILD_NETWORK",
            )
        if name == "cleanup":
            sub.add_argument("--dry-run", action="store_true", help="list, do not delete")
        if name in CHANGES_AN_ENDPOINT:
            sub.add_argument(
                "--no-wait",
                dest="wait",
                action="store_false",
                help="fail at once when another run is changing the endpoint, instead of waiting "
                "for it (up to the rollout's timeout)",
            )
    return parser


def _add_import_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="an az ml online deployment file, and optionally its endpoint file",
    )
    parser.add_argument(
        "--output",
        "-o",
        default="deploy.yml",
        help="the deploy file to write (default: deploy.yml)",
    )
    parser.add_argument("--force", action="store_true", help="replace the output if it exists")


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default="deploy.yml", help="the deploy file (default: deploy.yml)"
    )
    parser.add_argument(
        "--environment",
        default=None,
        help="an environment overlay of the deploy file",
    )
    parser.add_argument(
        "--endpoint-file",
        help="an Azure ML CLI (az ml) endpoint YAML file, read as the deploy file's endpoint",
    )
    parser.add_argument(
        "--deployment-file",
        help="an az ml online deployment YAML file, read as the deploy file's deployment "
        "(with no deploy file, these two are the whole of it)",
    )


def _add_azure_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subscription-id", help="default: $AZURE_SUBSCRIPTION_ID")
    parser.add_argument("--resource-group", help="default: $AZURE_RESOURCE_GROUP")
    parser.add_argument("--workspace", help="default: $AZUREML_WORKSPACE")
    parser.add_argument(
        "--cloud",
        choices=CLOUD_NAMES,
        help="AzureCloud (default, or $AZUREML_DEPLOY_CLOUD), AzureUSGovernment, "
        "AzureChinaCloud, or local (the emulator)",
    )
    parser.add_argument("--client-id", help="app registration (OIDC); default $AZURE_CLIENT_ID")
    parser.add_argument("--tenant-id", help="its tenant; default $AZURE_TENANT_ID")
    parser.add_argument(
        "--audience", default=TOKEN_EXCHANGE_AUDIENCE, help="audience of the GitHub ID token"
    )
    parser.add_argument("--pr", type=int, help="pull request number, outside GitHub Actions")
    parser.add_argument("--output-json", type=Path, help="also write the outputs to this file")
    parser.add_argument("--no-summary", dest="summary", action="store_false", help="no job summary")


def _options(args: argparse.Namespace, environ: Mapping[str, str]) -> Options:
    """The options, resolved once: each Azure value from its argument, else its environment
    variable; the build's settings likewise; the workspace root from GITHUB_WORKSPACE."""
    from deployer.context import workspace_root
    from deployer.inputs import check_inputs

    def given(value: str | None, variable: str) -> str | None:
        return value or environ.get(variable) or None

    subscription_id = given(args.subscription_id, "AZURE_SUBSCRIPTION_ID")
    resource_group = given(args.resource_group, "AZURE_RESOURCE_GROUP")
    workspace = given(args.workspace, "AZUREML_WORKSPACE")
    client_id = given(args.client_id, "AZURE_CLIENT_ID")
    tenant_id = given(args.tenant_id, "AZURE_TENANT_ID")
    cloud = given(args.cloud, "AZUREML_DEPLOY_CLOUD") or "AzureCloud"
    if cloud not in CLOUD_NAMES:
        raise UsageError(
            f"AZUREML_DEPLOY_CLOUD is {cloud!r}, not a cloud",
            hint=f"use one of: {', '.join(CLOUD_NAMES)}",
        )
    build_args = {}
    from_environment = environ.get("AZUREML_DEPLOY_BUILD_ARGS", "").split()
    for item in [*from_environment, *getattr(args, "build_arg", [])]:
        name, separator, value = item.partition("=")
        if not separator or not name:
            raise UsageError(f"--build-arg takes NAME=VALUE (got {item!r})")
        build_args[name] = value
    check_inputs(
        {
            "subscription-id": subscription_id,
            "resource-group": resource_group,
            "workspace": workspace,
            "client-id": client_id,
            "tenant-id": tenant_id,
            "image-tag": getattr(args, "image_tag", None),
        }
    )
    return Options(
        config=args.config,
        endpoint_file=args.endpoint_file,
        deployment_file=args.deployment_file,
        root=workspace_root(Path(args.config), environ),
        environment=args.environment,
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace=workspace,
        cloud=cloud,
        image_tag=getattr(args, "image_tag", None),
        image=getattr(args, "image", None) or None,
        client_id=client_id,
        tenant_id=tenant_id,
        audience=args.audience,
        output_json=args.output_json,
        pr=args.pr,
        build_args=MappingProxyType(build_args),
        build_network=given(getattr(args, "build_network", None), "AZUREML_DEPLOY_BUILD_NETWORK"),
        summary=args.summary,
        dry_run=getattr(args, "dry_run", False),
        wait=getattr(args, "wait", True),
    )


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """The command line; `environ` is the one environment every part of the run reads
    (this process's by default)."""
    environ = dict(os.environ if environ is None else environ)
    parser = build_parser()
    args = parser.parse_args(argv)
    runner = Runner(environ)
    debug = bool(args.debug) or environ.get("RUNNER_DEBUG") == "1"
    runner.capture_logging(debug)
    try:
        return int(_dispatch(args, runner, environ))
    except InvalidDeployFileError as exc:
        runner.problems(exc.problems, getattr(args, "config", "deploy.yml"))
        return _fail(exc, runner, debug)
    except DeployerError as exc:
        return _fail(exc, runner, debug)
    except KeyboardInterrupt:
        runner.info("azureml-deploy: cancelled")
        return int(ExitCode.CANCELLED)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if debug:
            runner.info(traceback.format_exc())
        message = one_line(runner.scrub(f"internal error: {type(exc).__name__}: {exc}"))
        runner.info(f"azureml-deploy: {message}")
        runner.info(
            "  hint: this is a bug in azureml-deploy; please report it with the command you ran"
            + ("" if debug else " and the output of --debug")
        )
        if runner.in_actions:
            runner.error(message)
        return int(ExitCode.FAILURE)


def _dispatch(args: argparse.Namespace, runner: Runner, environ: Mapping[str, str]) -> ExitCode:
    if args.command == "import":
        from deployer.commands.import_files import run_import
        from deployer.context import workspace_root

        # the repository it runs in, not wherever --output points
        root = workspace_root(Path.cwd() / "deploy.yml", environ)
        return run_import(args.files, args.output, args.force, runner, root)
    if args.command == "validate":
        from deployer.commands.validate import run_validate
        from deployer.context import workspace_root
        from deployer.spec.azml_files import GivenFiles

        root = workspace_root(Path(args.config), environ)
        given = GivenFiles.of(args.endpoint_file, args.deployment_file)
        return run_validate(args.config, args.environment, runner, root, given)
    options = _options(args, environ)
    if args.command == "deploy":
        from deployer.commands.deploy import run_deploy

        return run_deploy(options, runner, environ)
    if args.command == "plan":
        from deployer.commands.deploy import run_plan

        return run_plan(options, runner, environ)
    if args.command == "delete":
        from deployer.commands.delete import run_delete

        return run_delete(options, runner, environ)
    if args.command in ("rollback", "promote", "abort"):
        from deployer.commands.rollback import run_after

        return run_after(args.command, options, runner, environ)
    from deployer.commands.cleanup import run_cleanup

    return run_cleanup(options, runner, environ)


def _fail(exc: DeployerError, runner: Runner, debug: bool) -> int:
    # Messages carry user input (paths, names): each part stays on one log line.
    runner.info(f"azureml-deploy: {one_line(exc.message)}")
    if exc.hint:
        runner.info(f"  hint: {one_line(exc.hint)}")
    if debug:  # what caused it, link by link, and where (sigstore's log_and_exit does the same)
        for cause in exc.causes():
            runner.info(f"  caused by {type(cause).__name__}: {one_line(runner.scrub(str(cause)))}")
        runner.info(runner.scrub("".join(traceback.format_exception(exc))))
    if runner.in_actions:
        runner.error(exc.diagnostics())
    return int(exc.exit_code)
