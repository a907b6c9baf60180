"""`deploy` and `plan`: observe, plan, then (deploy only) build, provision, test, shift, retire."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from deployer.azure import (
    Cancelled,
    DeploymentSettings,
    EndpointState,
    Keys,
    TimedOut,
)
from deployer.commands.images import ImageLookup, Images
from deployer.commands.session import Options, Session, cancellation, open_session
from deployer.errors import DeployerError, ExitCode, PolicyError
from deployer.github import Runner, dump_json
from deployer.plan import Desired, Plan, StepKind, make_plan
from deployer.policy import check_may_change
from deployer.report import (
    DeployReport,
    console_summary,
    failure_markdown,
    plan_table,
    publish,
    summary_markdown,
)
from deployer.rollout import Phases, Rollout
from deployer.spec.model import DeploySpec, Probe
from deployer.tags import deployment_tags


def deployment_settings(spec: DeploySpec, image: str) -> DeploymentSettings:
    deployment = spec.deployment
    routes = deployment.inference_config

    def probe(value: Probe) -> tuple[int, int, int, int, int]:
        return (
            value.initial_delay,
            value.period,
            value.timeout,
            value.success_threshold,
            value.failure_threshold,
        )

    return DeploymentSettings(
        image=image,
        instance_type=deployment.instance_type,
        instance_count=deployment.instance_count,
        environment_variables=dict(deployment.environment_variables),
        liveness_route=(routes.liveness_route.port, routes.liveness_route.path),
        readiness_route=(routes.readiness_route.port, routes.readiness_route.path),
        scoring_route=(routes.scoring_route.port, routes.scoring_route.path),
        request_timeout_ms=deployment.request_settings.request_timeout_ms,
        max_concurrent_requests_per_instance=(
            deployment.request_settings.max_concurrent_requests_per_instance
        ),
        max_queue_wait_ms=deployment.request_settings.max_queue_wait_ms,
        liveness_probe=probe(deployment.liveness_probe),
        readiness_probe=probe(deployment.readiness_probe),
        app_insights_enabled=deployment.app_insights_enabled,
        egress_public_network_access=deployment.egress_public_network_access,
    )


def desired_state(session: Session, lookup: ImageLookup) -> Desired:
    spec = session.spec
    return Desired(
        endpoint=session.endpoint_name,
        auth_mode=str(spec.endpoint.auth_mode),
        settings=deployment_settings(spec, lookup.reference),
        strategy=spec.rollout.strategy,
        canary_steps=spec.rollout.canary_steps,
        step_wait_seconds=spec.rollout.step_wait_seconds,
        keep_previous=spec.rollout.keep_previous,
        smoke_test=spec.smoke_test is not None,
        image_pending=lookup.pending,
    )


@dataclass
class Planned:
    session: Session
    images: Images
    lookup: ImageLookup
    desired: Desired
    plan: Plan


SETTLE_POLL_SECONDS = 2.0
TRANSITIONAL_STATES = frozenset({"Creating", "Updating", "Deleting", "Scaling"})


def busy_parts(observed: EndpointState | None) -> list[str]:
    """What of the endpoint another operation is still changing, e.g. 'deployment green
    (Creating)'."""
    if observed is None:
        return []
    parts = [
        f"deployment {d.name} ({d.provisioning_state})"
        for d in observed.deployments
        if d.provisioning_state in TRANSITIONAL_STATES
    ]
    if observed.provisioning_state in TRANSITIONAL_STATES:
        parts.insert(0, f"the endpoint ({observed.provisioning_state})")
    return parts


def observe_settled(
    session: Session, *, wait: bool, cancelled: threading.Event | None = None
) -> EndpointState | None:
    """The endpoint once no other operation is changing it: a deploy waits (up to the rollout's
    timeout) for another run's rollout to finish rather than planning against a moving target."""
    azure, runner = session.azure, session.runner
    deadline = time.monotonic() + session.spec.rollout.timeout_minutes * 60
    observed = azure.endpoint(session.endpoint_name)
    busy = busy_parts(observed)
    if busy and not wait:
        runner.warning(
            f"another operation is changing endpoint {session.endpoint_name}: "
            f"{', '.join(busy)}; this plan may be out of date when it finishes"
        )
    if busy and wait:
        runner.info(
            f"waiting: another operation is changing endpoint {session.endpoint_name} "
            f"({', '.join(busy)}), e.g. another run of this workflow"
        )
    while busy and wait:
        if cancelled is not None and cancelled.is_set():
            raise Cancelled("cancelled while waiting for another operation")
        if time.monotonic() >= deadline:
            raise TimedOut(
                f"another operation kept changing endpoint {session.endpoint_name} "
                f"({', '.join(busy)}) for longer than the rollout's timeout",
                hint="give the workflow a `concurrency` group per endpoint so that runs queue",
            )
        time.sleep(SETTLE_POLL_SECONDS)
        observed = azure.endpoint(session.endpoint_name)
        busy = busy_parts(observed)
    return observed


def observe_and_plan(
    options: Options,
    runner: Runner,
    environ: Mapping[str, str],
    phases: Phases,
    *,
    before_network: Callable[[Session], None] | None = None,
    cancelled: threading.Event | None = None,
    deploying: bool = False,
) -> Planned:
    """The session, the observed endpoint and the plan. `deploying`: wait for another run's
    operation to finish first, and refuse what this run may not change (a plan only warns)."""
    session = open_session(options, runner, environ)
    runner.info(f"endpoint {session.endpoint_name} ({session.environment_name} environment)")
    if before_network is not None:
        before_network(session)
    with phases("sign-in"):
        azure = session.azure
        runner.info(f"signing in ({session.sign_in.description})")
        azure.check_workspace()
    with phases("observe"):
        observed = observe_settled(session, wait=deploying, cancelled=cancelled)
        try:
            check_may_change(session.owner, session.endpoint_name, observed)
        except PolicyError as refusal:
            if deploying:
                raise
            runner.warning(f"deploy would refuse: {refusal.message}")
        images = Images(session)
        lookup = images.lookup()
    desired = desired_state(session, lookup)
    plan = make_plan(desired, observed)
    return Planned(session, images, lookup, desired, plan)


def run_plan(options: Options, runner: Runner, environ: Mapping[str, str]) -> ExitCode:
    phases = Phases()
    planned = observe_and_plan(options, runner, environ, phases)
    runner.result(plan_table(planned.plan))
    outputs = {"endpoint-name": planned.plan.endpoint, "plan": dump_json(planned.plan.as_dict())}
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
        raise PolicyError(
            f"refusing to deploy {which} from a pull_request event: only preview environments "
            "(with ttl_hours) deploy from pull requests",
            hint="deploy it from a push or release workflow, or set allow_pull_requests: true "
            "in its part of the deploy file if pull requests really should deploy it",
        )


def run_deploy(options: Options, runner: Runner, environ: Mapping[str, str]) -> ExitCode:
    phases = Phases()
    cancelled = cancellation()
    planned = observe_and_plan(
        options,
        runner,
        environ,
        phases,
        before_network=check_environment,
        cancelled=cancelled,
        deploying=True,
    )
    session, plan = planned.session, planned.plan
    runner.info(plan_table(plan))
    try:
        report = _execute(planned, phases, cancelled)
    except DeployerError as failure:
        if options.summary:
            runner.add_summary(failure_markdown(plan.endpoint, failure.message, failure.hint))
        raise
    publish(runner, report.outputs(), options.output_json)
    if options.summary:
        runner.add_summary(summary_markdown(report, phases, session.spec.environment))
    runner.info(console_summary(report, phases))
    return ExitCode.OK


def _execute(planned: Planned, phases: Phases, cancelled: threading.Event) -> DeployReport:
    session, plan, lookup = planned.session, planned.plan, planned.lookup
    azure, runner = session.azure, session.runner
    deadline = time.monotonic() + session.spec.rollout.timeout_minutes * 60
    outcome = "unchanged" if plan.is_noop else "deployed"
    smoke = None
    if not plan.is_noop:
        endpoint_operation = None
        if plan.has(StepKind.CREATE_ENDPOINT):
            runner.info(f"→ create endpoint {plan.endpoint}")
            endpoint_operation = azure.begin_create_endpoint(
                plan.endpoint,
                str(session.spec.endpoint.auth_mode),
                session.spec.endpoint.description,
                session.endpoint_tags(),
            )
        image = lookup.resolved
        if image is None:
            # Built and pushed while Azure creates the endpoint.
            image = planned.images.build_and_push(lookup, phases)
        if endpoint_operation is not None:
            with phases("endpoint"):
                endpoint_operation.wait(
                    deadline=deadline, cancelled=cancelled, progress=runner.info
                )
        settings = deployment_settings(session.spec, image.reference)
        keys_cache: list[Keys] = []

        def credential() -> str:
            if not keys_cache:
                keys_cache.append(_keys(session))
            return keys_cache[0].primary

        uri_cache: list[str] = []

        def scoring_uri() -> str:
            if not uri_cache:
                state = azure.endpoint(plan.endpoint)
                if state is None or not state.scoring_uri:
                    raise DeployerError(f"endpoint {plan.endpoint} has no scoring URI")
                uri_cache.append(state.scoring_uri)
            return uri_cache[0]

        rollout = Rollout(
            azure,
            runner,
            plan,
            settings=settings,
            deployment_tags=deployment_tags(
                session.owner, image.reference, planned.desired.settings_hash
            ),
            smoke=session.spec.smoke_test,
            credential=credential,
            scoring_uri=scoring_uri,
            cancelled=cancelled,
            deadline=deadline,
            phases=phases,
        )
        smoke = rollout.execute().smoke
        image_reference = image.reference
    else:
        image_reference = lookup.reference
    final = azure.endpoint(plan.endpoint)
    if final is None:
        raise DeployerError(f"endpoint {plan.endpoint} disappeared during the rollout")
    return DeployReport(
        endpoint=final,
        deployment=plan.target,
        previous=plan.previous,
        image=image_reference,
        keys=_keys(session),
        plan=plan,
        smoke=smoke,
        studio_url=_studio_url(session, plan.endpoint),
        outcome=outcome,
    )


def _keys(session: Session) -> Keys:
    keys = session.azure.keys(session.endpoint_name)
    session.runner.mask(keys.primary)
    session.runner.mask(keys.secondary)
    return keys


def _studio_url(session: Session, endpoint: str) -> str:
    cloud = session.cloud
    if cloud.is_local:
        return cloud.studio
    azure = session.azure
    return f"{cloud.studio}/endpoints/realtime/{endpoint}/detail?wsid={azure.workspace_id}"
