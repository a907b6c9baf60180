"""The planner and the executor together, against the in-memory Azure of tests/unit/fakes.py:
every strategy, every failure point, a crash at every mutating call and the run after it, the
lease, and rollback / promote / abort. The invariant checked after every run: traffic only ever
went to the known-good deployment or to one that had passed the smoke test with the image it
runs."""

from __future__ import annotations

import datetime
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest

from deployer.agreement import Agreement, Scorer
from deployer.analysis import Analysis, Metrics
from deployer.deadline import Deadline
from deployer.errors import (
    AzureError,
    Cancelled,
    ImageBuildFailed,
    ImageError,
    ImagePullFailed,
    LeaseHeld,
    LeaseLost,
    NothingToDo,
    PolicyError,
    RolloutFailed,
)
from deployer.execute import Executor, Job, Outcome
from deployer.github.runner import Runner
from deployer.load import Sender
from deployer.plan import Desired, Plan, Planner, make_plan
from deployer.plan_after import plan_abort, plan_promote, plan_retire_kept, plan_rollback
from deployer.report import timing_text
from deployer.spec.model import AnalysisSpec, AutoscaleSpec, ShadowSpec, Strategy
from deployer.steps import Provision
from deployer.tags import Holder, Owner, Record, Step, deployment_tags
from deployer.timing import Phases
from tests.unit.fakes import (
    NOW,
    FakeAzure,
    FakeClock,
    FakeDeployment,
    FakeEndpoint,
    FakeServices,
    Killed,
    settings,
)

OWNER = Owner("octo-org/octo-repo", "production")
ME = Holder("octo-org/octo-repo/runs/1", "1")


@dataclass
class World:
    """One endpoint in a fake Azure, and the runs made against it."""

    strategy: Strategy = Strategy.BLUE_GREEN
    canary_steps: tuple[int, ...] = (25, 50, 100)
    keep_previous: bool = False
    keep_for: datetime.timedelta | None = None
    azure: FakeAzure = field(default_factory=FakeAzure)
    failing: set[str] = field(default_factory=set)  # images whose smoke test fails
    outside: bool = False  # the runner cannot reach a private endpoint: no smoke test, no load
    log: io.StringIO = field(default_factory=io.StringIO)
    watch_seconds: int = 0
    phases: Phases = field(default_factory=Phases)
    instance_type: str = "Standard_DS3_v2"
    analysis: AnalysisSpec | None = None
    metrics: Metrics | None = None
    shadow: ShadowSpec | None = None
    bake_seconds: float = 0
    autoscale: AutoscaleSpec | None = None
    clock: FakeClock = field(default_factory=FakeClock)
    sender: Callable[[str], Sender] | None = None  # rollout.analysis.load's
    agreement: Agreement | None = None
    scoring: Scorer | None = None  # rollout.agreement's requests

    def __post_init__(self) -> None:
        self.azure.in_place = self.strategy is Strategy.REPLACE

    def desired(self, image: str) -> Desired:
        return Desired(
            endpoint="ep",
            auth_mode="key",
            settings=settings(image, instance_type=self.instance_type),
            strategy=self.strategy,
            canary_steps=self.canary_steps,
            step_wait_seconds=self.watch_seconds,
            keep_previous=self.keep_previous,
            keep_for=self.keep_for,
            shadow=self.shadow,
            bake_seconds=self.bake_seconds,
            autoscale=self.autoscale,
        )

    def run_plan(self, plan: Plan, desired: Desired) -> Outcome:
        job = Job("ep", "key", None, OWNER.tags(), desired.settings, ME, FakeServices())
        runner = Runner({}, self.log, self.log)
        deadline = Deadline.after(60, clock=self.clock)
        return Executor(self.azure, runner, job, deadline, Phases()).run(plan)

    def run(
        self,
        image: str,
        planner: Planner = make_plan,
        holder: Holder = ME,
        deadline: Deadline | None = None,
        *,
        build: Callable[[], str] | None = None,
    ) -> tuple[Plan, Outcome | None]:
        desired = replace(self.desired(image), image_pending=build is not None)
        observed = self.azure.endpoint("ep")
        if observed is not None:
            observed = replace(observed, autoscale=self.azure.autoscale_settings("ep"))
        deadline = deadline or Deadline.after(60, clock=self.clock)
        plan = planner(desired, observed, deadline.clock.now())
        if plan.is_noop:
            return plan, None
        job = Job(
            endpoint="ep",
            auth_mode="key",
            description=None,
            endpoint_tags=OWNER.tags(),
            settings=desired.settings,
            holder=holder,
            services=FakeServices(
                OWNER,
                None if self.outside else self.azure.smoke("ep", self.failing),
                build,
                self.sender,
                self.scoring,
            ),
            # minutes of a second, as in the emulator's fast profile
            analysis=Analysis(
                self.analysis,
                self.metrics,
                "ep",
                self.shadow.on_inconclusive if self.shadow is not None else None,
                minute=1.0,
            )
            if self.analysis is not None and self.metrics is not None
            else None,
            agreement=self.agreement,
        )
        runner = Runner({}, self.log, self.log)
        executor = Executor(self.azure, runner, job, deadline, self.phases)
        return plan, executor.run(plan)

    # --- what is there -----------------------------------------------------------------------

    @property
    def endpoint(self) -> FakeEndpoint:
        return self.azure.endpoints["ep"]

    @property
    def record(self) -> Record:
        state = self.azure.endpoint("ep")
        assert state is not None
        return state.record

    def serving(self) -> dict[str, int]:
        return {name: share for name, share in self.endpoint.traffic.items() if share}

    def image_of(self, name: str) -> str:
        return self.endpoint.deployments[name].settings.image

    def assert_converged(self, image: str) -> None:
        """One deployment, serving 100 % with `image`, recorded known-good; no lease left."""
        (name,) = self.serving()
        assert self.endpoint.traffic[name] == 100
        assert self.image_of(name) == image
        record = self.record
        assert record.known_good == name and record.known_good_image == image
        assert record.candidate is None and record.holder is None
        kept = {record.kept} if record.kept else set()
        assert set(self.endpoint.deployments) == {name} | kept, "nothing idle left"

    def assert_never_at_risk(self, known_good_images: set[str]) -> None:
        """Every traffic change sent traffic only to a deployment running a known-good image,
        or one that had passed the smoke test with the image it runs."""
        for traffic, tested in self.azure.history:
            for name, share in traffic.items():
                if not share:
                    continue
                image = (
                    self.endpoint.deployments[name].settings.image
                    if (name in self.endpoint.deployments)
                    else None
                )
                assert tested.get(name) is not None or image in known_good_images, (
                    f"{name} took {share}% untested: {traffic}"
                )


def first(world: World, image: str = "app@sha256:1") -> World:
    world.run(image)
    world.assert_converged(image)
    world.azure.history.clear()
    return world


# --- the rollouts --------------------------------------------------------------------------------


def test_a_first_deploy_creates_the_endpoint_and_records_known_good() -> None:
    world = World()
    plan, outcome = world.run("app@sha256:1")
    assert [type(step).__name__ for step in plan.steps] == [
        "CreateEndpoint",
        "Provision",
        "SmokeTest",
        "SetTraffic",
    ]
    world.assert_converged("app@sha256:1")
    assert outcome is not None and outcome.created == {"blue"}
    assert world.record.known_good == "blue"


def test_the_timing_line_accounts_for_the_lease_and_names_each_phase_once() -> None:
    world = first(World())
    world.phases = Phases([("sign-in", 0.5), ("observe", 0.25), ("observe", 0.5)])
    world.run("app@sha256:2")
    text = timing_text(world.phases)
    assert text.startswith("sign-in 0.5 s · observe 0.8 s · lease ")
    assert text.count("observe") == 1
    assert [name for name, _ in world.phases.by_name()][2:] == [
        "lease",
        "deployment green",
        "smoke test",
        "traffic",
        "retire",
    ]


def test_a_rerun_changes_nothing() -> None:
    world = first(World())
    before = world.azure.mutations
    plan, outcome = world.run("app@sha256:1")
    assert plan.is_noop and outcome is None and world.azure.mutations == before


@pytest.mark.parametrize("strategy", [Strategy.BLUE_GREEN, Strategy.CANARY])
def test_a_new_version_replaces_the_old_after_its_smoke_test(strategy: Strategy) -> None:
    world = first(World(strategy=strategy))
    world.run("app@sha256:2")
    world.assert_converged("app@sha256:2")
    world.assert_never_at_risk({"app@sha256:1"})
    shares = [traffic.get("green", 0) for traffic, _ in world.azure.history]
    assert shares == ([25, 50, 100] if strategy is Strategy.CANARY else [100])


def test_canary_steps_are_recorded_with_the_traffic_they_describe() -> None:
    world = first(World(strategy=Strategy.CANARY))
    world.azure.kill_at = world.azure.mutations + 4  # after Mark, provision and 25 %
    with pytest.raises(Killed):
        world.run("app@sha256:2")
    record = world.record
    assert (record.known_good, record.candidate, record.step) == ("blue", "green", Step.SHIFTING)
    assert world.serving() == {"blue": 75, "green": 25}
    assert record.holder == ME  # a killed run's lease stays until it expires


def test_replace_updates_the_previews_single_deployment_in_place() -> None:
    world = first(World(strategy=Strategy.REPLACE))
    plan, _ = world.run("app@sha256:2")
    assert [type(s).__name__ for s in plan.steps] == [
        "Mark",
        "Provision",
        "SmokeTest",
        "SetTraffic",
    ]
    assert set(world.endpoint.deployments) == {"blue"}
    world.assert_converged("app@sha256:2")


def test_replace_recreates_a_deployment_whose_instance_type_changes() -> None:
    """Azure cannot update the instance type in place: a new deployment is created, tested and
    given the traffic before the old one goes; the endpoint always has one serving."""
    world = first(World(strategy=Strategy.REPLACE))
    world.instance_type = "Standard_DS2_v2"
    plan, _ = world.run("app@sha256:2")
    steps = " ".join(type(step).__name__ for step in plan.steps)
    assert steps == "Mark Provision SmokeTest SetTraffic Retire"
    assert plan.target == "green" and plan.previous == "blue"
    assert any("instance_type cannot be updated in place" in note for note in plan.notes)
    world.assert_converged("app@sha256:2")
    assert world.endpoint.deployments["green"].settings.instance_type == "Standard_DS2_v2"
    assert all(sum(traffic.values()) == 100 for traffic, _ in world.azure.history)


def test_a_recreate_killed_at_any_call_is_finished_by_the_next() -> None:
    world = first(World(strategy=Strategy.REPLACE))
    start = world.azure.mutations
    world.instance_type = "Standard_DS2_v2"
    world.run("app@sha256:2")
    calls = world.azure.mutations - start
    for kill in range(1, calls + 1):
        world = first(World(strategy=Strategy.REPLACE))
        world.instance_type = "Standard_DS2_v2"
        world.azure.kill_at = world.azure.mutations + kill
        with pytest.raises(Killed):
            world.run("app@sha256:2")
        world.azure.kill_at = None
        world.run("app@sha256:2", holder=Holder(ME.run, "2"))
        world.assert_converged("app@sha256:2")
        world.assert_never_at_risk({"app@sha256:1"})


def test_a_kept_deployment_of_another_instance_type_is_not_reused() -> None:
    """Blue-green reuses the idle kept deployment for the next version, unless the deploy
    file's instance type differs from its own: then a new one, and the stale one retired."""
    world = first(World(keep_previous=True))
    world.run("app@sha256:2")
    assert world.record.kept == "blue"
    world.instance_type = "Standard_DS2_v2"
    plan, _ = world.run("app@sha256:3")
    [provision] = [s for s in plan.steps if isinstance(s, Provision)]
    assert (provision.deployment, provision.create) == ("blue-2", True)
    world.assert_converged("app@sha256:3")
    assert world.record.kept == "green" and "blue" not in world.endpoint.deployments


# --- failures --------------------------------------------------------------------------------


def test_a_candidate_that_fails_to_provision_is_removed_and_nothing_moves() -> None:
    world = first(World())
    world.azure.unhealthy.add("app@sha256:2")
    with pytest.raises(RolloutFailed, match="Rolled back: blue still serves"):
        world.run("app@sha256:2")
    world.assert_converged("app@sha256:1")
    assert world.azure.history == []


def test_a_candidate_that_fails_its_smoke_test_never_takes_traffic() -> None:
    world = first(World(strategy=Strategy.CANARY))
    world.failing.add("app@sha256:2")
    with pytest.raises(RolloutFailed, match="smoke test of deployment green failed"):
        world.run("app@sha256:2")
    world.assert_converged("app@sha256:1")
    assert world.azure.history == []
    assert "Log of deployment green" in world.log.getvalue()


def test_a_canary_that_starts_failing_goes_back_to_known_good() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))

    class FailsAfterTheFirstTest(set[str]):
        tests = 0

        def __contains__(self, image: object) -> bool:
            self.tests += image == "app@sha256:2"
            return image == "app@sha256:2" and self.tests > 1

    world.failing = FailsAfterTheFirstTest()
    world.watch_seconds = 1
    with pytest.raises(RolloutFailed, match=r"green started failing \(canary 50%\)"):
        world.run("app@sha256:2")
    world.assert_converged("app@sha256:1")
    assert world.azure.history[-1][0] == {"blue": 100, "green": 0}


def test_a_retire_that_fails_is_only_a_warning() -> None:
    world = first(World())
    world.azure.failures["delete blue"] = AzureError("busy", code="Conflict", status=409)
    world.run("app@sha256:2")
    assert world.serving() == {"green": 100}
    assert "could not delete deployment blue" in world.log.getvalue()
    world.run("app@sha256:2")  # the next run retires it
    world.assert_converged("app@sha256:2")


def test_a_failure_of_the_last_traffic_shift_restores_known_good() -> None:
    world = first(World(strategy=Strategy.CANARY))
    world.canary_steps = (50, 100)
    world.azure.failures["update endpoint ep traffic {'blue': 0, 'green': 100}"] = AzureError(
        "throttled", code="TooManyRequests", status=429
    )
    with pytest.raises(RolloutFailed):
        world.run("app@sha256:2")
    world.assert_converged("app@sha256:1")


def test_a_cancelled_canary_puts_traffic_back_and_says_so() -> None:
    world = first(World(strategy=Strategy.CANARY))
    cancelled = threading.Event()
    original = world.azure.begin_update_endpoint

    def cancel_after_first_shift(name, tags, traffic, description=None, mirror=None):  # type: ignore[no-untyped-def]
        operation = original(name, tags, traffic, description, mirror)
        if traffic and traffic.get("green"):
            cancelled.set()
        return operation

    world.azure.begin_update_endpoint = cancel_after_first_shift  # type: ignore[method-assign]
    world.watch_seconds = 5
    with pytest.raises(Cancelled):
        world.run("app@sha256:2", deadline=Deadline.after(60, cancelled))
    assert world.serving() == {"blue": 100}
    assert "cancelled. Rolled back: blue still serves 100% of traffic" in world.log.getvalue()
    assert world.record.holder is None and world.record.candidate is None


# --- a crash at every mutating call, then the next run -----------------------------------------


def clean_calls(strategy: Strategy) -> int:
    world = first(World(strategy=strategy))
    start = world.azure.mutations
    world.run("app@sha256:2")
    return world.azure.mutations - start


@pytest.mark.parametrize("strategy", [Strategy.BLUE_GREEN, Strategy.CANARY])
@pytest.mark.parametrize("then", ["the same version again", "a newer version"])
def test_a_run_killed_at_any_call_is_finished_by_the_next(strategy: Strategy, then: str) -> None:
    """SIGKILL (a runner lost) before each mutating call of a rollout in turn; the next run —
    of the same commit, or of a newer one — converges, and traffic never went anywhere
    untested. The dead run's lease is taken over by another attempt of the same workflow run."""
    calls = clean_calls(strategy)
    for kill in range(1, calls + 1):
        world = first(World(strategy=strategy))
        world.azure.kill_at = world.azure.mutations + kill
        with pytest.raises(Killed):
            world.run("app@sha256:2")
        world.azure.kill_at = None
        image = "app@sha256:2" if then == "the same version again" else "app@sha256:3"
        world.run(image, holder=Holder(ME.run, "2"))
        world.assert_converged(image)
        world.assert_never_at_risk({"app@sha256:1"})


def test_a_killed_canary_at_a_tie_keeps_known_good_and_tests_again() -> None:
    """The issue's case: killed at 50/50; the next run must not take the canary for the
    previous deployment, nor update the known-good one in place."""
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))
    world.azure.kill_at = world.azure.mutations + 4  # Mark, provision, 50 %, then dead
    with pytest.raises(Killed):
        world.run("app@sha256:2")
    assert world.serving() == {"blue": 50, "green": 50}
    world.azure.kill_at = None
    plan, _ = world.run("app@sha256:2", holder=Holder(ME.run, "2"))
    assert plan.previous == "blue" and plan.target == "green"
    assert "an earlier rollout of green did not finish (50% of traffic)" in plan.notes[0]
    kinds = [type(step).__name__ for step in plan.steps]
    assert kinds[:2] == ["Mark", "SmokeTest"], "tested again before its traffic grows"
    assert "Provision" not in kinds
    world.assert_converged("app@sha256:2")


def test_a_newer_version_over_an_unfinished_canary_takes_traffic_back_first() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))
    world.azure.kill_at = world.azure.mutations + 4
    with pytest.raises(Killed):
        world.run("app@sha256:2")
    world.azure.kill_at = None
    plan, _ = world.run("app@sha256:3", holder=Holder(ME.run, "2"))
    first_shift = next(step for step in plan.steps if type(step).__name__ == "SetTraffic")
    assert dict(first_shift.traffic) == {"blue": 100, "green": 0}
    world.assert_converged("app@sha256:3")
    world.assert_never_at_risk({"app@sha256:1"})


def test_killed_between_the_shift_and_the_retire_the_next_run_retires_it() -> None:
    world = first(World())
    world.azure.kill_at = world.azure.mutations + 4  # Mark, provision, 100 %, then dead
    with pytest.raises(Killed):
        world.run("app@sha256:2")
    assert set(world.endpoint.deployments) == {"blue", "green"}
    world.azure.kill_at = None
    plan, _ = world.run("app@sha256:2")
    assert [step.describe() for step in plan.steps][1:] == ["delete deployment blue (idle)"]
    world.assert_converged("app@sha256:2")


# --- one run at a time -------------------------------------------------------------------------


def lease(world: World, holder: Holder, minutes: float) -> None:
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)
    world.endpoint.tags.update(
        {
            "azureml-deploy.lease-holder": str(holder),
            "azureml-deploy.lease-until": f"{until:%Y-%m-%dT%H:%M:%SZ}",
        }
    )


def test_another_runs_lease_stops_a_run_before_it_changes_anything() -> None:
    world = first(World())
    lease(world, Holder("octo-org/octo-repo/runs/99", "1"), minutes=3)
    before = world.azure.mutations
    with pytest.raises(LeaseHeld) as held:
        world.run("app@sha256:2")
    assert held.value.holder == Holder("octo-org/octo-repo/runs/99", "1")
    assert world.azure.mutations == before


def test_an_expired_lease_or_an_earlier_attempt_of_the_same_run_is_taken_over() -> None:
    world = first(World())
    lease(world, Holder("octo-org/octo-repo/runs/99", "1"), minutes=-1)
    world.run("app@sha256:2")
    world.assert_converged("app@sha256:2")
    lease(world, Holder(ME.run, "7"), minutes=3)
    world.run("app@sha256:3")
    world.assert_converged("app@sha256:3")


def test_an_endpoint_changed_since_it_was_planned_is_planned_again() -> None:
    world = first(World())
    desired = world.desired("app@sha256:2")
    plan = make_plan(desired, world.azure.endpoint("ep"), NOW)
    world.endpoint.deployments["green"] = FakeDeployment("green", settings("other"), {})
    job = Job("ep", "key", None, OWNER.tags(), desired.settings, ME, FakeServices())
    executor = Executor(
        world.azure, Runner({}, world.log, world.log), job, Deadline.after(9), Phases()
    )
    with pytest.raises(LeaseHeld, match="changed since it was planned"):
        executor.run(plan)


# --- rollback, promote, abort ------------------------------------------------------------------


def test_rollback_to_the_kept_deployment_and_back() -> None:
    world = first(World(keep_previous=True))
    world.run("app@sha256:2")
    assert world.serving() == {"green": 100} and world.record.kept == "blue"
    world.run("", planner=plan_rollback)
    assert world.serving() == {"blue": 100}
    assert (world.record.known_good, world.record.kept) == ("blue", "green")
    world.run("", planner=plan_rollback)
    assert world.serving() == {"green": 100}


def test_rollback_without_a_kept_deployment_is_refused() -> None:
    world = first(World())
    world.run("app@sha256:2")
    with pytest.raises(NothingToDo, match="no deployment kept for rollback"):
        world.run("", planner=plan_rollback)


def test_a_kept_deployment_goes_once_its_time_is_up() -> None:
    world = first(World(keep_previous=True, keep_for=datetime.timedelta(hours=-1)))
    world.run("app@sha256:2")
    assert set(world.endpoint.deployments) == {"blue", "green"}
    plan, _ = world.run("app@sha256:2")
    assert "delete deployment blue (kept for rollback until" in plan.steps[-1].describe()
    assert set(world.endpoint.deployments) == {"green"}


def canary_left_at_50(world: World) -> None:
    world.azure.kill_at = world.azure.mutations + 4
    with pytest.raises(Killed):
        world.run("app@sha256:2")
    world.azure.kill_at = None
    lease(world, ME, minutes=-1)  # the lost run's lease has expired


def test_promote_finishes_a_canary_left_at_a_step() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))
    canary_left_at_50(world)
    plan, _ = world.run("", planner=plan_promote)
    assert [type(s).__name__ for s in plan.steps][:2] == ["Mark", "SmokeTest"]
    world.assert_converged("app@sha256:2")


def test_abort_sends_everything_back_to_known_good_and_retires_the_candidate() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))
    canary_left_at_50(world)
    world.run("", planner=plan_abort)
    world.assert_converged("app@sha256:1")


def test_promote_and_abort_with_no_rollout_in_progress() -> None:
    world = first(World())
    with pytest.raises(NothingToDo, match="no rollout to promote"):
        world.run("", planner=plan_promote)
    plan, outcome = world.run("", planner=plan_abort)
    assert plan.is_noop and outcome is None


# --- what the planner refuses --------------------------------------------------------------------


def test_split_traffic_without_a_record_is_refused_with_the_fix() -> None:
    world = first(World())
    world.endpoint.deployments["green"] = FakeDeployment(
        "green", settings("app@sha256:2"), deployment_tags(OWNER, "app@sha256:2", "x")
    )
    world.endpoint.traffic = {"blue": 50, "green": 50}
    world.endpoint.tags = OWNER.tags()  # an earlier version of the action: no record
    with pytest.raises(PolicyError, match="no rollout record says which deployment is known-good"):
        world.run("app@sha256:3")


# --- the executor's other paths ------------------------------------------------------------------


def test_the_image_is_built_while_the_endpoint_is_created_and_recorded() -> None:
    world = World()
    plan, _ = world.run("", build=lambda: "app@sha256:built")
    assert [type(s).__name__ for s in plan.steps][:2] == ["CreateEndpoint", "BuildImage"]
    world.assert_converged("app@sha256:built")


def test_a_failed_first_build_says_the_endpoint_was_created_and_hands_back_its_lease() -> None:
    """The endpoint is created while the image builds: when the build fails, the endpoint
    exists, and the next run must be able to deploy onto it at once."""

    def build() -> str:
        raise ImageError("the Dockerfile's base image could not be pulled")

    world = World()
    with pytest.raises(RolloutFailed) as failed:
        world.run("", build=build)
    assert "Nothing was changed" not in failed.value.message
    assert (
        "Endpoint ep was created, with no deployment and no traffic; nothing else was changed. "
        "The next run deploys onto it." in failed.value.message
    )
    assert world.record.holder is None
    assert world.endpoint.deployments == {}
    world.run("app@sha256:1")
    world.assert_converged("app@sha256:1")


def test_a_conflict_before_the_lease_is_waited_for_not_a_failure() -> None:
    world = first(World())
    world.azure.failures["update endpoint ep"] = AzureError("busy", code="Conflict", status=409)
    with pytest.raises(LeaseHeld):
        world.run("app@sha256:2")
    world.assert_converged("app@sha256:1")


def test_a_name_taken_elsewhere_fails_at_once_and_changes_nothing() -> None:
    world = World()
    world.azure.failures["create endpoint ep"] = AzureError(
        "an endpoint named ep exists in the region", code="Conflict", status=409
    )
    with pytest.raises(RolloutFailed, match="Nothing was changed on endpoint ep"):
        world.run("app@sha256:1")
    assert world.azure.endpoints == {}


def test_a_run_whose_lease_was_taken_over_stops_without_undoing() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))
    original = world.azure.begin_deployment

    def someone_takes_over(endpoint, name, settings, tags):  # type: ignore[no-untyped-def]
        operation = original(endpoint, name, settings, tags)
        lease(world, Holder("octo-org/octo-repo/runs/2", "1"), minutes=5)
        return operation

    world.azure.begin_deployment = someone_takes_over  # type: ignore[method-assign]
    with pytest.raises(LeaseLost, match="another run took over endpoint ep"):
        world.run("app@sha256:2")
    assert world.serving() == {"blue": 100}  # nothing more was changed by the slow run


def test_a_long_watch_renews_the_lease() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))
    world.watch_seconds = 6 * 60  # longer than the lease: renewed while the watch goes on
    world.run("app@sha256:2", deadline=Deadline.after(3600, clock=world.clock))
    renewals = [c for c in world.azure.calls if c == "update endpoint ep"]
    # the Mark, and a renewal every half-lease (2.5 min) of the 6-minute watch
    assert len(renewals) == 3
    world.assert_converged("app@sha256:2")


def test_a_watch_tests_the_candidate_every_second_without_sleeping() -> None:
    """On the run's clock: a 30 s canary step smoke-tests the candidate once a second."""
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))
    world.watch_seconds = 30
    before = world.clock.elapsed
    world.azure.calls.clear()
    world.run("app@sha256:2")
    smoke_tests = [c for c in world.azure.calls if c.startswith("smoke ")]
    assert len(smoke_tests) == 1 + 30  # the candidate's own smoke test, then one a second
    assert world.clock.elapsed - before == pytest.approx(30)


def test_a_failed_preview_update_says_it_was_in_place() -> None:
    world = first(World(strategy=Strategy.REPLACE))
    world.failing.add("app@sha256:2")
    with pytest.raises(RolloutFailed, match="was updated in place; traffic is blue 100%"):
        world.run("app@sha256:2")
    assert world.record.holder is None


def test_a_first_deploy_that_fails_leaves_nothing_serving_and_says_so() -> None:
    world = World()
    world.failing.add("app@sha256:1")
    with pytest.raises(RolloutFailed, match="Nothing serves on endpoint ep yet; blue was removed"):
        world.run("app@sha256:1")


def test_when_traffic_cannot_be_restored_the_message_says_to_do_it_by_hand() -> None:
    world = first(World(strategy=Strategy.CANARY, canary_steps=(50, 100)))
    world.azure.failures["update endpoint ep traffic {'blue': 0, 'green': 100}"] = AzureError(
        "down", status=500
    )
    world.azure.failures["update endpoint ep traffic {'blue': 100, 'green': 0}"] = AzureError(
        "still down", status=500
    )
    with pytest.raises(RolloutFailed, match=r"Restoring traffic to blue FAILED.*by hand"):
        world.run("app@sha256:2")


def test_a_failed_deployment_that_will_not_go_is_left_for_the_next_run() -> None:
    world = first(World())
    world.failing.add("app@sha256:2")
    world.azure.failures["delete green"] = AzureError("busy", status=409)
    with pytest.raises(RolloutFailed, match=r"deleting green failed .*the next run removes it"):
        world.run("app@sha256:2")
    world.failing.clear()
    world.run("app@sha256:1")
    world.assert_converged("app@sha256:1")


def test_a_cancel_while_azure_provisions_leaves_the_candidate_to_the_next_run() -> None:
    world = first(World())
    cancelled = threading.Event()
    original = world.azure.begin_deployment

    def cancel_while_provisioning(endpoint, name, settings, tags):  # type: ignore[no-untyped-def]
        cancelled.set()
        return original(endpoint, name, settings, tags)

    world.azure.begin_deployment = cancel_while_provisioning  # type: ignore[method-assign]
    world.azure.failures["delete green"] = AzureError("still creating", status=409)
    with pytest.raises(Cancelled):
        world.run("app@sha256:2", deadline=Deadline.after(60, cancelled))
    assert "the next run takes the rollout from there" in world.log.getvalue()
    assert world.serving() == {"blue": 100}
    world.run("app@sha256:2", holder=Holder(ME.run, "2"))
    world.assert_converged("app@sha256:2")


def test_an_image_that_cannot_be_pulled_shows_the_pull_log() -> None:
    """Azure's documented shape (how-to-troubleshoot-online-endpoints.md), not ImagePullFailure,
    as the Azure layer types it (tests/unit/test_azure_errors.py)."""
    world = first(World())
    world.azure.failures["deploy green"] = ImagePullFailed(
        "Container registry is private or otherwise inaccessible", code="ResourceNotFound"
    )
    with pytest.raises(RolloutFailed):
        world.run("app@sha256:2")
    assert "StorageInitializer log of green" in world.log.getvalue()


def test_an_environment_that_did_not_build_shows_its_build_log() -> None:
    world = first(World())
    world.azure.failures["deploy green"] = ImageBuildFailed(
        "Image build failed: pip returned 1. For more details, check the build log under the "
        "storage account 'st1' in the container 'azureml' at the path 'ImageLogs/i/build.log'.",
        code="ImageBuildFailure",
    )
    with pytest.raises(RolloutFailed):
        world.run("app@sha256:2")
    assert "build log st1/azureml/ImageLogs/i/build.log" in world.log.getvalue()
    assert world.serving() == {"blue": 100}


def test_cleanup_retires_a_kept_deployment_once_its_time_is_up() -> None:
    world = first(World(keep_previous=True, keep_for=datetime.timedelta(hours=24)))
    world.run("app@sha256:2")
    plan, _ = world.run("", planner=plan_retire_kept)
    assert plan.is_noop  # not yet
    world.clock.elapsed += 25 * 3600  # a day and an hour later
    plan, _ = world.run("", planner=plan_retire_kept)
    assert [step.describe() for step in plan.steps][1].startswith(
        "delete deployment blue (kept for rollback until"
    )
    world.assert_converged("app@sha256:2")
    assert world.record.kept is None


# --- the endpoint itself ---------------------------------------------------------------------


def test_the_deploy_files_tags_and_description_are_applied_others_tags_kept() -> None:
    world = first(World())
    world.endpoint.tags["cost-center"] = "42"  # set by someone else
    desired = replace(world.desired("app@sha256:1"), tags={"team": "risk"}, description="new")
    plan = make_plan(desired, world.azure.endpoint("ep"), NOW)
    assert [step.describe() for step in plan.steps] == [
        "record the run on the endpoint; update the endpoint's tags and description"
    ]
    world.run_plan(plan, desired)
    assert world.endpoint.tags["team"] == "risk" and world.endpoint.tags["cost-center"] == "42"
    assert world.endpoint.description == "new"
    assert make_plan(desired, world.azure.endpoint("ep"), NOW).is_noop


def test_a_new_auth_mode_for_an_existing_endpoint_is_refused_in_the_plan() -> None:
    world = first(World())
    desired = replace(world.desired("app@sha256:2"), auth_mode="aml_token")
    plan = make_plan(desired, world.azure.endpoint("ep"), NOW)
    assert plan.refused and "endpoint.auth_mode" in plan.refused[0]


# --- an endpoint that reports Updating just after Succeeded (Azure/azure-sdk-for-net#36961) ---


def test_a_new_endpoint_still_updating_after_succeeded_is_waited_out() -> None:
    world = World()
    world.azure.unsettled = 3  # three refusals: 15 s of the run's clock
    world.run("app@sha256:1", deadline=Deadline.after(3600, clock=world.clock))
    world.assert_converged("app@sha256:1")
    assert world.azure.calls.count("refused deploy blue") == 3
    assert "endpoint ep is not settled yet" in world.log.getvalue()
    assert "Updating provisioning state" in world.log.getvalue()


def test_an_endpoint_that_never_settles_fails_clearly_and_is_undone() -> None:
    world = World()
    world.azure.unsettled = 1000
    with pytest.raises(RolloutFailed, match=r"still refused deployment blue after 300 s") as failed:
        world.run("app@sha256:1", deadline=Deadline.after(3600, clock=world.clock))
    assert "Azure/azure-sdk-for-net#36961" in (failed.value.hint or "")
    assert "blue" not in world.endpoint.deployments
    assert world.clock.elapsed < 400  # bounded: not the rollout's whole hour
