"""`delete`: remove this pull request's preview endpoint, and nothing else (see policy.py)."""

from __future__ import annotations

from collections.abc import Mapping

from deployer.deadline import Deadline
from deployer.errors import Cancelled, ExitCode
from deployer.github.runner import Runner
from deployer.options import Options
from deployer.policy import check_may_delete
from deployer.report import publish
from deployer.run import github_presence
from deployer.session import cancellation, open_session

DELETE_TIMEOUT_SECONDS = 30 * 60


def run_delete(options: Options, runner: Runner, environ: Mapping[str, str]) -> ExitCode:
    cancelled = cancellation()
    session = open_session(options, runner, environ)
    name = session.endpoint_name
    azure = session.azure
    state = azure.endpoint(name)
    presence = github_presence(session)
    if state is None:
        runner.info(f"endpoint {name} does not exist (already deleted): nothing to do")
        publish(runner, {"endpoint-name": name, "deleted": "false"}, options.output_json)
        if presence is not None:
            presence.deleted()
        return ExitCode.OK
    check_may_delete(session.owner, name, state)
    runner.info(f"→ delete endpoint {name} (and its deployments)")
    operation = azure.begin_delete_endpoint(name)
    try:
        operation.wait(Deadline.after(DELETE_TIMEOUT_SECONDS, cancelled), runner.info)
    except Cancelled:
        runner.error(f"cancelled; Azure keeps deleting endpoint {name} in the background")
        raise
    runner.info(f"endpoint {name} deleted")
    publish(runner, {"endpoint-name": name, "deleted": "true"}, options.output_json)
    if presence is not None:
        presence.deleted()
    return ExitCode.OK
