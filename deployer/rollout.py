"""Executes a plan's deployment steps: provision, smoke test, shift traffic, retire.

Production is never put at risk: a new deployment gets traffic only after it is provisioned
and has passed the smoke test. A failure before the shift leaves traffic exactly as it was and
deletes the failed deployment; a failure during a canary puts all traffic back on the previous
deployment first. Every failure shows the container's log and a one-line cause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from deployer.azure import (
    AzureError,
    AzureML,
    Cancelled,
    DeploymentSettings,
    Operation,
    TimedOut,
)
from deployer.errors import DeployerError
from deployer.github import Runner
from deployer.plan import Plan, Step, StepKind
from deployer.smoke import SmokeResult, smoke_test
from deployer.spec.model import SmokeTestSpec, Strategy

LOG_LINES = 100
CANARY_CHECK_SECONDS = 1.0
RESTORE_GRACE_SECONDS = 60.0


class RolloutFailed(DeployerError):
    """The rollout stopped; the message says what state the endpoint was left in."""


@dataclass
class Phases:
    """How long each phase took, for the summary."""

    timings: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings.append((name, time.monotonic() - started))

    def total(self) -> float:
        return sum(seconds for _, seconds in self.timings)


@dataclass
class RolloutState:
    """What the rollout has done so far: the truth used to undo it."""

    traffic: dict[str, int]
    created: set[str] = field(default_factory=set)
    smoke: SmokeResult | None = None


class Rollout:
    def __init__(
        self,
        azure: AzureML,
        runner: Runner,
        plan: Plan,
        *,
        settings: DeploymentSettings,
        deployment_tags: Mapping[str, str],
        smoke: SmokeTestSpec | None,
        credential: Callable[[], str],
        scoring_uri: Callable[[], str],
        cancelled: threading.Event,
        deadline: float,
        phases: Phases,
    ) -> None:
        self.azure = azure
        self.runner = runner
        self.plan = plan
        self.settings = settings
        self.deployment_tags = deployment_tags
        self.smoke = smoke
        self.credential = credential
        self.scoring_uri = scoring_uri
        self.cancelled = cancelled
        self.deadline = deadline
        self.phases = phases
        self.state = RolloutState(traffic=dict(plan.traffic_before))

    @property
    def endpoint(self) -> str:
        return self.plan.endpoint

    def execute(self) -> RolloutState:
        steps = [
            step
            for step in self.plan.steps
            if step.kind not in (StepKind.CREATE_ENDPOINT, StepKind.BUILD_IMAGE)
        ]
        for step in steps:
            self.runner.info(f"→ {step.describe()}")
            try:
                self._run(step)
            except Cancelled:
                self._after_cancel()
                raise
            except (AzureError, TimedOut, RolloutFailed) as failure:
                if step.kind is StepKind.DELETE_DEPLOYMENT:
                    # The new deployment serves; an old one that will not go is a warning.
                    self.runner.warning(f"could not delete deployment {step.deployment}: {failure}")
                    continue
                raise self._after_failure(step, failure) from None
        return self.state

    # --- steps -------------------------------------------------------------------------------

    def _run(self, step: Step) -> None:
        if step.kind in (StepKind.CREATE_DEPLOYMENT, StepKind.UPDATE_DEPLOYMENT):
            assert step.deployment is not None
            with self.phases(f"deployment {step.deployment}"):
                operation = self.azure.begin_deployment(
                    self.endpoint, step.deployment, self.settings, self.deployment_tags
                )
                if step.kind is StepKind.CREATE_DEPLOYMENT:
                    self.state.created.add(step.deployment)
                self._wait(operation)
        elif step.kind is StepKind.SMOKE_TEST:
            assert step.deployment is not None
            self._smoke(step.deployment)
        elif step.kind is StepKind.SET_TRAFFIC:
            assert step.traffic is not None
            with self.phases("traffic"):
                self._wait(self.azure.begin_traffic(self.endpoint, step.traffic))
            self.state.traffic = dict(step.traffic)
        elif step.kind is StepKind.WAIT:
            with self.phases("canary watch"):
                self._watch(step.seconds or 0)
        elif step.kind is StepKind.DELETE_DEPLOYMENT:
            assert step.deployment is not None
            with self.phases("retire"):
                self._wait(self.azure.begin_delete_deployment(self.endpoint, step.deployment))
            self.state.traffic.pop(step.deployment, None)

    def _wait(self, operation: Operation) -> None:
        operation.wait(deadline=self.deadline, cancelled=self.cancelled, progress=self.runner.info)

    def _watch(self, seconds: int) -> None:
        """Wait between canary steps, checking the canary every few seconds (one request
        each): a canary that starts failing is rolled back within seconds, not a step later."""
        end = time.monotonic() + seconds
        next_check = time.monotonic() + CANARY_CHECK_SECONDS
        check = replace(self.smoke, attempts=1) if self.smoke is not None else None
        while time.monotonic() < end:
            if self.cancelled.is_set():
                raise Cancelled("cancelled while watching the canary")
            if time.monotonic() >= self.deadline:
                raise TimedOut("the canary did not finish within the rollout's timeout")
            if check is not None and self.plan.target and time.monotonic() >= next_check:
                result = smoke_test(
                    check,
                    self.scoring_uri(),
                    self.credential(),
                    self.plan.target,
                    deadline=self.deadline,
                )
                if not result.passed:
                    self.state.smoke = result
                    raise RolloutFailed(
                        f"the canary {self.plan.target} started failing while it took traffic: "
                        f"{result.detail}"
                    )
                next_check = time.monotonic() + CANARY_CHECK_SECONDS
            time.sleep(min(0.2, max(end - time.monotonic(), 0)))

    def _smoke(self, deployment: str) -> None:
        if self.smoke is None:
            return
        with self.phases("smoke test"):
            result = smoke_test(
                self.smoke,
                self.scoring_uri(),
                self.credential(),
                deployment,
                deadline=self.deadline,
            )
        self.state.smoke = result
        self.runner.info(f"  smoke test of {deployment}: {result.describe()}")
        if not result.passed:
            raise RolloutFailed(
                f"the smoke test of deployment {deployment} failed: {result.detail}"
            )

    # --- when things go wrong ------------------------------------------------------------

    def _after_failure(self, step: Step, failure: DeployerError) -> RolloutFailed:
        target = self.plan.target
        if target is not None and step.kind is not StepKind.SET_TRAFFIC:
            self._show_logs(target, failure)
        left = self._undo()
        message = f"{failure.message.rstrip('. ')}. {left}"
        return RolloutFailed(message, hint=failure.hint)

    def _after_cancel(self) -> None:
        left = self._undo(grace=RESTORE_GRACE_SECONDS)
        self.runner.error(f"cancelled. {left}")

    def _undo(self, grace: float | None = None) -> str:
        """Put traffic back on the previous deployment and remove the failed one; what the
        endpoint is left with, in words."""
        previous, target = self.plan.previous, self.plan.target
        never_cancel = threading.Event()
        deadline = time.monotonic() + (grace if grace is not None else 600)
        if self.plan.strategy is Strategy.REPLACE or target is None:
            return f"Endpoint {self.endpoint} was updated in place; traffic is {self._shares()}."
        if previous is not None and self.state.traffic.get(target, 0) > 0:
            restore = {name: 0 for name in self.state.traffic}
            restore[previous] = 100
            self.runner.info(f"→ putting all traffic back on {previous}")
            try:
                self.azure.begin_traffic(self.endpoint, restore).wait(
                    deadline=deadline, cancelled=never_cancel, progress=self.runner.info
                )
                self.state.traffic = restore
            except DeployerError as exc:
                return (
                    f"Restoring traffic to {previous} FAILED ({exc.message}); traffic is "
                    f"{self._shares()}: set it back by hand."
                )
        if grace is not None:
            # Cancelled: no time to wait, but the deployment this run created goes anyway.
            if target in self.state.created:
                try:
                    self.azure.begin_delete_deployment(self.endpoint, target)
                    return f"Traffic is {self._shares()}; deployment {target} is being deleted."
                except DeployerError:
                    # Azure refuses to delete a deployment while it is still being created.
                    return (
                        f"Traffic is {self._shares()}. Deployment {target} is still being "
                        "created, so it could not be deleted yet; it takes no traffic, and the "
                        "next run replaces it (or delete it: az ml online-deployment delete "
                        f"--endpoint-name {self.endpoint} --name {target})."
                    )
            return f"Traffic is {self._shares()}."
        touched = target in self.state.created or self.plan.has(StepKind.UPDATE_DEPLOYMENT)
        if touched:
            self.runner.info(f"→ deleting the failed deployment {target}")
            try:
                self.azure.begin_delete_deployment(self.endpoint, target).wait(
                    deadline=deadline, cancelled=never_cancel, progress=self.runner.info
                )
            except DeployerError as exc:
                return f"Traffic is {self._shares()}; deleting {target} failed: {exc.message}."
        fate = f"{target} was removed" if touched else f"{target} was not created"
        if previous is not None:
            return f"Rolled back: {previous} still serves 100% of traffic; {fate}."
        return f"Nothing serves on endpoint {self.endpoint} yet; {fate}."

    def _shares(self) -> str:
        serving = {name: share for name, share in self.state.traffic.items() if share}
        return ", ".join(f"{name} {share}%" for name, share in serving.items()) or "0% everywhere"

    def _show_logs(self, deployment: str, failure: DeployerError) -> None:
        """The container's log, or the image pull's when the container never started."""
        if getattr(failure, "code", "") == "ImagePullFailure":
            order = ["StorageInitializer"]
        else:
            order = ["InferenceServer", "StorageInitializer"]
        for container in order:
            try:
                content = self.azure.logs(self.endpoint, deployment, container, LOG_LINES)
            except DeployerError:
                continue
            if content.strip():
                title = f"Log of deployment {deployment} ({container}, last {LOG_LINES} lines)"
                with self.runner.group(title):
                    self.runner.info(content.rstrip())
                return
