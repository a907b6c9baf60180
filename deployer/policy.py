"""What a run may change or delete, decided from the resources' ownership tags before any
mutating call.

- A run for a pull request (whatever event started it: github/events.py decides, or `--pr`) may
  create an endpoint that does not exist yet, or change one tagged as this repository's preview
  for this pull request number. Nothing else: a deploy file in a pull request is written by the
  pull request's author. A pull request's run whose number GitHub does not give may only
  validate; `cleanup` never runs for a pull request (it sweeps every preview).
- Any other run may change an endpoint nobody owns yet or one of its own repository; never
  another repository's, and never a pull request's preview (its keys went to that pull
  request's workflow).
- `delete` and `cleanup` remove only previews (a `pr` tag) of this repository; an endpoint
  without a `repository` tag is reported, never deleted.
"""

from __future__ import annotations

from deployer.context import RunContext
from deployer.errors import PolicyError
from deployer.spec import DeploySpec
from deployer.state import EndpointState
from deployer.tags import MANAGED_BY, Owner, Ownership, Tag


def check_pull_request_known(context: RunContext) -> None:
    """Raise PolicyError for a pull request's run whose pull request GitHub does not name (a
    fork's `workflow_run`, a payload that names two): it cannot be confined to a preview."""
    pull = context.pull_request
    if pull is None or pull.number is not None:
        return
    raise PolicyError(
        f"this run acts for {pull.describe()}, but GitHub does not say which one, so it cannot "
        "be confined to that pull request's preview: it may only validate the deploy file",
        hint="deploy previews from the pull_request event itself (workflow_run leaves "
        "pull_requests empty for a fork's pull request), or run validate here",
    )


def check_may_sweep(context: RunContext) -> None:
    """Raise PolicyError when a pull request's run asks for cleanup: the sweep deletes every
    preview of the repository, and the ttl it reads would be the pull request's."""
    if context.pull_request is None:
        return
    raise PolicyError(
        f"refusing to clean up from a run for {context.pull_request.describe()}: cleanup "
        "deletes other pull requests' previews, and a pull request writes the deploy file it "
        "would read",
        hint="run cleanup on a schedule (or workflow_dispatch) from the default branch; a pull "
        "request's own preview goes with `delete` when it closes",
    )


def check_may_deploy_environment(context: RunContext, spec: DeploySpec) -> None:
    """A pull request's run deploys preview environments, never production, unless the deploy
    file says so (and even then only to an endpoint of its own: check_may_change)."""
    if not context.is_pull_request or spec.deployable_from_pull_requests:
        return
    which = f"environment {spec.environment!r}" if spec.environment else "the base configuration"
    pull = context.pull_request
    raise PolicyError(
        f"refusing to deploy {which} from a run for "
        f"{pull.describe() if pull else 'a pull request'}: only preview environments (with "
        "ttl_hours) deploy from pull requests",
        hint="deploy it from a push or release workflow, or set allow_pull_requests: true in "
        "its part of the deploy file if pull requests really should deploy it",
    )


def check_may_change(owner: Owner, endpoint_name: str, endpoint: EndpointState | None) -> None:
    """Raise PolicyError unless this run may create or change `endpoint_name`."""
    if endpoint is None:
        return
    found = Ownership.of(endpoint.tags)
    if owner.pr is not None:
        if found.pr is not None and owner.owns(found):
            return
        raise PolicyError(
            f"refusing to change endpoint {endpoint_name} for pull request #{owner.pr}: it is "
            f"not this pull request's preview ({found.describe()})",
            hint="a pull request may only create a new endpoint or update its own preview; give "
            "the preview environment its own name with {pr} in it, e.g. "
            "endpoint.name: credit-risk-pr{pr}",
        )
    if found.managed and found.repository and found.repository != owner.repository:
        raise PolicyError(
            f"refusing to change endpoint {endpoint_name}: it belongs to {found.repository} "
            f"({found.describe()}), and this run is for {owner.repository}",
            hint="endpoint names are shared by everyone deploying to the workspace: choose "
            "another endpoint.name, or deploy from the repository that owns it",
        )
    if found.pr is not None:
        raise PolicyError(
            f"refusing to deploy to endpoint {endpoint_name}: it is pull request #{found.pr}'s "
            f"preview ({found.describe()})",
            hint="a preview's keys were handed to its pull request's workflow, so it never "
            "becomes a long-lived endpoint: delete it (azureml-deploy delete --pr "
            f"{found.pr}) or choose another endpoint.name",
        )


def check_may_delete(owner: Owner, endpoint_name: str, endpoint: EndpointState) -> None:
    """Raise PolicyError unless `endpoint` is this repository's preview for this run's pull
    request. There is no override: a workflow that deletes on pull-request close must never
    be able to take anything else with it."""
    found = Ownership.of(endpoint.tags)
    manual = (
        f"to remove it, run `az ml online-endpoint delete --name {endpoint_name}` or use "
        "Azure ML studio"
    )
    if not found.is_preview:
        raise PolicyError(
            f"endpoint {endpoint_name} is not a preview endpoint created by azureml-deploy (it "
            f"lacks the tags {Tag.MANAGED_BY}={MANAGED_BY} and {Tag.PR}); refusing to delete it",
            hint=f"delete only removes pull-request previews; {manual}",
        )
    if found.repository is None:
        raise PolicyError(
            f"endpoint {endpoint_name} has no {Tag.REPOSITORY} tag ({found.describe()}), so "
            "nothing says it is this repository's; refusing to delete it",
            hint=f"it was made by an older azureml-deploy or by hand; {manual}",
        )
    if not owner.owns(found):
        this = f"{owner.repository}" + (f" #{owner.pr}" if owner.pr is not None else "")
        raise PolicyError(
            f"endpoint {endpoint_name} is not this run's preview ({found.describe()}; this run "
            f"is for {this}); refusing to delete it",
            hint=f"delete removes only its own pull request's preview; {manual}",
        )
