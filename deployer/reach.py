"""Whether this run sends the smoke test: from the runner (`smoke_test.from: runner`), which must
reach the endpoint's scoring URI, or not at all (`from: none`). An endpoint whose public network
access is disabled "can't be reached from public networks" (concept-secure-online-endpoint.md):
a GitHub-hosted runner is outside the workspace's network, a self-hosted one may be inside.

Before anything changes, a private endpoint that exists is probed (one request without
credentials: inside, the endpoint answers it, 401; outside, it is refused or never answered).
A runner outside gates on live-traffic analysis alone where the rollout has it, and is refused
with the fix where nothing else would judge the new deployment: production never takes traffic
to a deployment nobody judged without being told."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

import requests

from deployer.errors import PolicyError
from deployer.github.runner import Runner
from deployer.session import Session
from deployer.smoke import SmokeResult
from deployer.spec.model import DeploySpec, PublicNetworkAccess, SmokeFrom, Strategy
from deployer.state import EndpointState

PROBE_SECONDS = 10
# What Azure answers an outside client is not documented (emulator/README.md, "Differences
# from Azure"): a refusal, or no answer at all, both mean "outside".
_REFUSED = 403

Probe = Callable[[str], str | None]  # scoring URI → why it cannot be reached; None: reached


def probe(session: Session) -> Probe:
    def reach(uri: str) -> str | None:
        try:
            answer = requests.get(
                uri, timeout=PROBE_SECONDS, verify=session.cloud.ca_bundle or True
            )
        except requests.RequestException as exc:
            return f"no answer: {type(exc).__name__}"
        answer.close()
        return f"HTTP {_REFUSED}, refused" if answer.status_code == _REFUSED else None

    return reach


def rollback_smoke(session: Run, observed: EndpointState | None, reach: Probe) -> None:
    """A rollback goes back to the deployment kept because it served: from a runner outside a
    private endpoint its smoke test is left out, with a warning, rather than blocking the way
    back."""
    uri = observed.scoring_uri if observed is not None else None
    smoke = session.spec.smoke_test
    if smoke is None or smoke.source is SmokeFrom.NONE or observed is None or not uri:
        return
    if observed.public_network_access != "disabled":
        return
    why = reach(uri)
    if why is None:
        return
    session.smoke_from_runner = False
    session.runner.warning(
        f"this runner cannot reach {uri} ({why}): the endpoint's public network access is "
        "disabled and the runner is outside the workspace's network; the rollback goes back "
        "to the kept deployment without a smoke test"
    )


def explained(result: SmokeResult, spec: DeploySpec) -> SmokeResult:
    """A smoke test of a private endpoint that was refused or never answered: most likely this
    runner is outside the workspace's network (an endpoint made private in this run could not
    be probed before it existed); said with the fix."""
    private = spec.endpoint.public_network_access is PublicNetworkAccess.DISABLED
    if result.passed or not private or result.status not in (None, _REFUSED):
        return result
    why = (
        "; the endpoint's public network access is disabled: this runner is likely outside the "
        "workspace's network (run the job on a self-hosted runner inside it, or judge the "
        "rollout by live traffic with smoke_test.from: none; README, Private endpoints)"
    )
    return replace(result, detail=result.detail + why)


def judged_by_live_traffic(spec: DeploySpec) -> bool:
    """Whether rollout.analysis judges the new deployment before it serves everyone."""
    rollout = spec.rollout
    canary = rollout.strategy is Strategy.CANARY and len(rollout.canary_steps) > 1
    return rollout.analysis is not None and (canary or rollout.shadow is not None)


class Run(Protocol):
    """What of the session the choice reads and sets."""

    spec: DeploySpec
    runner: Runner
    smoke_from_runner: bool

    @property
    def endpoint_name(self) -> str: ...


def decide_smoke(session: Run, observed: EndpointState | None, reach: Probe) -> None:
    """Sets `session.smoke_from_runner`; says why; PolicyError where nothing would judge."""
    spec, runner, name = session.spec, session.runner, session.endpoint_name
    smoke = spec.smoke_test
    if smoke is None:
        return
    if smoke.source is SmokeFrom.NONE:
        session.smoke_from_runner = False
        runner.info(
            "smoke_test.from: none: no smoke test; rollout.analysis judges the new deployment "
            "by its live traffic"
        )
        return
    if spec.endpoint.public_network_access is not PublicNetworkAccess.DISABLED:
        return
    if observed is None or observed.public_network_access != "disabled" or not observed.scoring_uri:
        runner.info(
            f"endpoint {name} becomes private (public network access disabled) in this run: "
            "whether this runner reaches it is known only then. The smoke test is sent from "
            "the runner; if it cannot reach the endpoint the rollout stops before any traffic "
            "moves"
        )
        return
    why = reach(observed.scoring_uri)
    if why is None:
        runner.info(
            f"this runner reaches private endpoint {name} (it is inside the workspace's "
            "network): the smoke test is sent from it"
        )
        return
    outside = (
        f"this runner cannot reach {observed.scoring_uri} ({why}): the endpoint's public "
        "network access is disabled and the runner is outside the workspace's network"
    )
    if not judged_by_live_traffic(spec):
        raise PolicyError(
            f"{outside}, and nothing else would judge the new deployment before it takes "
            "traffic (no rollout.analysis with a canary step below 100 or a shadow stage)",
            hint="run this job on a self-hosted runner inside the workspace's virtual network "
            "(README, Private endpoints), or judge the rollout by live traffic: "
            "rollout.analysis with strategy canary or rollout.shadow",
        )
    if spec.rollout.agreement is not None:
        raise PolicyError(
            f"{outside}, and rollout.agreement sends its requests from the runner to both "
            "deployments",
            hint="run this job on a self-hosted runner inside the workspace's virtual network "
            "(README, Private endpoints), or remove rollout.agreement: a comparison that "
            "cannot be made is not skipped",
        )
    session.smoke_from_runner = False
    unjudged = ""
    if not any(observed.traffic.values()):
        unjudged = (
            "; nothing serves yet, so the first deployment takes the traffic without a "
            "judgement (nothing to compare with or go back to)"
        )
    analysis = spec.rollout.analysis
    no_load = (
        "; rollout.analysis.load is not sent either (it is sent from the runner)"
        if analysis is not None and analysis.load is not None
        else ""
    )
    runner.warning(
        f"{outside}. No smoke test from it: the new deployment is judged by rollout.analysis "
        f"alone, by its live traffic{unjudged}{no_load}"
    )
