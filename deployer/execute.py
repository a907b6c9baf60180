"""The one executor: it runs every step of a plan, against the narrow `Platform` it needs
(implemented by deployer/azure/ over azure-ai-ml, and by an in-memory fake in the unit
tests), holding the endpoint's lease while it works and putting things right when a step
fails or the workflow is cancelled.

Production is never put at risk: the candidate gets traffic only after it is provisioned and
has passed the smoke test; on any failure all traffic goes back to the known-good deployment
before anything else, and only what this run created or updated is removed — never the
known-good deployment. Every change of traffic carries the rollout record in the same request,
so a run killed at any point leaves a record the next run can trust.
"""

from __future__ import annotations

import datetime
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol, assert_never

from deployer.agreement import Agreement, AgreementVerdict, Check, Scorer
from deployer.analysis import Analysis, Stage, StageKind, StageResult, Verdict, Window
from deployer.deadline import Deadline
from deployer.errors import (
    AzureError,
    Cancelled,
    DeployerError,
    EndpointNotSettled,
    ImageBuildFailed,
    ImagePullFailed,
    LeaseHeld,
    LeaseLost,
    RolloutFailed,
    StepFailed,
)
from deployer.github.runner import Runner
from deployer.lease import Lease
from deployer.load import Load, Sender
from deployer.plan import Plan
from deployer.smoke import SmokeResult
from deployer.spec.model import EndpointIdentity, OnInconclusive, Strategy
from deployer.state import (
    AutoscaleState,
    DeploymentSettings,
    EndpointState,
    NewAutoscale,
    NewEndpoint,
    traffic_text,
)
from deployer.steps import (
    WATCHES,
    Bake,
    BuildImage,
    CreateEndpoint,
    EndpointChange,
    Mark,
    PinAutoscale,
    PlanStep,
    Provision,
    Retire,
    SetAutoscale,
    SetTraffic,
    Shadow,
    SmokeTest,
    Watch,
)
from deployer.tags import Holder, Record, with_record, with_user_tags
from deployer.timing import Phases

LOG_LINES = 100
BUILD_LOG_LINES = 60  # the failing step and its error are at the end of a build log
BUILD_LOG_BYTES = 64 * 1024
WATCH_CHECK_SECONDS = 1.0
RESTORE_GRACE_SECONDS = 60.0
# An endpoint can report Updating just after it reported Succeeded and refuse deployments
# meanwhile (Azure/azure-sdk-for-net#36961; how long is not documented): waited out, bounded.
SETTLE_SECONDS = 300.0
SETTLE_POLL_SECONDS = 5.0


class Waitable(Protocol):
    description: str

    def wait(self, deadline: Deadline, progress: Callable[[str], None]) -> None: ...


class Platform(Protocol):
    """What the executor needs of Azure ML."""

    def endpoint(self, name: str) -> EndpointState | None: ...

    def begin_create_endpoint(self, endpoint: NewEndpoint) -> Waitable: ...

    def begin_update_endpoint(
        self,
        name: str,
        tags: Mapping[str, str],
        traffic: Mapping[str, int] | None,
        description: str | None = None,
        mirror: Mapping[str, int] | None = None,
    ) -> Waitable: ...

    def begin_set_public_network_access(self, name: str, access: str) -> Waitable: ...

    def begin_deployment(
        self, endpoint: str, name: str, settings: DeploymentSettings, tags: Mapping[str, str]
    ) -> Waitable: ...

    def begin_delete_deployment(self, endpoint: str, name: str) -> Waitable: ...

    def logs(self, endpoint: str, deployment: str, container: str, lines: int) -> str: ...

    def build_log(self, account: str, container: str, path: str, max_bytes: int) -> str:
        """The end of an environment's image build log ("" when there is none)."""
        ...

    # Azure Monitor's autoscale settings on the endpoint's deployments
    def autoscale_settings(self, endpoint: str) -> tuple[AutoscaleState, ...]: ...

    def put_autoscale(self, wanted: NewAutoscale, tags: Mapping[str, str]) -> None: ...

    def enable_autoscale(self, name: str, enabled: bool) -> None: ...

    def delete_autoscale(self, name: str) -> None: ...


class RunServices(Protocol):
    """What the executor asks of the run that drives it (implemented once, run.py's
    `SessionServices`; the unit tests' in fakes.py)."""

    def deployment_tags(self, image: str, settings_hash: str) -> dict[str, str]: ...

    def autoscale_tags(self, fingerprint: str) -> dict[str, str]:
        """An autoscale setting's tags: the owner's and the setting's fingerprint."""
        ...

    @property
    def has_smoke_test(self) -> bool: ...

    def smoke_test(self, deployment: str, deadline: Deadline, once: bool) -> SmokeResult:
        """The deploy file's smoke test against `deployment` (`once`: a single attempt)."""
        ...

    def load_sender(self, deployment: str) -> Sender:
        """The smoke test's request to `deployment`, for rollout.analysis.load."""
        ...

    def scorer(self) -> Scorer:
        """Scoring requests to one deployment of the endpoint, for rollout.agreement."""
        ...

    def build(self) -> str:
        """Build and push the image; the image by digest."""
        ...

    def pull_hint(self, principal_id: str | None) -> str | None:
        """The fix for an image the endpoint's identity (`principal_id`) could not pull."""
        ...


@dataclass(frozen=True)
class Job:
    """What this run deploys, and as whom."""

    endpoint: str
    auth_mode: str
    description: str | None
    endpoint_tags: Mapping[str, str]  # for a new endpoint: the owner's and the deploy file's
    settings: DeploymentSettings  # its image is "" until BuildImage
    holder: Holder
    services: RunServices
    identity: EndpointIdentity = field(default_factory=EndpointIdentity)  # for a new endpoint
    public_network_access: str = "enabled"  # for a new endpoint; an existing one's: its change
    # rollout.analysis: the candidate judged by its live traffic (its windows outlive the run)
    analysis: Analysis | None = None
    # rollout.agreement: the candidate's answers compared with the known-good's
    agreement: Agreement | None = None


@dataclass
class Outcome:
    """What the executor did: the truth used to report it, and to undo it."""

    image: str = ""
    traffic: dict[str, int] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)
    smoke: SmokeResult | None = None
    leased: bool = False
    released: bool = False
    mirror: dict[str, int] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)  # the analysis, window by window


class Executor:
    def __init__(
        self,
        platform: Platform,
        runner: Runner,
        job: Job,
        deadline: Deadline,
        phases: Phases,
    ) -> None:
        self.platform = platform
        self.runner = runner
        self.job = job
        self.deadline = deadline
        self.phases = phases
        self.clock = deadline.clock  # the run's one clock, carried by its deadline
        self.plan: Plan | None = None
        self.outcome = Outcome()
        self._creating: Waitable | None = None
        self._index = 0
        self.lease = Lease(job.endpoint, job.holder, self.clock)
        self._agreed_before_traffic = False

    # --- running a plan ------------------------------------------------------------------------

    def run(self, plan: Plan) -> Outcome:
        self.plan = plan
        self.outcome = Outcome(
            image=self.job.settings.image,
            traffic=dict(plan.traffic_before),
            mirror=dict(plan.mirror_before),
        )
        if self.job.analysis is not None:
            self.outcome.windows = self.job.analysis.windows
        for index, step in enumerate(plan.steps):
            if not isinstance(step, BuildImage):
                self._endpoint_ready()
            self.runner.info(f"→ {step.describe()}")
            self._index = index
            try:
                self._run(step, plan.steps[index + 1 :])
            except Cancelled:
                self._after_cancel()
                raise
            except (LeaseHeld, LeaseLost):
                raise  # nothing was changed yet, or another run has taken over
            except DeployerError as failure:
                if isinstance(step, Retire):
                    # What serves is right; a deployment that will not go is a warning (and
                    # the next run retires it).
                    self.runner.warning(f"could not delete deployment {step.deployment}: {failure}")
                    continue
                if isinstance(step, SetAutoscale) and self.outcome.released:
                    # After the rollout: the next run's plan writes the setting again.
                    self.runner.warning(f"could not {step.describe()}: {failure}")
                    continue
                if self._busy(step, failure):
                    # Another operation on the endpoint (another run creating it, say): wait
                    # for it and plan again.
                    raise LeaseHeld(failure.message, None, None) from failure
                raise self._after_failure(step, failure) from failure
        self._endpoint_ready()
        if self.outcome.leased and not self.outcome.released:
            self._write(self._current_record(), None, release=True)
        return self.outcome

    def _busy(self, step: PlanStep, failure: DeployerError) -> bool:
        """A conflict before this run changed anything, because the endpoint is busy or was
        created meanwhile (not, say, because its name is taken in another workspace)."""
        if self.outcome.leased or not isinstance(failure, AzureError) or failure.status != 409:
            return False
        return not isinstance(step, CreateEndpoint) or (
            self.platform.endpoint(self.job.endpoint) is not None
        )

    def _run(self, step: PlanStep, rest: tuple[PlanStep, ...]) -> None:
        match step:
            case CreateEndpoint(record):
                self._create_endpoint(record)
            case Mark(record, change, stop_mirror):
                with self.phases("lease"):
                    self._acquire(record, change, stop_mirror)
            case BuildImage():
                self.outcome.image = self.job.services.build()
            case Provision(deployment, create, instance_count):
                self._provision(deployment, create, instance_count)
            case SmokeTest(deployment):
                self._smoke(deployment)
            case SetTraffic(traffic, record):
                # The last change of traffic ends the rollout: it hands the lease back too
                # (what follows only retires deployments nothing refers to any more).
                final = not any(isinstance(later, (SetTraffic, Mark)) for later in rest)
                if self.plan is not None and traffic.get(self.plan.target or "", 0) > 0:
                    self._agree_before_traffic()
                with self.phases("traffic"):
                    self._write(record, traffic, release=final)
            case Shadow(deployment, percent, seconds, record):
                self._agree_before_traffic()
                with self.phases("shadow"):
                    self._write(record, None, mirror={deployment: percent})
                    self._watch(deployment, seconds, f"shadow {percent}%", StageKind.SHADOW)
            case Watch() | Bake():
                phase, stage, kind = (
                    ("canary watch", f"canary {step.share}%", StageKind.CANARY)
                    if isinstance(step, Watch)
                    else ("bake", "bake", StageKind.BAKE)
                )
                with self.phases(phase):
                    self._watch(step.deployment, step.seconds, stage, kind)
            case SetAutoscale() | PinAutoscale():
                with self.phases("autoscale"):
                    self._autoscale(step)
            case Retire(deployment, _):
                with self.phases("retire"):
                    self.platform.begin_delete_deployment(self.job.endpoint, deployment).wait(
                        self.deadline, self.runner.info
                    )
                self.outcome.traffic.pop(deployment, None)
            case _:
                assert_never(step)  # a new step is a type error until it is run here

    # --- the lease -------------------------------------------------------------------------------

    def _provisioning_left(self) -> datetime.timedelta | None:
        """A short lease, except while provisioning is still ahead: Azure lets nobody change
        the endpoint while a deployment provisions, so the lease then covers the rollout's time
        left, and the first write after it shortens it again."""
        provisioning = self.plan is not None and any(
            isinstance(step, Provision) for step in self._remaining()
        )
        return datetime.timedelta(seconds=self.deadline.remaining()) if provisioning else None

    def _remaining(self) -> tuple[PlanStep, ...]:
        assert self.plan is not None
        return self.plan.steps[self._index + 1 :]

    def _leased(self, record: Record) -> Record:
        return self.lease.taken(record, self._provisioning_left())

    def _acquire(
        self, record: Record, change: EndpointChange | None = None, stop_mirror: bool = False
    ) -> None:
        """Take the lease: check that nobody else holds it and that the endpoint is as planned,
        write it with the record, read it back."""
        assert self.plan is not None
        current = self.platform.endpoint(self.job.endpoint)
        if current is None:
            raise LeaseHeld(f"endpoint {self.job.endpoint} disappeared", None, None)
        self.lease.check_free(current.record)
        if current.basis() != self.plan.basis:
            raise LeaseHeld(
                f"endpoint {self.job.endpoint} changed since it was planned", None, None
            )
        mirror = self._mirror_left_alone() if stop_mirror else None
        self._put(current, self._leased(record), None, change, mirror)
        self._read_back()

    def _create_endpoint(self, record: Record) -> None:
        tags = with_record(self.job.endpoint_tags, self._leased(self._with_image(record)))
        self._creating = self.platform.begin_create_endpoint(
            NewEndpoint(
                self.job.endpoint,
                self.job.auth_mode,
                self.job.description,
                tags,
                self.job.identity,
                self.job.public_network_access,
            )
        )

    def _endpoint_ready(self) -> None:
        """Wait for an endpoint this run is creating (the image builds meanwhile), then check
        that the lease it was created with is still this run's."""
        if self._creating is None:
            return
        creating, self._creating = self._creating, None
        with self.phases("endpoint"):
            creating.wait(self.deadline, self.runner.info)
        self._read_back()

    def _read_back(self) -> None:
        current = self.platform.endpoint(self.job.endpoint)
        holder = current.record.holder if current is not None else None
        if holder != self.job.holder:
            raise LeaseHeld(
                f"another run took endpoint {self.job.endpoint} at the same moment: "
                f"{holder.describe() if holder else 'unknown'}",
                holder,
                current.record.lease_until if current is not None else None,
            )
        self.outcome.leased = True

    def _current_record(self) -> Record:
        current = self.platform.endpoint(self.job.endpoint)
        return current.record if current is not None else Record()

    def _write(
        self,
        record: Record,
        traffic: Mapping[str, int] | None,
        *,
        release: bool = False,
        mirror: Mapping[str, int] | None = None,
    ) -> None:
        """Write `record` (and `traffic`) while holding the lease: renewed, or handed back."""
        current = self.platform.endpoint(self.job.endpoint)
        if current is None:
            raise StepFailed(f"endpoint {self.job.endpoint} disappeared during the rollout")
        holder = current.record.holder
        if self.outcome.leased and holder != self.job.holder:
            raise LeaseLost(
                f"another run took over endpoint {self.job.endpoint} "
                f"({holder.describe() if holder else 'its lease was removed'}); this run stops "
                "without changing anything more"
            )
        written = self._with_image(record)
        written = self.lease.released(written) if release else self._leased(written)
        if mirror is None and traffic is not None and self.outcome.mirror:
            # Azure ML mirrors only to a deployment without live traffic: the shadow stage's
            # mirror stops in the request that moves traffic.
            mirror = self._mirror_left_alone()
        self._put(current, written, traffic, mirror=mirror)
        if release:
            self.outcome.released = True

    def _with_image(self, record: Record) -> Record:
        """The image this run deployed, in a record that names its target known-good."""
        assert self.plan is not None
        if record.known_good == self.plan.target and record.known_good_image is None:
            return replace(record, known_good_image=self.outcome.image or None)
        return record

    def _put(
        self,
        current: EndpointState,
        record: Record,
        traffic: Mapping[str, int] | None,
        change: EndpointChange | None = None,
        mirror: Mapping[str, int] | None = None,
    ) -> None:
        tags = with_record(current.tags, record)
        if change is not None and change.tags is not None:
            tags = with_user_tags(tags, change.tags)
        description = change.description if change is not None else None
        self.platform.begin_update_endpoint(
            self.job.endpoint, tags, traffic, description, mirror
        ).wait(self.deadline, self.runner.info)
        if change is not None and change.public_network_access is not None:
            # After the record: the lease is this run's before the endpoint's reach changes.
            self.platform.begin_set_public_network_access(
                self.job.endpoint, change.public_network_access
            ).wait(self.deadline, self.runner.info)
        if traffic is not None:
            self.outcome.traffic = dict(traffic)
        if mirror is not None:
            self.outcome.mirror = dict(mirror)

    def _mirror_to_stop(self) -> dict[str, int] | None:
        """The mirror to write that stops this run's shadow stage; None: nothing to stop."""
        left_alone = self._mirror_left_alone()
        if self.outcome.mirror == left_alone:
            return None
        self.runner.info("→ stopping the mirrored traffic")
        return left_alone

    def _mirror_left_alone(self) -> dict[str, int]:
        """The mirror without the action's deployments: someone else's is not ours to stop."""
        assert self.plan is not None
        return {n: s for n, s in self.outcome.mirror.items() if n in self.plan.left_alone}

    # --- steps -----------------------------------------------------------------------------------

    def _autoscale(self, step: SetAutoscale | PinAutoscale) -> None:
        if isinstance(step, PinAutoscale):
            self.platform.enable_autoscale(step.name, step.enabled)
        elif step.setting is None:
            self.platform.delete_autoscale(step.name)
        else:
            tags = self.job.services.autoscale_tags(step.setting.fingerprint)
            wanted = NewAutoscale(step.name, self.job.endpoint, step.deployment, step.setting)
            self.platform.put_autoscale(wanted, tags)

    def _settings(self) -> DeploymentSettings:
        return replace(self.job.settings, image=self.outcome.image)

    def _provision(self, deployment: str, create: bool, instance_count: int | None) -> None:
        settings = self._settings()
        # The tags name the deploy file's settings; the instance count is autoscale's to keep.
        tags = self.job.services.deployment_tags(settings.image, settings.settings_hash)
        if instance_count is not None:
            settings = replace(settings, instance_count=instance_count)
        with self.phases(f"deployment {deployment}"):
            operation = self._begin_deployment(deployment, settings, tags)
            (self.outcome.created if create else self.outcome.updated).add(deployment)
            try:
                operation.wait(self.deadline, self.runner.info)
            except ImagePullFailed as failure:
                observed = self.platform.endpoint(self.job.endpoint)
                principal = observed.principal_id if observed else None
                failure.hint = self.job.services.pull_hint(principal) or failure.hint
                raise

    def _begin_deployment(
        self, deployment: str, settings: DeploymentSettings, tags: Mapping[str, str]
    ) -> Waitable:
        """The deployment's PUT, sent again while the endpoint is not settled: a refused PUT
        changed nothing, so sending it again is safe."""
        settle = Deadline.after(SETTLE_SECONDS, what="", clock=self.clock)
        waited = False
        while True:
            try:
                return self.platform.begin_deployment(self.job.endpoint, deployment, settings, tags)
            except EndpointNotSettled as refusal:
                if settle.passed:
                    raise StepFailed(
                        f"endpoint {self.job.endpoint} still refused deployment {deployment} "
                        f"after {SETTLE_SECONDS:.0f} s: {refusal.message}",
                        hint="Azure can report an endpoint Updating just after it reported "
                        "Succeeded (Azure/azure-sdk-for-net#36961); check the endpoint in Azure "
                        "ML studio, and run again once it shows Succeeded",
                    ) from refusal
                if not waited:
                    self.runner.info(
                        f"  endpoint {self.job.endpoint} is not settled yet ({refusal.message}); "
                        f"trying again every {SETTLE_POLL_SECONDS:.0f} s"
                    )
                waited = True
                self.deadline.sleep(SETTLE_POLL_SECONDS, "waiting for the endpoint to settle")

    def _smoke(self, deployment: str) -> None:
        if not self.job.services.has_smoke_test:
            return
        with self.phases("smoke test"):
            result = self.job.services.smoke_test(deployment, self.deadline, False)
        self.outcome.smoke = result
        self.runner.info(f"  smoke test of {deployment}: {result.describe()}")
        if not result.passed:
            raise StepFailed(f"the smoke test of deployment {deployment} failed: {result.detail}")

    def _watch(self, deployment: str, seconds: float, stage_name: str, kind: StageKind) -> None:
        """Watch the candidate for `seconds`, testing it every second (one request each): one
        that starts failing is rolled back within seconds, not a step later. With
        rollout.analysis, its live traffic is judged window by window as Azure Monitor shows
        it, and the watch lasts until the last window is judged; with its `load`, the action
        sends the smoke test's request meanwhile. The lease is renewed meanwhile."""
        stage = self._stage(deployment, seconds, stage_name, kind)
        load = self._load(deployment)
        if load is None:
            self._watching(deployment, seconds, stage_name, stage)
        else:
            with load:
                self._watching(deployment, seconds, stage_name, stage)
            self.runner.info(f"  load on {deployment} ({stage_name}): {load.describe()}")
        if stage is not None and stage.result is not None:
            self._concluded(stage.result)
        if kind is not StageKind.BAKE:
            self._agree(deployment, stage_name)

    def _watching(
        self, deployment: str, seconds: float, stage_name: str, stage: Stage | None
    ) -> None:
        end = self.clock.monotonic() + seconds
        while True:
            if stage is not None:
                stage.poll(self.clock.now(), self._reported)
                if stage.analysis.breached():
                    raise self._breach(stage.analysis, deployment)
            if self.clock.monotonic() >= end and (stage is None or stage.done()):
                break
            left = end - self.clock.monotonic()
            # Past its time (waiting for the last window to show), the watch still tests once
            # a second, not faster.
            pause = min(WATCH_CHECK_SECONDS, left) if left > 0 else WATCH_CHECK_SECONDS
            self.deadline.sleep(pause, "watching")
            if self.job.services.has_smoke_test:
                result = self.job.services.smoke_test(deployment, self.deadline, True)
                if not result.passed:
                    self.outcome.smoke = result
                    raise StepFailed(
                        f"the candidate {deployment} started failing ({stage_name}): "
                        f"{result.detail}"
                    )
            self._renew_if_due()

    def _stage(self, deployment: str, seconds: float, name: str, kind: StageKind) -> Stage | None:
        if self.job.analysis is None:
            return None
        assert self.plan is not None
        baseline = self.plan.previous if self.plan.previous != deployment else None
        now = self.clock.now()
        return self.job.analysis.stage(name, deployment, baseline, now, seconds, kind)

    def _load(self, deployment: str) -> Load | None:
        analysis = self.job.analysis
        if analysis is None or analysis.spec.load is None:
            return None
        if not self.job.services.has_smoke_test:
            return None  # the runner cannot reach the endpoint (deployer/reach.py says so)
        return Load(self.job.services.load_sender(deployment), analysis.spec)

    def _concluded(self, result: StageResult) -> None:
        """An inconclusive stage fails like a breach, or goes on saying so loudly."""
        if result.verdict is not Verdict.INCONCLUSIVE:
            return
        analysis = self.job.analysis
        assert analysis is not None
        why = result.describe(analysis.spec)
        setting = (
            "rollout.shadow.on_inconclusive"
            if result.kind is StageKind.SHADOW and analysis.shadow_on_inconclusive is not None
            else "rollout.analysis.on_inconclusive"
        )
        if result.on_inconclusive is OnInconclusive.PASS:
            self.runner.warning(
                f"INCONCLUSIVE, NOT JUDGED: {why}. The rollout goes on because {setting} is "
                "'pass'; add rollout.analysis.load to send the smoke test's request during "
                "each window"
            )
            return
        mirrored = (
            "; Azure does not document whether mirrored requests count in the deployment's "
            "metrics, so a shadow stage may see only the requests sent to it directly"
            if result.kind is StageKind.SHADOW
            else ""
        )
        raise StepFailed(
            f"the analysis of {result.deployment} is inconclusive ({why}; {setting} is 'fail')",
            hint="add rollout.analysis.load: the action sends the smoke test's request to the "
            "new deployment during each window; or lower min_requests, or set "
            f"{setting}: pass to go on without a verdict{mirrored}",
        )

    def _reported(self, window: Window) -> None:
        text = window.describe()
        if window.verdict is Verdict.FAILED:
            self.runner.warning(f"analysis: {text}")
        else:
            self.runner.info(f"  analysis: {text}")

    def _breach(self, analysis: Analysis, deployment: str) -> StepFailed:
        failed = [w for w in analysis.windows if w.verdict is Verdict.FAILED]
        last = failed[-1]
        limit = analysis.spec.failure_limit
        return StepFailed(
            f"the analysis of {deployment} failed ({last.stage}: {'; '.join(last.reasons)}; "
            f"{len(failed)} failed window{'s' if len(failed) != 1 else ''}, failure_limit "
            f"{limit})",
            hint="the job summary lists every analysis window; fix the model server, or set "
            "rollout.analysis's thresholds to what it should meet",
        )

    # --- rollout.agreement ---------------------------------------------------------------------

    def _agree_before_traffic(self) -> None:
        """Before the candidate sees its first live (or mirrored) request."""
        if self._agreed_before_traffic or self.plan is None or self.plan.target is None:
            return
        self._agreed_before_traffic = True
        resumed = self.plan.traffic_before.get(self.plan.target, 0) > 0  # `promote`
        self._agree(self.plan.target, "before the next step" if resumed else "before traffic")

    def _agree(self, deployment: str, stage: str) -> None:
        """The request set sent to the known-good and to `deployment`, their answers compared;
        a breach fails the stage (and the rollout is undone like an analysis breach)."""
        agreement = self.job.agreement
        if agreement is None:
            return
        assert self.plan is not None
        known_good = self.plan.previous
        if known_good is None or known_good == deployment:
            if not agreement.checks:
                why = (
                    "a first deploy: no known-good deployment to compare the answers with"
                    if known_good is None
                    else "strategy replace updates the one deployment: nothing to compare with"
                )
                self.runner.info(
                    f"  agreement: {agreement.not_judged(stage, deployment, why).describe()}"
                )
            return
        with self.phases("agreement"):
            scorer = self.job.services.scorer()
            check = agreement.check(stage, deployment, known_good, scorer, self.deadline)
        if check.verdict is AgreementVerdict.PASSED:
            self.runner.info(f"  agreement: {check.describe()}")
            return
        self.runner.warning(f"agreement: {check.describe()}")
        raise _disagreement(check)

    def _renew_if_due(self) -> None:
        if self.outcome.leased and self.lease.renewal_due():
            self._write(self._current_record(), None)

    # --- when things go wrong --------------------------------------------------------------------

    def _after_failure(self, step: PlanStep, failure: DeployerError) -> StepFailed:
        assert self.plan is not None
        target = self.plan.target
        if target is not None and isinstance(step, (Provision, SmokeTest, *WATCHES)):
            self._show_logs(target, failure)
        left = self._undo(self.deadline.grace(600))
        message = f"{failure.message.rstrip('. ')}. {left}"
        return RolloutFailed(message, hint=failure.hint, cause=failure)

    def _after_cancel(self) -> None:
        left = self._undo(self.deadline.grace(RESTORE_GRACE_SECONDS), cancelled=True)
        self.runner.error(f"cancelled. {left}")

    def _undo(self, grace: Deadline, cancelled: bool = False) -> str:
        """All traffic back on the known-good deployment, the record without the candidate and
        the lease handed back, then what this run created or updated removed; what the endpoint
        is left with, in words."""
        assert self.plan is not None
        plan, outcome = self.plan, self.outcome
        known_good, target = plan.previous, plan.target
        self.deadline = grace
        touched = (
            target is not None
            and target != known_good
            and (target in outcome.created or target in outcome.updated)
        )
        if not outcome.leased:
            return (
                self._created_alone()
                if self._creating is not None
                else f"Nothing was changed on endpoint {plan.endpoint}."
            )
        if plan.strategy is Strategy.REPLACE:
            self._try_release()
            return (
                f"Endpoint {plan.endpoint} was updated in place; traffic is "
                f"{traffic_text(outcome.traffic)}."
            )
        restore = None
        if target is not None and outcome.traffic.get(target, 0) > 0:
            restore = {name: 0 for name in outcome.traffic}
            if known_good is not None:
                restore[known_good] = 100
            self.runner.info(f"→ putting all traffic back on {known_good}")
        record = replace(self._current_record(), candidate=None, step=None)
        mirror = self._mirror_to_stop()
        try:
            self._write(record, restore, release=True, mirror=mirror)
        except DeployerError as exc:
            if restore is not None:
                return (
                    f"Restoring traffic to {known_good} FAILED ({exc.message}); traffic is "
                    f"{traffic_text(outcome.traffic)}: set it back by hand."
                )
            # Nothing to put back; the record could not be written (Azure refuses any change
            # while a deployment provisions): the next run reads the candidate from it.
            self.runner.info(f"  the rollout record stays as it was ({exc.message})")
        self._resume_autoscale()
        shares = traffic_text(outcome.traffic)
        if not touched or target is None:
            fate = f"{target} was not created" if target else "nothing was created"
        elif cancelled:
            # No time to wait for the deletion: it is started, or the next run finishes it.
            try:
                self.platform.begin_delete_deployment(plan.endpoint, target)
                fate = f"deployment {target} is being deleted"
            except DeployerError:
                fate = (
                    f"deployment {target} could not be deleted yet (Azure is still provisioning "
                    "it); it takes no traffic, and the next run takes the rollout from there"
                )
        else:
            self.runner.info(f"→ deleting the failed deployment {target}")
            try:
                self.platform.begin_delete_deployment(plan.endpoint, target).wait(
                    grace, self.runner.info
                )
                fate = f"{target} was removed"
            except DeployerError as exc:
                fate = f"deleting {target} failed ({exc.message}); the next run removes it"
        if known_good is not None:
            serves = "100% of traffic" if outcome.traffic.get(known_good) == 100 else f"({shares})"
            return f"Rolled back: {known_good} still serves {serves}; {fate}."
        return f"Nothing serves on endpoint {plan.endpoint} yet; {fate}."

    def _resume_autoscale(self) -> None:
        """The known-good's setting, paused by this run or one before it, running again."""
        assert self.plan is not None
        if self.plan.paused is None:
            return
        self.runner.info(f"→ resuming autoscale on {self.plan.previous}")
        try:
            self.platform.enable_autoscale(self.plan.paused, True)
        except DeployerError as exc:
            self.runner.warning(
                f"could not resume autoscale setting {self.plan.paused} ({exc.message}); the "
                "next deploy resumes it"
            )

    def _show_build_log(self, where: tuple[str, str, str]) -> None:
        try:
            content = self.platform.build_log(*where, BUILD_LOG_BYTES)
        except DeployerError as exc:
            self.runner.warning(f"could not read the environment's build log: {exc.message}")
            return
        if content.strip():
            lines = content.rstrip().splitlines()[-BUILD_LOG_LINES:]
            title = f"Build log of the environment's image (last {len(lines)} lines)"
            with self.runner.group(title):
                self.runner.info("\n".join(lines))
            return
        account, container, path = (shlex.quote(part) for part in where)
        self.runner.info(
            f"the environment's build log is in storage account {account}, container "
            f"{container}, at {path}: az storage blob download --account-name {account} "
            f"--container-name {container} --name {path} --file build.log --auth-mode login"
        )

    def _created_alone(self) -> str:
        """The run stopped while the endpoint it began creating (the image builds meanwhile)
        was still being created: wait for it, hand back the lease it was created with, and say
        what is left, so that the next run deploys onto it at once."""
        name = self.job.endpoint
        try:
            self._endpoint_ready()
            self._write(self._current_record(), None, release=True)
        except DeployerError as exc:
            return (
                f"Endpoint {name} was being created by this run ({exc.message.rstrip('. ')}); "
                "it has no deployment and no traffic. The next run finds it and deploys onto "
                "it once this run's lease on it has ended."
            )
        return (
            f"Endpoint {name} was created, with no deployment and no traffic; nothing else "
            "was changed. The next run deploys onto it."
        )

    def _try_release(self) -> None:
        try:
            self._write(self._current_record(), None, release=True)
        except DeployerError as exc:
            self.runner.warning(f"could not hand back the endpoint's lease: {exc.message}")

    def _show_logs(self, deployment: str, failure: DeployerError) -> None:
        """The container's log, the image pull's when the container never started, or the
        environment's build log when its image did not build."""
        if isinstance(failure, ImageBuildFailed) and failure.log_location is not None:
            self._show_build_log(failure.log_location)
            return
        order = ["InferenceServer", "StorageInitializer"]
        if isinstance(failure, ImagePullFailed):
            order = ["StorageInitializer"]
        for container in order:
            try:
                content = self.platform.logs(self.job.endpoint, deployment, container, LOG_LINES)
            except DeployerError:
                continue
            if content.strip():
                title = f"Log of deployment {deployment} ({container}, last {LOG_LINES} lines)"
                with self.runner.group(title):
                    self.runner.info(content.rstrip())
                return


def _disagreement(check: Check) -> StepFailed:
    if check.rate is None:
        return StepFailed(
            f"the agreement of {check.candidate} could not be judged ({check.stage}: {check.why})",
            hint="check that rollout.agreement's requests are ones the known-good deployment "
            "answers with JSON (the `agreement` output shows what it answered), or remove "
            "rollout.agreement",
        )
    first = check.examples[0] if check.examples else None
    example = f"; first: {first.request}: {first.reason}" if first is not None else ""
    return StepFailed(
        f"the answers of {check.candidate} disagree with {check.known_good}'s ({check.stage}: "
        f"{check.agreed} of {check.compared} agree, {check.rate:.1%}, below min_agreement "
        f"{check.min_agreement:.1%}{example})",
        hint="the job summary and the `agreement` output show the disagreeing requests; fix the "
        "model, or if its new answers are meant, change rollout.agreement's compare rule or "
        "min_agreement",
    )
