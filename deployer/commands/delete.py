"""`delete`: remove this pull request's preview endpoints, and nothing else (see policy.py).

A pull request's previews are found by their tags (this repository, this pull request), not by
the deploy file's name alone: one made under an overlay the file no longer has (renamed, or
named differently in another push of the pull request) goes too."""

from __future__ import annotations

from collections.abc import Mapping

from deployer.assets.retire import archive_preview_assets
from deployer.deadline import Deadline
from deployer.errors import Cancelled, DeployerError, ExitCode
from deployer.github.runner import Runner
from deployer.options import Options
from deployer.policy import check_may_delete
from deployer.report import publish
from deployer.results import github_presence
from deployer.session import Session, cancellation, open_session
from deployer.state import EndpointState
from deployer.tags import Ownership

DELETE_TIMEOUT_SECONDS = 30 * 60


def previews_to_delete(session: Session) -> list[EndpointState]:
    """The endpoints this run would delete: the deploy file's, and every other endpoint tagged
    as this repository's preview for this pull request (the policy checks each before any is
    deleted)."""
    name, owner = session.endpoint_name, session.owner
    named = session.azure.endpoint(name)
    if owner.pr is None:
        return [named] if named is not None else []
    tagged = [
        endpoint
        for endpoint in session.azure.endpoints()
        if endpoint.name != name and owner.owns(Ownership.of(endpoint.tags))
    ]
    return ([named] if named is not None else []) + sorted(tagged, key=lambda e: e.name)


def run_delete(options: Options, runner: Runner, environ: Mapping[str, str]) -> ExitCode:
    cancelled = cancellation()
    session = open_session(options, runner, environ)
    name = session.endpoint_name
    targets = previews_to_delete(session)
    presence = github_presence(session)
    if not targets:
        runner.info(f"endpoint {name} does not exist (already deleted): nothing to do")
        publish(runner, {"endpoint-name": name, "deleted": "false"}, options.output_json)
        if presence is not None:
            presence.deleted()
        return ExitCode.OK
    for target in targets:
        check_may_delete(session.owner, target.name, target)
        why = "" if target.name == name else f" ({Ownership.of(target.tags).describe()})"
        runner.info(f"→ delete endpoint {target.name} (and its deployments){why}")
    delete_endpoints(session, targets, Deadline.after(DELETE_TIMEOUT_SECONDS, cancelled))
    publish(runner, {"endpoint-name": name, "deleted": "true"}, options.output_json)
    if presence is not None:
        presence.deleted()
    return ExitCode.OK


def delete_endpoints(session: Session, targets: list[EndpointState], deadline: Deadline) -> None:
    """Delete `targets` side by side (Azure does the work, we only wait), each already allowed
    by the policy, and archive each preview's registered assets; every failure is named, and a
    cancel leaves Azure to finish."""
    runner = session.runner
    by_name = {target.name: target for target in targets}
    operations = {name: session.azure.begin_delete_endpoint(name) for name in by_name}
    failed = []
    for name, operation in operations.items():
        try:
            operation.wait(deadline, runner.info)
        except Cancelled:
            runner.error(f"cancelled; Azure keeps deleting endpoint {name} in the background")
            raise
        except DeployerError as exc:
            failed.append(f"{operation.description}: {exc.message}")
            continue
        runner.info(f"endpoint {name} deleted")
        archive_preview_assets(session, by_name[name])
    if failed:
        raise DeployerError("some preview endpoints were not deleted: " + "; ".join(failed))
