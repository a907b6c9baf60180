"""`cleanup`: delete this repository's preview endpoints (a `pr` tag) once their time is up
(see policy.py for what it may delete).

Previews are found by their tags, not by today's deploy file: one made under an overlay the
default branch's file no longer has (renamed, or only ever in a pull request) is swept too,
with DEFAULT_TTL_HOURS. A preview whose pull request GitHub says is closed goes at once.
cleanup never runs for a pull request (policy.check_may_sweep)."""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from deployer.commands.delete import delete_endpoints
from deployer.converge import converge
from deployer.deadline import Deadline
from deployer.desired import desired_state
from deployer.errors import DeployerError, ExitCode, InvalidDeployFileError
from deployer.github.presence import github_api
from deployer.github.pulls import closed_pull_requests
from deployer.github.runner import Runner
from deployer.options import Options
from deployer.plan_after import plan_retire_kept
from deployer.policy import check_may_sweep
from deployer.report import cleanup_markdown, dump_json, publish
from deployer.session import Session, cancellation, open_session, replace_endpoint
from deployer.spec import validate_deploy_file
from deployer.spec.azml_files import GivenFiles
from deployer.state import EndpointState
from deployer.tags import Ownership, Tag
from deployer.timing import Phases

CLEANUP_TIMEOUT_SECONDS = 30 * 60
# A preview of an environment the deploy file does not have (any more) lives this long, or as
# long as the file's longest-lived preview environment, whichever is longer.
DEFAULT_TTL_HOURS = 72.0


@dataclass(frozen=True)
class Stale:
    name: str
    environment: str
    created: datetime.datetime
    age_hours: float
    why: str = ""  # "older than its ttl_hours (1 h)", "pull request #7 is closed"


@dataclass(frozen=True)
class Sweep:
    stale: list[Stale]  # this repository's previews past their time: deleted
    unattributed: list[Stale]  # previews past their time without a repository tag: reported


@dataclass(frozen=True)
class Lifetimes:
    """How long a preview lives: its environment's ttl_hours, else the default."""

    ttl: Mapping[str, float]
    default: float

    def of(self, environment: str) -> float:
        return self.ttl.get(environment, self.default)


def preview_lifetimes(options: Options) -> Lifetimes:
    """The ttl_hours of the deploy file's environments (the default branch's file, since cleanup
    never runs for a pull request), and the default for previews of any other environment."""
    path = Path(options.config)
    given = GivenFiles.of(options.endpoint_file, options.deployment_file)
    report = validate_deploy_file(
        path, environment=options.environment, workspace=options.root, given=given
    )
    if report.deploy_file is None:
        raise InvalidDeployFileError(f"{path} is invalid", problems=report.problems)
    ttl = {
        name: spec.ttl_hours
        for name, spec in report.deploy_file.environments.items()
        if spec.ttl_hours is not None
    }
    return Lifetimes(ttl, max([DEFAULT_TTL_HOURS, *ttl.values()]))


def stale_endpoints(
    endpoints: list[EndpointState],
    lifetimes: Lifetimes,
    now: datetime.datetime,
    repository: str,
    closed: Collection[int] = (),
) -> Sweep:
    """This repository's previews (tags `pr` and `repository`) older than their lifetime, or
    whose pull request is closed; previews without a repository tag are reported, never
    deleted, and another repository's are left to its own cleanup."""
    stale: list[Stale] = []
    unattributed: list[Stale] = []
    for endpoint in endpoints:
        owned = Ownership.of(endpoint.tags)
        if not owned.is_preview or owned.created_at is None or owned.pr is None:
            continue
        if owned.repository not in (None, repository):
            continue
        environment = owned.environment or ""
        age = (now - owned.created_at).total_seconds() / 3600
        ttl = lifetimes.of(environment)
        if owned.repository and owned.pr in closed:
            why = f"pull request #{owned.pr} is closed"
        elif age > ttl:
            why = f"older than its ttl_hours ({ttl:g} h)"
        else:
            continue
        found = Stale(endpoint.name, environment, owned.created_at, age, why)
        (stale if owned.repository else unattributed).append(found)
    return Sweep(
        sorted(stale, key=lambda item: item.created),
        sorted(unattributed, key=lambda item: item.created),
    )


def _closed(session: Session, endpoints: list[EndpointState]) -> set[int]:
    """The pull requests of this repository's previews that GitHub says are closed."""
    numbers = [
        owned.pr
        for owned in (Ownership.of(endpoint.tags) for endpoint in endpoints)
        if owned.is_preview
        and owned.pr is not None
        and owned.repository == session.owner.repository
    ]
    if not numbers:
        return set()
    api = github_api(session.runner, session.context, session.environ, session.cloud.ca_bundle)
    return closed_pull_requests(api, numbers, session.runner)


def run_cleanup(options: Options, runner: Runner, environ: Mapping[str, str]) -> ExitCode:
    cancelled = cancellation()
    lifetimes = preview_lifetimes(options)
    environment = options.environment or next(iter(lifetimes.ttl), None)
    session = open_session(dataclasses.replace(options, environment=environment), runner, environ)
    check_may_sweep(session.context)
    now = datetime.datetime.now(datetime.UTC)
    endpoints = session.azure.endpoints()
    closed = _closed(session, endpoints)
    sweep = stale_endpoints(endpoints, lifetimes, now, session.owner.repository, closed)
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
    runner.info(f"{len(stale)} preview endpoint(s) past their time; {verb}:")
    for item, (name, created, age) in zip(stale, rows, strict=True):
        runner.info(f"  {name}  created {created}  ({age} old; {item.why})")
    gone = {item.name for item in stale}
    if not options.dry_run and stale:
        deadline = Deadline.after(CLEANUP_TIMEOUT_SECONDS, cancelled)
        delete_endpoints(session, [e for e in endpoints if e.name in gone], deadline)
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
            _retire_kept(replace_endpoint(session, endpoint.name), cancelled)
        except DeployerError as exc:
            runner.warning(f"could not retire deployment {kept}: {exc.message}")
            continue
        retired.append(kept)
    return retired


def _retire_kept(session: Session, cancelled: threading.Event) -> None:
    desired = desired_state(session, "", image_pending=False)
    converge(
        session,
        plan_retire_kept,
        lambda: desired,
        Phases(),
        Deadline.after(CLEANUP_TIMEOUT_SECONDS, cancelled),
    )
