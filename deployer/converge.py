"""One run against an endpoint, for every command that changes it (deploy, rollback, promote,
abort, cleanup's retirements): observe it once it is settled, check this run may change it,
plan, and execute the plan under the endpoint's lease, waiting (or not) for another run that
holds it."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, replace

from deployer.agreement import Agreement
from deployer.analysis import Analysis
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
from deployer.files import UnreadableFile
from deployer.lease import holder_of
from deployer.plan import Desired, Plan, Planner
from deployer.policy import check_may_change
from deployer.preflight import check_metrics_readable, preflight
from deployer.reach import explained
from deployer.report import (
    plan_table,
)
from deployer.scoring import HttpScorer
from deployer.session import Session
from deployer.smoke import LoadSender, SmokeResult, smoke_test
from deployer.state import EndpointState, Keys
from deployer.tags import Holder, autoscale_tags, deployment_tags
from deployer.timing import Phases

SETTLE_POLL_SECONDS = 2.0


LEASE_POLL_SECONDS = 5.0


WAITING_EVERY_SECONDS = 30.0


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

    def scoring_uri(self) -> str:
        if self._uri is None:
            state = self.session.azure.endpoint(self.session.endpoint_name)
            if state is None or not state.scoring_uri:
                raise DeployerError(f"endpoint {self.session.endpoint_name} has no scoring URI")
            self._uri = state.scoring_uri
        return self._uri

    def __call__(self, deployment: str, deadline: Deadline, once: bool) -> SmokeResult:
        spec = self.session.spec.smoke_test
        assert spec is not None
        if once:
            spec = replace(spec, attempts=1)
        uri = self.scoring_uri()
        result = smoke_test(spec, uri, self.keys().primary, deployment, deadline=deadline.at)
        return explained(result, self.session.spec)

    def load_sender(self, deployment: str) -> LoadSender:
        spec = self.session.spec.smoke_test
        assert spec is not None, "the deploy file's rules refuse load without a smoke test"
        try:
            return LoadSender(spec, self.scoring_uri(), self.keys().primary, deployment)
        except UnreadableFile as exc:
            raise StepFailed(f"rollout.analysis.load cannot send the smoke test's {exc}") from exc


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
        self._scorer: HttpScorer | None = None

    def deployment_tags(self, image: str, settings_hash: str) -> dict[str, str]:
        return deployment_tags(self.session.owner, image, settings_hash)

    def autoscale_tags(self, fingerprint: str) -> dict[str, str]:
        return autoscale_tags(self.session.owner, fingerprint)

    @property
    def has_smoke_test(self) -> bool:
        return self.session.sends_smoke_test

    def smoke_test(self, deployment: str, deadline: Deadline, once: bool) -> SmokeResult:
        return self.smoke(deployment, deadline, once)

    def load_sender(self, deployment: str) -> LoadSender:
        return self.smoke.load_sender(deployment)

    def scorer(self) -> HttpScorer:
        if self._scorer is None:
            self._scorer = HttpScorer(self.smoke.scoring_uri(), self.smoke.keys().primary)
        return self._scorer

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
    agreement: Agreement | None = None,
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
            public_network_access=str(session.spec.endpoint.public_network_access),
            analysis=analysis,
            agreement=agreement,
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
