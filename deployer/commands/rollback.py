"""`rollback`, `promote` and `abort`: act on a rollout after its job, from the endpoint's
rollout record, under its lease; nothing is built.

- rollback: all traffic back to the deployment kept by `keep_previous`, after a smoke test.
- promote: continue a canary a run left at a step, with the same checks.
- abort: all traffic to the known-good deployment, the candidate retired.
"""

from __future__ import annotations

from collections.abc import Mapping

from deployer.baseline import after_rollout
from deployer.converge import converge
from deployer.deadline import Deadline
from deployer.desired import desired_state, rollout_agreement, rollout_analysis
from deployer.errors import ExitCode
from deployer.github.runner import Runner
from deployer.options import Options
from deployer.pipeline import signed_in
from deployer.plan import Planner
from deployer.plan_after import plan_abort, plan_promote, plan_rollback
from deployer.reach import probe, rollback_smoke
from deployer.results import failure_summarised, hand_back, report
from deployer.session import cancellation, open_session
from deployer.timing import Phases

PLANNERS: dict[str, Planner] = {
    "rollback": plan_rollback,
    "promote": plan_promote,
    "abort": plan_abort,
}
DONE = {"rollback": "rolled back", "promote": "promoted", "abort": "aborted"}


def run_after(
    command: str, options: Options, runner: Runner, environ: Mapping[str, str]
) -> ExitCode:
    phases = Phases()
    session = open_session(options, runner, environ)
    runner.info(f"endpoint {session.endpoint_name} ({session.environment_name} environment)")
    signed_in(session, phases)
    deadline = Deadline.after(session.spec.rollout.timeout_minutes * 60, cancellation())
    analysis = rollout_analysis(session) if command == "promote" else None
    agreement = rollout_agreement(session) if command == "promote" else None
    if command == "rollback":
        rollback_smoke(session, session.azure.endpoint(session.endpoint_name), probe(session))
    with failure_summarised(session, analysis, agreement):
        converged = converge(
            session,
            PLANNERS[command],
            lambda: desired_state(session, "", image_pending=False),
            phases,
            deadline,
            wait=options.wait,
            analysis=analysis,
            agreement=agreement,
        )
        nothing = converged.outcome is None
        if not nothing and session.spec.ttl_hours is None:
            # what serves changed: the previews' scorecards compare with it from now on
            after_rollout(session, converged, rollout_agreement(session), deadline)
        if nothing:
            runner.info(
                f"no rollout in progress on endpoint {session.endpoint_name}: nothing to {command}"
            )
        serving = session.azure.endpoint(session.endpoint_name)
        deployment = serving.deployment(converged.plan.target) if serving else None
        image = deployment.image if deployment else None
        done = "unchanged" if nothing else DONE[command]
        result = report(
            session, converged, image or "", done, analysis=analysis, agreement=agreement
        )
    hand_back(session, result, phases)
    return ExitCode.OK
