"""One run against an endpoint, for every command that changes it (deploy, rollback, promote,
abort): observe it once it is settled, check this run may change it, plan, and execute the plan
under the endpoint's lease, waiting (or not) for another run that holds it."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from deployer.analysis import Analysis, Query
from deployer.azure.pull import PullAccess
from deployer.deadline import Deadline
from deployer.errors import (
    AzureError,
    Busy,
    DeployerError,
    LeaseHeld,
    PolicyError,
    StepFailed,
    TimedOut,
)
from deployer.execute import Executor, Job, Outcome
from deployer.github import comment
from deployer.github.presence import GitHubPresence
from deployer.lease import holder_of
from deployer.plan import Desired, Plan, Planner
from deployer.policy import check_may_change
from deployer.preflight import preflight
from deployer.report import (
    DeployReport,
    analysis_json,
    analysis_markdown,
    console_summary,
    failure_markdown,
    plan_table,
    publish,
    summary_markdown,
    timing_text,
)
from deployer.session import Session
from deployer.smoke import SmokeResult, smoke_test
from deployer.spec.model import DeploySpec
from deployer.state import DeploymentSettings, EndpointState, Keys
from deployer.steps import WATCHES
from deployer.tags import Holder, autoscale_tags, deployment_tags
from deployer.timing import Phases

SETTLE_POLL_SECONDS = 2.0
LEASE_POLL_SECONDS = 5.0
WAITING_EVERY_SECONDS = 30.0


def deployment_settings(spec: DeploySpec, image: str) -> DeploymentSettings:
    deployment = spec.deployment
    routes = deployment.inference_config
    return DeploymentSettings(
        image=image,
        instance_type=deployment.instance_type,
        instance_count=deployment.instance_count,
        environment_variables=dict(deployment.environment_variables),
        liveness_route=routes.liveness_route,
        readiness_route=routes.readiness_route,
        scoring_route=routes.scoring_route,
        request_timeout_ms=deployment.request_settings.request_timeout_ms,
        max_concurrent_requests_per_instance=(
            deployment.request_settings.max_concurrent_requests_per_instance
        ),
        max_queue_wait_ms=deployment.request_settings.max_queue_wait_ms,
        liveness_probe=deployment.liveness_probe,
        readiness_probe=deployment.readiness_probe,
        app_insights_enabled=deployment.app_insights_enabled,
        egress_public_network_access=deployment.egress_public_network_access,
    )


def desired_state(session: Session, image: str, image_pending: bool) -> Desired:
    spec = session.spec
    return Desired(
        endpoint=session.endpoint_name,
        auth_mode=str(spec.endpoint.auth_mode),
        settings=deployment_settings(spec, image),
        strategy=spec.rollout.strategy,
        canary_steps=spec.rollout.canary_steps,
        step_wait_seconds=spec.rollout.step_wait_seconds,
        keep_previous=spec.rollout.keep_previous,
        keep_for=spec.rollout.keep_for,
        smoke_test=spec.smoke_test is not None,
        image_pending=image_pending,
        description=spec.endpoint.description,
        tags=dict(spec.endpoint.tags),
        identity=spec.endpoint.identity,
        shadow=spec.rollout.shadow,
        bake_seconds=spec.rollout.bake_minutes * 60,
        autoscale=spec.deployment.autoscale,
    )


def check_metrics_readable(analysis: Analysis, plan: Plan) -> None:
    """Before anything changes: the metrics the analysis will judge by can be read (a missing
    Monitoring Reader role fails the run here, not half-way through a canary)."""
    if not plan.has(WATCHES) or plan.previous is None:
        return
    now = datetime.datetime.now(datetime.UTC)
    minute = datetime.timedelta(minutes=1)
    analysis.metrics.served(Query(plan.endpoint, plan.previous, now - minute, now, False))


def rollout_analysis(session: Session) -> Analysis | None:
    """rollout.analysis, reading Azure Monitor with the run's credential; None without it."""
    spec = session.spec.rollout.analysis
    if spec is None:
        return None
    return Analysis(spec, session.azure.monitor, session.endpoint_name)


def pull_access(session: Session, login_server: str) -> PullAccess:
    """Who will pull the image, and from where; warns when a new endpoint could not."""
    access = PullAccess(
        login_server, session.azure.workspace_registry(), session.spec.endpoint.identity
    )
    warning = access.warning()
    # An existing endpoint's principal may have been granted the role since; only a new one
    # (every new preview) certainly has not, and its failed pull would say what to grant.
    if warning is not None and session.azure.endpoint(session.endpoint_name) is None:
        session.runner.warning(warning)
    return access


def observe_settled(session: Session, deadline: Deadline, *, wait: bool) -> EndpointState | None:
    """The endpoint once no operation is changing it: a run that will change it waits (up to
    the rollout's timeout) rather than planning against a moving target; a plan only warns."""
    azure, runner, name = session.azure, session.runner, session.endpoint_name
    observed = azure.endpoint(name)
    busy = observed.busy() if observed else []
    if busy and not wait:
        runner.warning(
            f"another operation is changing endpoint {name}: {', '.join(busy)}; this plan may "
            "be out of date when it finishes"
        )
        return observed
    if busy:
        runner.info(f"waiting: another operation is changing endpoint {name} ({', '.join(busy)})")
    while busy:
        try:
            deadline.sleep(SETTLE_POLL_SECONDS, "waiting for another operation")
        except TimedOut as exc:
            raise TimedOut(
                f"another operation kept changing endpoint {name} ({', '.join(busy)}) for "
                "longer than the rollout's timeout",
                hint="give the workflow a `concurrency` group per endpoint so that runs queue",
            ) from exc
        observed = azure.endpoint(name)
        busy = observed.busy() if observed else []
    return with_autoscale(session, observed)


def with_autoscale(session: Session, observed: EndpointState | None) -> EndpointState | None:
    """The endpoint with the autoscale settings on its deployments (Azure Monitor's, read
    apart). A run whose deploy file has no autoscale and may not read them plans without."""
    if observed is None:
        return None
    try:
        settings = session.azure.autoscale_settings(observed.name)
    except AzureError as failure:
        if failure.status != 403 or session.spec.deployment.autoscale is not None:
            raise
        return observed
    return replace(observed, autoscale=settings)


class SmokeTester:
    """The smoke test of the deploy file against one deployment, with the endpoint's key
    (masked the moment it is read) and scoring URI, both read once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._keys: Keys | None = None
        self._uri: str | None = None

    def keys(self) -> Keys:
        if self._keys is None:
            self._keys = self.session.azure.keys(self.session.endpoint_name)
            self.session.runner.mask(self._keys.primary)
            self.session.runner.mask(self._keys.secondary)
        return self._keys

    def __call__(self, deployment: str, deadline: Deadline, once: bool) -> SmokeResult:
        spec = self.session.spec.smoke_test
        assert spec is not None
        if self._uri is None:
            state = self.session.azure.endpoint(self.session.endpoint_name)
            if state is None or not state.scoring_uri:
                raise DeployerError(f"endpoint {self.session.endpoint_name} has no scoring URI")
            self._uri = state.scoring_uri
        if once:
            spec = replace(spec, attempts=1)
        return smoke_test(spec, self._uri, self.keys().primary, deployment, deadline=deadline.at)


class SessionServices:
    """What the executor asks of this run (execute.RunServices): the owner's tags, the smoke
    test, the build and the fix for an image pull, from the session."""

    def __init__(
        self,
        session: Session,
        smoke: SmokeTester,
        build: Callable[[], str] | None,
        pull: PullAccess | None,
    ) -> None:
        self.session, self.smoke, self._build, self.pull = session, smoke, build, pull

    def deployment_tags(self, image: str, settings_hash: str) -> dict[str, str]:
        return deployment_tags(self.session.owner, image, settings_hash)

    def autoscale_tags(self, fingerprint: str) -> dict[str, str]:
        return autoscale_tags(self.session.owner, fingerprint)

    @property
    def has_smoke_test(self) -> bool:
        return self.session.spec.smoke_test is not None

    def smoke_test(self, deployment: str, deadline: Deadline, once: bool) -> SmokeResult:
        return self.smoke(deployment, deadline, once)

    def build(self) -> str:
        if self._build is None:
            raise StepFailed("nothing to build: the deploy file gives image.ref")
        return self._build()

    def pull_hint(self, principal_id: str | None) -> str | None:
        return self.pull.hint(principal_id) if self.pull is not None else None


def holder(session: Session) -> Holder:
    return holder_of(session.context, session.environ)


@dataclass
class Converged:
    plan: Plan
    outcome: Outcome | None  # None: the plan was empty
    smoke: SmokeTester


def converge(
    session: Session,
    planner: Planner,
    desired: Callable[[], Desired],
    phases: Phases,
    deadline: Deadline,
    *,
    build: Callable[[], str] | None = None,
    wait: bool = True,
    pull: PullAccess | None = None,
    analysis: Analysis | None = None,
) -> Converged:
    """Observe, check, plan and execute until done: when another run holds the endpoint's
    lease, or changed the endpoint since it was observed, wait for it and plan again."""
    runner, name = session.runner, session.endpoint_name
    smoke = SmokeTester(session)
    me = holder(session)
    waited_for: str | None = None
    waiting_since = reported = 0.0
    shown: str | None = None
    while True:
        with phases("observe"):
            observed = observe_settled(session, deadline, wait=True)
            check_may_change(session.owner, name, observed)
            plan = planner(desired(), observed, deadline.clock.now())
        table = plan_table(plan)
        if table != shown:  # while waiting, a plan is shown again only when it changes
            for note in plan.notes:
                runner.info(note)
            runner.info(table)
        if plan.refused:
            raise PolicyError(
                f"the deploy file changes what azureml-deploy does not change on endpoint {name}: "
                + "; ".join(plan.refused)
            )
        if table != shown:
            # Before the lease and the build: Azure's quota and limits for what the plan makes.
            with phases("observe"):
                for warning in preflight(session.azure, plan, desired().settings, observed):
                    runner.warning(warning)
                if analysis is not None:
                    check_metrics_readable(analysis, plan)
            shown = table
        if plan.is_noop:
            return Converged(plan, None, smoke)
        job = Job(
            endpoint=name,
            auth_mode=str(session.spec.endpoint.auth_mode),
            description=session.spec.endpoint.description,
            endpoint_tags=session.endpoint_tags(),
            settings=desired().settings,
            holder=me,
            services=SessionServices(session, smoke, build, pull),
            identity=session.spec.endpoint.identity,
            analysis=analysis,
        )
        try:
            outcome = Executor(session.azure, runner, job, deadline, phases).run(plan)
        except LeaseHeld as held:
            who = held.holder.describe() if held.holder else "another operation"
            if not wait:
                raise Busy(
                    f"endpoint {name} is being changed by {who}; not waiting (--no-wait)",
                    hint="run again when it is done, or without --no-wait (input wait: true) "
                    "to wait for it",
                ) from held
            now = deadline.clock.monotonic()
            if waited_for != held.message:
                until = f" (its lease runs until {_clock(held.until)})" if held.until else ""
                runner.info(f"waiting: {held.message}{until}")
                waited_for, waiting_since, reported = held.message, now, now
            elif now - reported >= WAITING_EVERY_SECONDS:
                runner.info(f"still waiting for {who} ({now - waiting_since:.0f} s)")
                reported = now
            deadline.sleep(LEASE_POLL_SECONDS, f"waiting for {who} to finish with endpoint {name}")
            continue
        return Converged(plan, outcome, smoke)


def _clock(moment: datetime.datetime) -> str:
    return moment.strftime("%H:%M:%S UTC")


def report(  # noqa: PLR0917 - one value per line of the report
    session: Session,
    converged: Converged,
    image: str,
    outcome: str,
    image_tag: str = "",
    image_work: str = "",
    analysis: Analysis | None = None,
) -> DeployReport:
    final = session.azure.endpoint(session.endpoint_name)
    if final is None:
        raise PolicyError(f"endpoint {session.endpoint_name} disappeared during the rollout")
    return DeployReport(
        endpoint=final,
        deployment=converged.plan.target,
        previous=converged.plan.previous,
        image=image,
        keys=converged.smoke.keys(),
        plan=converged.plan,
        smoke=converged.outcome.smoke if converged.outcome else None,
        studio_url=studio_url(session, session.endpoint_name),
        outcome=outcome,
        image_tag=image_tag,
        image_work=image_work,
        windows=tuple(analysis.windows) if analysis else (),
        analysed=analysis is not None,
    )


@contextlib.contextmanager
def failure_summarised(session: Session, analysis: Analysis | None = None) -> Iterator[None]:
    """A failure inside goes into the job summary (then on, to the command line's handler),
    with the analysis windows so far, which are the `analysis` output too."""
    try:
        yield
    except DeployerError as failure:
        windows = tuple(analysis.windows) if analysis else ()
        if analysis is not None:
            outputs = {"analysis": analysis_json(windows, analysed=True)}
            publish(session.runner, outputs, session.options.output_json)
        if session.options.summary:
            session.runner.add_summary(
                failure_markdown(session.endpoint_name, failure.message, failure.hint)
                + analysis_markdown(windows)
            )
        raise


def hand_back(session: Session, result: DeployReport, phases: Phases) -> None:
    """The run's outputs (keys masked first), its job summary and its log summary."""
    runner, options = session.runner, session.options
    publish(runner, result.outputs(), options.output_json)
    if options.summary:
        runner.add_summary(summary_markdown(result, phases, session.spec.environment))
    runner.info(console_summary(result, phases))


def studio_url(session: Session, endpoint: str) -> str:
    cloud = session.cloud
    if cloud.is_local:
        return cloud.studio
    return f"{cloud.studio}/endpoints/realtime/{endpoint}/detail?wsid={session.azure.workspace_id}"


def github_presence(session: Session) -> GitHubPresence | None:
    """The run's GitHub deployment and pull request comment, when the job's token allows."""
    spec, name = session.spec, session.endpoint_name
    return GitHubPresence.open(
        session.runner,
        session.context,
        session.environ,
        environment=spec.environment or name,
        endpoint=name,
        preview=spec.ttl_hours is not None,
        where=comment.Where(
            name,
            session.azure.resource_group,
            session.azure.workspace,
            str(spec.endpoint.auth_mode),
        ),
        verify=session.cloud.ca_bundle or True,
    )


def live_comment(result: DeployReport, phases: Phases, run_url: str | None) -> comment.Live:
    endpoint = result.endpoint
    return comment.Live(
        scoring_uri=endpoint.scoring_uri or "",
        deployment=result.deployment or "",
        image=result.image,
        traffic=comment.traffic_line(endpoint.traffic),
        smoke=result.smoke.describe() if result.smoke else "not run",
        timings=timing_text(phases),
        studio_url=result.studio_url,
        run_url=run_url,
    )
