"""`cleanup`: delete preview endpoints older than their environment's `ttl_hours`."""

from __future__ import annotations

import datetime
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deployer.azure import MANAGED_BY, TAG_MANAGED_BY, EndpointState, Operation
from deployer.commands.session import Options, cancellation, open_session
from deployer.context import workspace_root
from deployer.errors import DeployerError, ExitCode, UsageError
from deployer.github import Runner, dump_json
from deployer.report import cleanup_markdown, publish
from deployer.spec import validate_deploy_file

CLEANUP_TIMEOUT_SECONDS = 30 * 60


@dataclass(frozen=True)
class Stale:
    name: str
    environment: str
    created: datetime.datetime
    age_hours: float


def preview_environments(options: Options) -> dict[str, float]:
    """Environment name → ttl_hours for the environments cleanup sweeps."""
    path = Path(options.config)
    report = validate_deploy_file(
        path, environment=options.environment, workspace=workspace_root(path)
    )
    if report.deploy_file is None:
        from deployer.errors import InvalidDeployFileError

        raise InvalidDeployFileError(f"{path} is invalid", problems=report.problems)
    ttl = {
        name: spec.ttl_hours
        for name, spec in report.deploy_file.environments.items()
        if spec.ttl_hours is not None
    }
    if not ttl:
        raise UsageError(
            "cleanup needs an environment with ttl_hours (a preview environment)"
            + (f"; {options.environment} has none" if options.environment else ""),
            hint="add ttl_hours to the preview overlay, e.g. environments.preview.ttl_hours: 72",
        )
    return ttl


def stale_endpoints(
    endpoints: list[EndpointState], ttl: Mapping[str, float], now: datetime.datetime
) -> list[Stale]:
    stale = []
    for endpoint in endpoints:
        tags = endpoint.tags
        environment = tags.get("environment", "")
        if tags.get(TAG_MANAGED_BY) != MANAGED_BY or environment not in ttl:
            continue
        try:
            created = datetime.datetime.fromisoformat(tags["created-at"].replace("Z", "+00:00"))
        except (KeyError, ValueError):
            continue
        age = (now - created).total_seconds() / 3600
        if age > ttl[environment]:
            stale.append(Stale(endpoint.name, environment, created, age))
    return sorted(stale, key=lambda item: item.created)


def run_cleanup(options: Options, runner: Runner, environ: Mapping[str, str]) -> ExitCode:
    cancelled = cancellation()
    ttl = preview_environments(options)
    environment = options.environment or next(iter(ttl))
    session = open_session(
        Options(**{**vars(options), "environment": environment}), runner, environ
    )
    now = datetime.datetime.now(datetime.UTC)
    stale = stale_endpoints(session.azure.endpoints(), ttl, now)
    rows = [
        (item.name, item.created.strftime("%Y-%m-%d %H:%M UTC"), f"{item.age_hours:.1f} h")
        for item in stale
    ]
    verb = "would delete" if options.dry_run else "deleting"
    runner.info(f"{len(stale)} preview endpoint(s) older than their ttl_hours; {verb}:")
    for name, created, age in rows:
        runner.info(f"  {name}  created {created}  ({age} old)")
    if not options.dry_run and stale:
        # Deletions run side by side: Azure does the work, we only wait.
        operations: list[Operation] = [
            session.azure.begin_delete_endpoint(item.name) for item in stale
        ]
        deadline = time.monotonic() + CLEANUP_TIMEOUT_SECONDS
        failed = []
        for operation in operations:
            try:
                operation.wait(deadline=deadline, cancelled=cancelled, progress=runner.info)
            except DeployerError as exc:
                failed.append(f"{operation.description}: {exc.message}")
        if failed:
            raise DeployerError("some preview endpoints were not deleted: " + "; ".join(failed))
    publish(runner, {"deleted": dump_json([item.name for item in stale])}, options.output_json)
    if options.summary:
        runner.add_summary(cleanup_markdown(rows, options.dry_run))
    return ExitCode.OK
