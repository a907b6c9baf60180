"""`delete`: remove this pull request's preview endpoint, and only a preview endpoint."""

from __future__ import annotations

import time
from collections.abc import Mapping

from deployer.azure import MANAGED_BY, TAG_MANAGED_BY, Cancelled
from deployer.commands.session import Options, cancellation, open_session
from deployer.errors import DeployerError, ExitCode
from deployer.github import Runner
from deployer.report import publish

DELETE_TIMEOUT_SECONDS = 30 * 60


class RefusedError(DeployerError):
    """The endpoint is not one this command may delete."""


def run_delete(options: Options, runner: Runner, environ: Mapping[str, str]) -> ExitCode:
    cancelled = cancellation()
    session = open_session(options, runner, environ)
    name = session.endpoint_name
    azure = session.azure
    state = azure.endpoint(name)
    if state is None:
        runner.info(f"endpoint {name} does not exist (already deleted): nothing to do")
        publish(runner, {"endpoint-name": name, "deleted": "false"}, options.output_json)
        return ExitCode.OK
    is_preview = state.tags.get(TAG_MANAGED_BY) == MANAGED_BY and "pr" in state.tags
    if not is_preview:
        # No override: a workflow that deletes on pull-request close must never be able to
        # take a production endpoint with it.
        raise RefusedError(
            f"endpoint {name} is not a preview endpoint created by azureml-deploy (it lacks the "
            f"tags {TAG_MANAGED_BY}={MANAGED_BY} and pr); refusing to delete it",
            hint="delete only removes pull-request previews; to remove this endpoint, run "
            f"`az ml online-endpoint delete --name {name}` or use Azure ML studio",
        )
    runner.info(f"→ delete endpoint {name} (and its deployments)")
    operation = azure.begin_delete_endpoint(name)
    try:
        operation.wait(
            deadline=time.monotonic() + DELETE_TIMEOUT_SECONDS,
            cancelled=cancelled,
            progress=runner.info,
        )
    except Cancelled:
        runner.error(f"cancelled; Azure keeps deleting endpoint {name} in the background")
        raise
    runner.info(f"endpoint {name} deleted")
    publish(runner, {"endpoint-name": name, "deleted": "true"}, options.output_json)
    return ExitCode.OK
