"""One pipeline for `deploy` and `plan`: check the environment (policy) → sign in → resolve
what is deployed → observe the endpoint → check this run may change it → plan → execute →
report. Each stage is given the values it needs. `plan` is the same pipeline with a
display-only executor (aws/chalice's DisplayOnlyExecutor): it shows the plan, and every refusal
`deploy` would give, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from deployer.agreement import Agreement
from deployer.analysis import Analysis
from deployer.baseline import after_rollout
from deployer.collector_plan import own_collections_note
from deployer.converge import converge, holder, observe_settled
from deployer.deadline import Deadline
from deployer.deployable import Deployable, resolve_deployable
from deployer.desired import desired_state, rollout_agreement, rollout_analysis
from deployer.errors import DeployerError, ExitCode, PolicyError
from deployer.github.runner import Runner
from deployer.lease import held_by_other
from deployer.plan import make_plan
from deployer.policy import check_may_change, check_may_deploy_environment
from deployer.preflight import check_metrics_readable, preflight
from deployer.reach import decide_smoke, probe
from deployer.report import DeployReport, dump_json, plan_table, publish
from deployer.results import (
    failure_summarised,
    github_presence,
    hand_back,
    live_comment,
    report,
    studio_url,
)
from deployer.session import Session, cancellation
from deployer.state import EndpointState
from deployer.timing import Phases


@dataclass(frozen=True)
class Prepared:
    """What the stages before the executor found: the session, what is deployed, the
    analysis, the run's phases and its deadline."""

    session: Session
    deployable: Deployable
    analysis: Analysis | None
    phases: Phases
    deadline: Deadline
    agreement: Agreement | None = None


class PlanExecutor(Protocol):
    """What differs between `deploy` and `plan`: whether a refusal stops the run, and what is
    done with the plan."""

    def check(self, check: Callable[[], None]) -> None: ...

    def execute(self, run: Prepared) -> ExitCode: ...


def run_pipeline(session: Session, executor: PlanExecutor) -> ExitCode:
    phases = Phases()
    name = session.endpoint_name
    session.runner.info(f"endpoint {name} ({session.environment_name} environment)")
    executor.check(lambda: check_may_deploy_environment(session.context, session.spec))
    if session.context.is_pull_request:
        confined = own_collections_note(session.spec.deployment.data_collector)
        if confined:
            session.runner.warning(confined)
    signed_in(session, phases)
    deadline = Deadline.after(session.spec.rollout.timeout_minutes * 60, cancellation())
    with phases("observe"):
        deployable = resolve_deployable(session, phases)
        observed = session.azure.endpoint(name)
    # Every check that can refuse the run comes before its first write (to Azure or GitHub).
    executor.check(lambda: check_may_change(session.owner, name, observed))
    executor.check(lambda: decide_smoke(session, observed, probe(session)))
    analysis = rollout_analysis(session)
    agreement = rollout_agreement(session)
    return executor.execute(Prepared(session, deployable, analysis, phases, deadline, agreement))


def signed_in(session: Session, phases: Phases) -> None:
    with phases("sign-in"):
        session.runner.info(f"signing in ({session.sign_in.description})")
        session.azure.check_workspace()


class Executor:
    """`deploy`: the plan executed under the endpoint's lease, shown on GitHub, reported."""

    def check(self, check: Callable[[], None]) -> None:
        check()

    def execute(self, run: Prepared) -> ExitCode:
        session = run.session
        studio = studio_url(session, session.endpoint_name)
        presence = github_presence(session)
        if presence is not None:
            presence.started(studio)
        try:
            result = _rollout(run)
        except DeployerError as failure:
            if presence is not None:
                presence.failed(studio, failure.message)
            raise
        hand_back(session, result, run.phases)
        if presence is not None:
            presence.succeeded(studio, live_comment(result, run.phases, presence.run_url))
        return ExitCode.OK


def _rollout(run: Prepared) -> DeployReport:
    session, what = run.session, run.deployable
    with failure_summarised(session, run.analysis, run.agreement):
        converged = converge(
            session,
            make_plan,
            lambda: desired_state(session, what.reference, what.pending, what.making),
            run.phases,
            run.deadline,
            build=what.build,
            wait=session.options.wait,
            pull=what.pull,
            analysis=run.analysis,
            agreement=run.agreement,
        )
        outcome = "unchanged" if converged.outcome is None else "deployed"
        scorecard = after_rollout(session, converged, run.agreement, run.deadline)
        return report(
            session,
            converged,
            what.reference,
            outcome,
            what.tag,
            what.work,
            run.analysis,
            run.agreement,
            scorecard,
        )


class DisplayOnlyExecutor:
    """`plan`: the plan `deploy` would run now, and what it would refuse; no lease, no change."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def check(self, check: Callable[[], None]) -> None:
        try:
            check()
        except PolicyError as refusal:
            self._would_refuse(refusal)

    def execute(self, run: Prepared) -> ExitCode:
        session, deployable, deadline = run.session, run.deployable, run.deadline
        runner = session.runner
        observed = observe_settled(session, deadline, wait=False)
        self._lease(session, observed, deadline)
        desired = desired_state(
            session, deployable.reference, deployable.pending, deployable.making
        )
        plan = make_plan(desired, observed, deadline.clock.now())
        for note in plan.notes:
            runner.info(note)
        for label, value in deployable.describe():
            runner.info(f"{label.lower()}: {value}")
        runner.result(plan_table(plan))
        for warning in preflight(session.azure, plan, desired.settings, observed):
            runner.warning(warning)
        if run.analysis is not None:
            try:
                check_metrics_readable(run.analysis, plan)
            except DeployerError as refusal:
                self._would_refuse(refusal)
        outputs = {
            "endpoint-name": plan.endpoint,
            "plan": dump_json(plan.as_dict()),
            **deployable.outputs(),
        }
        publish(runner, outputs, session.options.output_json)
        return ExitCode.OK

    def _lease(self, session: Session, observed: EndpointState | None, deadline: Deadline) -> None:
        record = observed.record if observed is not None else None
        if record is None or not held_by_other(record, holder(session), deadline.clock.now()):
            return
        if record.holder and record.lease_until:
            session.runner.warning(
                f"{record.holder.describe()} is changing endpoint {session.endpoint_name} (its "
                f"lease runs until {record.lease_until:%H:%M:%S} UTC); a deploy now would wait "
                "for it"
            )

    def _would_refuse(self, refusal: DeployerError) -> None:
        self.runner.warning(f"deploy would refuse: {refusal.message}")
