"""`deploy` and `plan`: observe, plan, then (deploy only) execute the plan under the endpoint's
lease: build, provision, test, shift, retire."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from deployer.analysis import Analysis
from deployer.azure.pull import PullAccess
from deployer.deadline import Deadline
from deployer.errors import DeployerError, ExitCode, PolicyError
from deployer.github.runner import Runner
from deployer.image.resolve import ImageLookup, Images
from deployer.lease import held_by_other
from deployer.options import Options
from deployer.plan import make_plan
from deployer.policy import check_may_change
from deployer.preflight import preflight
from deployer.report import DeployReport, dump_json, plan_table, publish
from deployer.run import (
    converge,
    desired_state,
    failure_summarised,
    github_presence,
    hand_back,
    holder,
    live_comment,
    observe_settled,
    pull_access,
    report,
    rollout_analysis,
    studio_url,
)
from deployer.session import Session, cancellation, open_session
from deployer.timing import Phases


def signed_in(session: Session, phases: Phases) -> None:
    with phases("sign-in"):
        session.runner.info(f"signing in ({session.sign_in.description})")
        session.azure.check_workspace()


def run_plan(options: Options, runner: Runner, environ: Mapping[str, str]) -> ExitCode:
    """The plan `deploy` would run now; nothing is changed, no lease is taken."""
    phases = Phases()
    session = open_session(options, runner, environ)
    runner.info(f"endpoint {session.endpoint_name} ({session.environment_name} environment)")
    signed_in(session, phases)
    deadline = Deadline.after(session.spec.rollout.timeout_minutes * 60, cancellation())
    observed = observe_settled(session, deadline, wait=False)
    checks: list[Callable[[], None]] = [
        lambda: check_environment(session),
        lambda: check_may_change(session.owner, session.endpoint_name, observed),
    ]
    for check in checks:
        try:
            check()
        except PolicyError as refusal:
            runner.warning(f"deploy would refuse: {refusal.message}")
    record = observed.record if observed is not None else None
    held = record is not None and held_by_other(record, holder(session), deadline.clock.now())
    if held and record is not None and record.holder and record.lease_until:
        runner.warning(
            f"{record.holder.describe()} is changing endpoint {session.endpoint_name} (its lease "
            f"runs until {record.lease_until:%H:%M:%S} UTC); a deploy now would wait for it"
        )
    images = Images(session)
    images.acr.abac = pull_access(session, images.login_server).registry_abac
    lookup = images.lookup()
    desired = desired_state(session, lookup.reference, lookup.pending)
    plan = make_plan(desired, observed, deadline.clock.now())
    for note in plan.notes:
        runner.info(note)
    runner.result(plan_table(plan))
    for warning in preflight(session.azure, plan, desired.settings, observed):
        runner.warning(warning)
    outputs = {
        "endpoint-name": plan.endpoint,
        "plan": dump_json(plan.as_dict()),
        "digest": lookup.resolved.digest if lookup.resolved else "",
        "image-tag": lookup.tag or "",
    }
    publish(runner, outputs, options.output_json)
    return ExitCode.OK


def check_environment(session: Session) -> None:
    """A pull request may deploy previews, never production, unless the deploy file says so."""
    if session.context.is_pull_request and not session.spec.deployable_from_pull_requests:
        which = (
            f"environment {session.spec.environment!r}"
            if session.spec.environment
            else ("the base configuration")
        )
        pull = session.context.pull_request
        raise PolicyError(
            f"refusing to deploy {which} from a run for "
            f"{pull.describe() if pull else 'a pull request'}: only preview environments (with "
            "ttl_hours) deploy from pull requests",
            hint="deploy it from a push or release workflow, or set allow_pull_requests: true "
            "in its part of the deploy file if pull requests really should deploy it",
        )


class _Image:
    """The image this run deploys: found in the registry, or built and pushed by the plan."""

    def __init__(self, images: Images, lookup: ImageLookup, phases: Phases) -> None:
        self.images, self.lookup, self.phases = images, lookup, phases
        self.reference = lookup.reference
        self.tag = lookup.tag or ""
        self.work = ""  # what building and pushing did, when this run built the image

    @property
    def pending(self) -> bool:
        return not self.reference

    def build(self) -> str:
        built = self.images.build_and_push(self.lookup, self.phases)
        self.reference, self.tag = built.reference, built.tag or ""
        self.work = built.work.describe() if built.work else ""
        return self.reference


def run_deploy(options: Options, runner: Runner, environ: Mapping[str, str]) -> ExitCode:
    phases = Phases()
    session = open_session(options, runner, environ)
    runner.info(f"endpoint {session.endpoint_name} ({session.environment_name} environment)")
    check_environment(session)
    signed_in(session, phases)
    deadline = Deadline.after(session.spec.rollout.timeout_minutes * 60, cancellation())
    images = Images(session)
    with phases("observe"):
        pull = pull_access(session, images.login_server)
        images.acr.abac = pull.registry_abac
        image = _Image(images, images.lookup(), phases)
        # Every check that can refuse the run comes before its first write to GitHub: a
        # refused run leaves no GitHub deployment behind (converge checks again, under the lease).
        check_may_change(
            session.owner, session.endpoint_name, session.azure.endpoint(session.endpoint_name)
        )
    analysis = rollout_analysis(session)
    studio = studio_url(session, session.endpoint_name)
    presence = github_presence(session)
    if presence is not None:
        presence.started(studio)
    try:
        result = _rollout(session, image, phases, deadline, pull, analysis)
    except DeployerError as failure:
        if presence is not None:
            presence.failed(studio, failure.message)
        raise
    hand_back(session, result, phases)
    if presence is not None:
        presence.succeeded(studio, live_comment(result, phases, presence.run_url))
    return ExitCode.OK


def _rollout(  # noqa: PLR0917 - the run's parts, passed on
    session: Session,
    image: _Image,
    phases: Phases,
    deadline: Deadline,
    pull: PullAccess,
    analysis: Analysis | None,
) -> DeployReport:
    with failure_summarised(session, analysis):
        converged = converge(
            session,
            make_plan,
            lambda: desired_state(session, image.reference, image.pending),
            phases,
            deadline,
            build=image.build,
            wait=session.options.wait,
            pull=pull,
            analysis=analysis,
        )
        outcome = "unchanged" if converged.outcome is None else "deployed"
        return report(session, converged, image.reference, outcome, image.tag, image.work, analysis)
