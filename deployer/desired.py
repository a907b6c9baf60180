"""What the deploy file wants of the endpoint, as the planner and the executor take it: the
deployment's settings, the desired state, and the rollout's analysis."""

from __future__ import annotations

from deployer.agreement import Agreement, load_requests, load_schema
from deployer.analysis import Analysis
from deployer.collector_plan import own_collections
from deployer.errors import UsageError
from deployer.files import UnreadableFile
from deployer.plan import Desired
from deployer.session import Session
from deployer.spec.model import AgreementSpec, DeploySpec
from deployer.state import DeploymentSettings
from deployer.steps import BUILD_THE_IMAGE


def deployment_settings(
    spec: DeploySpec, image: str, *, pull_request: bool = False
) -> DeploymentSettings:
    deployment = spec.deployment
    collector = deployment.data_collector
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
        data_collector=own_collections(collector) if pull_request else collector,
    )


def desired_state(
    session: Session, image: str, image_pending: bool, making: str = BUILD_THE_IMAGE
) -> Desired:
    spec = session.spec
    return Desired(
        endpoint=session.endpoint_name,
        auth_mode=str(spec.endpoint.auth_mode),
        settings=deployment_settings(spec, image, pull_request=session.context.is_pull_request),
        strategy=spec.rollout.strategy,
        canary_steps=spec.rollout.canary_steps,
        step_wait_seconds=spec.rollout.step_wait_seconds,
        keep_previous=spec.rollout.keep_previous,
        keep_for=spec.rollout.keep_for,
        smoke_test=session.sends_smoke_test,
        image_pending=image_pending,
        making=making,
        description=spec.endpoint.description,
        tags=dict(spec.endpoint.tags),
        identity=spec.endpoint.identity,
        shadow=spec.rollout.shadow,
        bake_seconds=spec.rollout.bake_minutes * 60,
        autoscale=spec.deployment.autoscale,
        public_network_access=str(spec.endpoint.public_network_access),
    )


def rollout_analysis(session: Session) -> Analysis | None:
    """rollout.analysis, reading Azure Monitor with the run's credential; None without it."""
    spec = session.spec.rollout.analysis
    if spec is None:
        return None
    shadow = session.spec.rollout.shadow
    late = early_reading(spec.metrics_delay_seconds, session.cloud.metrics_minute)
    if late is not None:
        session.runner.warning(late)
    return Analysis(
        spec,
        session.azure.monitor,
        session.endpoint_name,
        shadow_on_inconclusive=shadow.on_inconclusive if shadow is not None else None,
        minute=session.cloud.metrics_minute,
    )


def early_reading(delay_seconds: int, minute_seconds: float) -> str | None:
    """A warning when windows are read before Azure Monitor fills their minutes in: it takes
    up to about three minutes on Azure, and a minute read before then counts only part of its
    requests, so a stage may be judged on too few (or be inconclusive)."""
    if minute_seconds < 60 or delay_seconds >= 60:
        return None  # the emulator's fast profile, or a delay Azure's minutes fill within
    return (
        f"rollout.analysis.metrics_delay_seconds is {delay_seconds}: Azure Monitor takes up to "
        "about 3 minutes to fill a minute in, so windows read sooner count only part of their "
        "requests; keep the default 180 unless your metrics show they arrive sooner"
    )


def rollout_agreement(session: Session) -> Agreement | None:
    return agreement_of(session.spec.rollout.agreement)


def agreement_of(spec: AgreementSpec | None) -> Agreement | None:
    """rollout.agreement with its request set (and response schema) read now, before anything
    changes; None without it."""
    if spec is None:
        return None
    try:
        return Agreement(spec, load_requests(spec), load_schema(spec))
    except UnreadableFile as exc:
        raise UsageError(
            f"rollout.agreement: a file of its request set or its schema {exc}",
            hint="run `azureml-deploy validate` to see which, and fix it",
        ) from exc
