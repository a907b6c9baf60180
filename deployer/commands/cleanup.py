"""`cleanup`: delete this repository's preview endpoints older than their environment's
`ttl_hours` (see policy.py for what it may delete)."""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deployer.azure.operation import Operation
from deployer.context import workspace_root
from deployer.deadline import Deadline
from deployer.errors import DeployerError, ExitCode, UsageError
from deployer.github.runner import Runner
from deployer.options import Options
from deployer.plan import plan_retire_kept
from deployer.report import cleanup_markdown, dump_json, publish
from deployer.run import converge, desired_state
from deployer.session import Session, cancellation, open_session, replace_endpoint
from deployer.spec import validate_deploy_file
from deployer.state import EndpointState
from deployer.tags import Ownership, Tag
from deployer.timing import Phases

CLEANUP_TIMEOUT_SECONDS = 30 * 60


@dataclass(frozen=True)
class Stale:
    name: str
    environment: str
    created: datetime.datetime
    age_hours: float


@dataclass(frozen=True)
class Sweep:
    stale: list[Stale]  # this repository's previews past their ttl_hours: deleted
    unattributed: list[Stale]  # previews past their ttl_hours without a repository tag: reported


def preview_environments(options: Options) -> dict[str, float]:
    """Environment name → ttl_hours for the environments cleanup sweeps (may be none: cleanup
    also retires deployments kept for rollback once their keep_previous duration is over)."""
    path = Path(options.config)
    report = validate_deploy_file(
        path, environment=options.environment, workspace=workspace_root(path)
    )
    if report.deploy_file is None:
        from deployer.errors import InvalidDeployFileError

        raise InvalidDeployFileError(f"{path} is invalid", problems=report.problems)
    specs = [report.deploy_file.base, *report.deploy_file.environments.values()]
    if not any(spec.ttl_hours is not None or spec.rollout.keep_for for spec in specs):
        raise UsageError(
            "cleanup needs an environment with ttl_hours (a preview environment) or a "
            "keep_previous duration"
            + (f"; {options.environment} has neither" if options.environment else ""),
            hint="add ttl_hours to the preview overlay, e.g. environments.preview.ttl_hours: 72",
        )
    return {
        name: spec.ttl_hours
        for name, spec in report.deploy_file.environments.items()
        if spec.ttl_hours is not None
    }


def stale_endpoints(
    endpoints: list[EndpointState],
    ttl: Mapping[str, float],
    now: datetime.datetime,
    repository: str,
) -> Sweep:
    """This repository's previews (tags `pr` and `repository`) older than the ttl_hours of
    their environment; previews without a repository tag are reported, never deleted."""
    stale: list[Stale] = []
    unattributed: list[Stale] = []
    for endpoint in endpoints:
        owned = Ownership.of(endpoint.tags)
        environment = owned.environment or ""
        if not owned.is_preview or environment not in ttl or owned.created_at is None:
            continue
        if owned.repository not in (None, repository):
            continue  # another repository's preview: its own cleanup's business
        age = (now - owned.created_at).total_seconds() / 3600
        if age > ttl[environment]:
            found = Stale(endpoint.name, environment, owned.created_at, age)
            (stale if owned.repository else unattributed).append(found)
    return Sweep(
        sorted(stale, key=lambda item: item.created),
        sorted(unattributed, key=lambda item: item.created),
    )


def run_cleanup(options: Options, runner: Runner, environ: Mapping[str, str]) -> ExitCode:
    cancelled = cancellation()
    ttl = preview_environments(options)
    environment = options.environment or next(iter(ttl), None)
    session = open_session(dataclasses.replace(options, environment=environment), runner, environ)
    now = datetime.datetime.now(datetime.UTC)
    endpoints = session.azure.endpoints()
    sweep = stale_endpoints(endpoints, ttl, now, session.owner.repository)
    for item in sweep.unattributed:
        runner.warning(
            f"preview endpoint {item.name} is {item.age_hours:.1f} h old but has no "
            f"{Tag.REPOSITORY} tag, so nothing says it is this repository's: not deleted "
            f"(delete it by hand if it is: az ml online-endpoint delete --name {item.name})"
        )
    stale = sweep.stale
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
        deadline = Deadline.after(CLEANUP_TIMEOUT_SECONDS, cancelled)
        failed = []
        for operation in operations:
            try:
                operation.wait(deadline, runner.info)
            except DeployerError as exc:
                failed.append(f"{operation.description}: {exc.message}")
        if failed:
            raise DeployerError("some preview endpoints were not deleted: " + "; ".join(failed))
    gone = {item.name for item in stale}
    retired = retire_kept(session, [e for e in endpoints if e.name not in gone], now, cancelled)
    publish(runner, {"deleted": dump_json([item.name for item in stale])}, options.output_json)
    if options.summary:
        runner.add_summary(cleanup_markdown(rows, options.dry_run, retired))
    return ExitCode.OK


def retire_kept(
    session: Session,
    endpoints: list[EndpointState],
    now: datetime.datetime,
    cancelled: threading.Event,
) -> list[str]:
    """This repository's deployments kept for rollback past their keep_previous duration:
    retired under each endpoint's lease ("endpoint/deployment" for each)."""
    runner, options = session.runner, session.options
    due = [
        e
        for e in endpoints
        if e.ownership.managed
        and e.ownership.repository == session.owner.repository
        and e.record.kept_expired(now)
    ]
    retired = []
    for endpoint in due:
        kept = f"{endpoint.name}/{endpoint.record.kept}"
        if options.dry_run:
            runner.info(f"would delete deployment {kept}: kept for rollback, and its time is up")
            retired.append(kept)
            continue
        try:
            _retire_kept(replace_endpoint(session, endpoint.name), now, cancelled)
        except DeployerError as exc:
            runner.warning(f"could not retire deployment {kept}: {exc.message}")
            continue
        retired.append(kept)
    return retired


def _retire_kept(session: Session, now: datetime.datetime, cancelled: threading.Event) -> None:
    desired = desired_state(session, "", image_pending=False)
    converge(
        session,
        lambda wanted, observed: plan_retire_kept(wanted, observed, now),
        lambda: desired,
        Phases(),
        Deadline.after(CLEANUP_TIMEOUT_SECONDS, cancelled),
    )
