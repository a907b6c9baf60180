"""A thin, typed wrapper over azure-ai-ml's MLClient: observed state as frozen dataclasses,
long-running operations that are noticed promptly, and Azure's errors with a fix."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)

from deployer.auth import SignIn, explain
from deployer.cloud import Cloud
from deployer.deadline import Deadline
from deployer.errors import AzureError, DeployerError
from deployer.sdk import POLL_SECONDS, configure_sdk
from deployer.spec.model import Probe, Route
from deployer.state import (
    DeploymentSettings,
    DeploymentState,
    EndpointState,
    Keys,
    ProvisioningState,
    traffic_text,
)

# azure-core retries 408/429/500/502/503/504 three times (honouring Retry-After); ARM throttling
# and brief outages come in longer bursts, so a deploy rides out six (backoff 0.8 s doubling,
# about 50 s in all) before it gives up.
STATUS_RETRIES = 6
PROGRESS_EVERY = 15.0


class Operation:
    """A long-running operation started through the SDK, waited on our terms."""

    def __init__(self, description: str, poller: Any) -> None:
        self.description = description
        self.poller = poller
        self.started = time.monotonic()

    def wait(self, deadline: Deadline, progress: Callable[[str], None]) -> Any:
        try:
            last_report = self.started
            while not self.poller.done():
                deadline.check(self.description)
                now = time.monotonic()
                if now - last_report >= PROGRESS_EVERY:
                    status = self.poller.status()
                    progress(f"{self.description}: {status} ({now - self.started:.0f} s)")
                    last_report = now
                # LROPoller.wait re-raises what the polling thread met.
                self.poller.wait(timeout=min(0.5, max(deadline.remaining(), 0.01)))
            return self.poller.result()
        except HttpResponseError as exc:  # the operation ended Failed, or was refused
            raise translate(exc, self.description) from None


class AzureML:
    def __init__(
        self,
        cloud: Cloud,
        sign_in: SignIn,
        subscription_id: str,
        resource_group: str,
        workspace: str,
    ) -> None:
        configure_sdk(cloud)  # before azure-ai-ml is imported (open_session has, usually)
        from azure.ai.ml import MLClient

        self.cloud = cloud
        self.sign_in = sign_in
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.workspace = workspace
        options: dict[str, Any] = {
            "cloud": cloud.name,
            "polling_interval": POLL_SECONDS,
            "retry_status": STATUS_RETRIES,
        }
        if cloud.metadata:
            options["cloud_metadata"] = cloud.metadata
        self.client = MLClient(
            sign_in.credential,
            subscription_id,
            resource_group,
            workspace,
            enable_telemetry=False,
            **options,
        )

    @property
    def workspace_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )

    # --- reading -------------------------------------------------------------------------

    def check_workspace(self) -> None:
        """Fail early, with the inputs to fix, when the workspace cannot be reached."""
        with self._errors("reading the workspace"):
            self.client.workspaces.get(self.workspace)

    def endpoint(self, name: str) -> EndpointState | None:
        with self._errors(f"reading endpoint {name}"):
            try:
                endpoint = self.client.online_endpoints.get(name)
            except ResourceNotFoundError:
                return None
            deployments = list(self.client.online_deployments.list(name))
        return _endpoint_state(endpoint, deployments)

    def endpoints(self) -> list[EndpointState]:
        with self._errors("listing endpoints"):
            return [_endpoint_state(e, []) for e in self.client.online_endpoints.list()]

    def keys(self, endpoint: str) -> Keys:
        with self._errors(f"reading the keys of endpoint {endpoint}"):
            keys = self.client.online_endpoints.get_keys(endpoint)
        primary = getattr(keys, "primary_key", None) or getattr(keys, "access_token", None)
        return Keys(str(primary), getattr(keys, "secondary_key", None))

    def logs(self, endpoint: str, deployment: str, container_type: str | None, lines: int) -> str:
        """`container_type`: InferenceServer (the model server) or StorageInitializer."""
        sdk_names = {
            "InferenceServer": "inference-server",
            "StorageInitializer": "storage-initializer",
        }
        with self._errors(f"reading the logs of deployment {deployment}"):
            kwargs: dict[str, Any] = {"lines": lines}
            if container_type:
                kwargs["container_type"] = sdk_names[container_type]
            return str(self.client.online_deployments.get_logs(deployment, endpoint, **kwargs))

    # --- changing ---------------------------------------------------------------------------

    def begin_create_endpoint(
        self, name: str, auth_mode: str, description: str | None, tags: Mapping[str, str]
    ) -> Operation:
        from azure.ai.ml.entities import ManagedOnlineEndpoint

        endpoint = ManagedOnlineEndpoint(
            name=name, auth_mode=auth_mode, description=description, tags=dict(tags)
        )
        with self._errors(f"creating endpoint {name}"):
            poller = self.client.online_endpoints.begin_create_or_update(endpoint)
        return Operation(f"creating endpoint {name}", poller)

    def begin_deployment(
        self, endpoint: str, name: str, settings: DeploymentSettings, tags: Mapping[str, str]
    ) -> Operation:
        deployment = build_deployment(endpoint, name, settings, tags)
        with self._errors(f"deploying {name}"):
            poller = self.client.online_deployments.begin_create_or_update(deployment)
        return Operation(f"provisioning deployment {name}", poller)

    def begin_update_endpoint(
        self,
        name: str,
        tags: Mapping[str, str],
        traffic: Mapping[str, int] | None,
        description: str | None = None,
    ) -> Operation:
        """Set the endpoint's tags (all of them: these replace the old ones) and, if given, its
        traffic and description, in one request: the rollout record changes with the traffic it
        describes."""
        with self._errors(f"updating endpoint {name}"):
            current = self.client.online_endpoints.get(name)
            current.tags = dict(tags)
            if traffic is not None:
                current.traffic = dict(traffic)
            if description is not None:
                current.description = description
            poller = self.client.online_endpoints.begin_create_or_update(current)
        doing = (
            f"shifting traffic ({traffic_text(traffic)})"
            if traffic is not None
            else (f"updating endpoint {name}")
        )
        return Operation(doing, poller)

    def begin_delete_deployment(self, endpoint: str, name: str) -> Operation:
        with self._errors(f"deleting deployment {name}"):
            poller = self.client.online_deployments.begin_delete(name, endpoint)
        return Operation(f"deleting deployment {name}", poller)

    def begin_delete_endpoint(self, name: str) -> Operation:
        with self._errors(f"deleting endpoint {name}"):
            poller = self.client.online_endpoints.begin_delete(name)
        return Operation(f"deleting endpoint {name}", poller)

    def _errors(self, doing: str) -> _Translated:
        return _Translated(doing, self.sign_in)


class _Translated:
    """Turns the SDK's exceptions into AzureError with a fix."""

    def __init__(self, doing: str, sign_in: SignIn) -> None:
        self.doing = doing
        self.sign_in = sign_in

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        from azure.ai.ml.exceptions import MlException

        if error is None or isinstance(error, DeployerError):
            return
        if isinstance(error, ClientAuthenticationError):
            raise explain(error, self.sign_in.assertions) from None
        if isinstance(error, HttpResponseError):
            raise translate(error, self.doing) from None
        if isinstance(error, MlException):
            # The SDK's own checks, before any request was sent.
            first = str(error.message or error).strip().splitlines()
            raise AzureError(f"{self.doing} failed: {first[0] if first else error}") from None


def translate(error: HttpResponseError, doing: str) -> AzureError:
    code = getattr(getattr(error, "error", None), "code", None) or ""
    message = str(getattr(getattr(error, "error", None), "message", None) or error.message or error)
    message = message.strip().splitlines()[0] if message.strip() else type(error).__name__
    status = error.status_code
    refused = status is not None and status >= 400  # else: the operation itself ended Failed
    return AzureError(
        f"Azure refused {doing}: {message}" if refused else f"{doing} failed: {message}",
        code=code,
        status=status,
        hint=hint_for(code, status, message),
    )


def hint_for(code: str, status: int | None, message: str) -> str | None:
    if code == "AuthorizationFailed" or status == 403:
        return (
            "give the app registration the 'AzureML Data Scientist' role on the workspace "
            "(the action it lacks is named above)"
        )
    if code in ("ResourceGroupNotFound", "SubscriptionNotFound") or (
        code == "ResourceNotFound" and "workspaces/" in message
    ):
        return "check the subscription-id, resource-group and workspace inputs"
    if code == "OutOfQuota":
        return (
            "ask for more quota for this VM family, or use fewer or smaller instances "
            "(deployment.instance_count / instance_type); Azure ML reserves 20% extra for upgrades"
        )
    if code == "ImagePullFailure":
        return (
            "grant the workspace's managed identity the AcrPull role on the registry, and check "
            "that the image exists"
        )
    if code == "ResourceNotReady" and "Readiness" in message:
        return (
            "the container runs but its readiness route never answered 200: check that "
            "deployment.inference_config (ports and paths) matches what the server serves"
        )
    if code == "ResourceNotReady":
        return "the container keeps exiting; its log above shows why"
    if status == 409 and "unique per region" in message:
        return "endpoint names are unique per Azure region: choose another endpoint.name"
    if status == 409:
        return (
            "another operation is running on this endpoint (another run of this workflow?); "
            "give the workflow a `concurrency` group per endpoint, or retry when it is done"
        )
    if code in ("UserError", "BadArgument") and "instance type" in message.lower():
        return "check deployment.instance_type against the managed online endpoint SKU list"
    return None


def _endpoint_state(endpoint: Any, deployments: list[Any]) -> EndpointState:
    return EndpointState(
        name=str(endpoint.name),
        provisioning_state=ProvisioningState.parse(endpoint.provisioning_state),
        auth_mode=str(endpoint.auth_mode or "key"),
        scoring_uri=endpoint.scoring_uri,
        swagger_uri=getattr(endpoint, "openapi_uri", None)
        or getattr(endpoint, "swagger_uri", None),
        traffic=MappingProxyType({k: int(v) for k, v in (endpoint.traffic or {}).items()}),
        tags=MappingProxyType(dict(endpoint.tags or {})),
        description=endpoint.description or None,
        deployments=tuple(
            DeploymentState(
                name=str(d.name),
                provisioning_state=ProvisioningState.parse(d.provisioning_state),
                instance_type=str(d.instance_type or ""),
                instance_count=int(d.instance_count or 0),
                tags=MappingProxyType(dict(d.tags or {})),
            )
            for d in deployments
        ),
    )


def build_deployment(
    endpoint: str, name: str, settings: DeploymentSettings, tags: Mapping[str, str]
) -> Any:
    from azure.ai.ml.entities import (
        Environment,
        ManagedOnlineDeployment,
        OnlineRequestSettings,
        ProbeSettings,
    )

    def route(value: Route) -> dict[str, Any]:
        return {"port": value.port, "path": value.path}

    def probe(value: Probe) -> Any:
        return ProbeSettings(
            initial_delay=value.initial_delay,
            period=value.period,
            timeout=value.timeout,
            success_threshold=value.success_threshold,
            failure_threshold=value.failure_threshold,
        )

    environment = Environment(
        image=settings.image,
        inference_config={
            "liveness_route": route(settings.liveness_route),
            "readiness_route": route(settings.readiness_route),
            "scoring_route": route(settings.scoring_route),
        },
    )
    return ManagedOnlineDeployment(
        name=name,
        endpoint_name=endpoint,
        environment=environment,
        instance_type=settings.instance_type,
        instance_count=settings.instance_count,
        environment_variables=dict(settings.environment_variables),
        request_settings=OnlineRequestSettings(
            request_timeout_ms=settings.request_timeout_ms,
            max_concurrent_requests_per_instance=settings.max_concurrent_requests_per_instance,
            max_queue_wait_ms=settings.max_queue_wait_ms,
        ),
        liveness_probe=probe(settings.liveness_probe),
        readiness_probe=probe(settings.readiness_probe),
        app_insights_enabled=settings.app_insights_enabled,
        egress_public_network_access=settings.egress_public_network_access,
        tags=dict(tags),
    )
