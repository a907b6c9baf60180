"""The deploy file as frozen dataclasses, built only from a document that passed validation.

Defaults here are the schema's `default` values (a test keeps the two identical).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from deployer.files import request_files
from deployer.spec import names
from deployer.spec.source import Document, JsonPath


class AuthMode(StrEnum):
    KEY = "key"
    AML_TOKEN = "aml_token"  # noqa: S105 - an auth mode, not a password
    AAD_TOKEN = "aad_token"  # noqa: S105 - an auth mode, not a password


class PublicNetworkAccess(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class SmokeFrom(StrEnum):
    RUNNER = "runner"
    NONE = "none"


class Strategy(StrEnum):
    BLUE_GREEN = "blue-green"
    CANARY = "canary"
    REPLACE = "replace"


def _frozen(mapping: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


class IdentityType(StrEnum):
    SYSTEM_ASSIGNED = "system_assigned"
    USER_ASSIGNED = "user_assigned"


@dataclass(frozen=True)
class EndpointIdentity:
    """The identity an endpoint runs and pulls its image with (fixed when it is created)."""

    type: IdentityType = IdentityType.SYSTEM_ASSIGNED
    resource_id: str | None = None  # the user-assigned identity's ARM id

    def describe(self) -> str:
        if self.type is IdentityType.USER_ASSIGNED:
            return f"user-assigned identity {self.resource_id}"
        return "system-assigned identity"


@dataclass(frozen=True)
class EndpointSpec:
    name_template: str
    auth_mode: AuthMode = AuthMode.KEY
    identity: EndpointIdentity = field(default_factory=EndpointIdentity)
    public_network_access: PublicNetworkAccess = PublicNetworkAccess.ENABLED
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=_frozen)

    def render_name(self, values: Mapping[str, str]) -> str:
        return names.render(self.name_template, values)

    @property
    def placeholders(self) -> tuple[str, ...]:
        return names.placeholders(self.name_template)


# Variables no build secret may read: the runner's (the job's OIDC request token, its runtime
# token, the inputs) and the sign-in's and this program's own (the registry credential the docker
# CLI signs in with). A pull request can change the deploy file, so naming one of them would hand
# the job's credentials to a build step it wrote.
RESERVED_VARIABLE_PREFIXES = ("GITHUB_", "ACTIONS_", "RUNNER_", "INPUT_", "AZURE_", "AZUREML_")


def reserved_variable(name: str) -> bool:
    return name.upper().startswith(RESERVED_VARIABLE_PREFIXES)


@dataclass(frozen=True)
class BuildSecret:
    """A BuildKit build secret's source: an environment variable or a file in the workspace.
    Only its id and source travel; the value is read by the docker CLI at build time."""

    env: str | None = None
    file: Path | None = None  # absolute, inside the workspace


@dataclass(frozen=True)
class BuildSpec:
    context: Path
    dockerfile: Path
    args: Mapping[str, str] = field(default_factory=_frozen)
    target: str | None = None
    platform: str = "linux/amd64"
    secrets: Mapping[str, BuildSecret] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ImageSpec:
    """A custom container; all None when the deploy file deploys Azure ML's assets instead."""

    registry: str | None = None
    repository: str | None = None
    build: BuildSpec | None = None
    ref: str | None = None

    @property
    def given(self) -> bool:
        return self.build is not None or self.ref is not None


class ModelType(StrEnum):
    CUSTOM = "custom_model"
    MLFLOW = "mlflow_model"
    TRITON = "triton_model"


@dataclass(frozen=True)
class ModelSpec:
    """deployment.model: a local file or folder (registered from its content), or a reference
    to a registered model (`azureml:…`) resolved to an exact version before anything changes."""

    path: Path | None = None  # absolute, inside the workspace
    reference: str | None = None
    type: ModelType = ModelType.CUSTOM


@dataclass(frozen=True)
class CodeSpec:
    """deployment.code_configuration: the folder uploaded and the scoring script in it."""

    code: Path  # absolute, inside the workspace
    scoring_script: str  # relative to `code`, POSIX


@dataclass(frozen=True)
class EnvironmentSpec:
    """deployment.environment: an image (with a conda file built onto it), a build context
    Azure ML builds, or a reference to a registered environment."""

    reference: str | None = None
    image: str | None = None
    conda_file: Path | None = None  # absolute, inside the workspace
    build_context: Path | None = None  # absolute, inside the workspace
    dockerfile_path: str = "Dockerfile"
    build_on: str = "azure"  # or "runner": the action builds the build context itself


@dataclass(frozen=True)
class Route:
    port: int
    path: str


@dataclass(frozen=True)
class InferenceConfig:
    liveness_route: Route
    readiness_route: Route
    scoring_route: Route


# Azure ML's inference server (azureml-inference-server-http) in Azure ML's inference images:
# port 5001, GET / for liveness and readiness, POST /score (how-to-inference-server-http).
INFERENCE_SERVER_ROUTES = InferenceConfig(
    liveness_route=Route(5001, "/"),
    readiness_route=Route(5001, "/"),
    scoring_route=Route(5001, "/score"),
)


@dataclass(frozen=True)
class RequestSettings:
    request_timeout_ms: int = 5000
    max_concurrent_requests_per_instance: int = 1
    max_queue_wait_ms: int = 500


@dataclass(frozen=True)
class Probe:
    initial_delay: int = 10
    period: int = 10
    timeout: int = 2
    success_threshold: int = 1
    failure_threshold: int = 30


class Direction(StrEnum):
    OUT = "out"
    IN = "in"


@dataclass(frozen=True)
class AutoscaleRule:
    """One rule of an Azure Monitor autoscale setting, in the deploy file's words."""

    metric: str  # the deployment's metric, as Azure Monitor names it
    operator: str  # GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual
    threshold: float
    direction: Direction
    statistic: str = "Average"
    time_aggregation: str = "Average"
    window_minutes: int = 5
    change_count: int = 1
    cooldown_minutes: int = 5


@dataclass(frozen=True)
class AutoscaleSpec:
    """deployment.autoscale: the setting on the deployment that serves."""

    max_instances: int
    rules: tuple[AutoscaleRule, ...]
    min_instances: int = 1
    default_instances: int = 1  # the deploy file's, or deployment.instance_count

    @property
    def fingerprint(self) -> str:
        """What identifies the setting (kept on it as a tag): a changed block is a new one."""
        import hashlib
        import json
        from dataclasses import asdict

        text = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def clamp(self, instances: int) -> int:
        return max(self.min_instances, min(self.max_instances, instances))


# Where Azure's data collector writes when a collection names no data path (Learn,
# how-to-collect-production-data, "Store collected data in Blob Storage"; azure-ai-ml's
# DEFAULT_MDC_PATH): then `<endpoint>/<deployment>/<collection>`.
DEFAULT_COLLECTOR_PATH = "azureml://datastores/workspaceblobstore/paths/modelDataCollector"
# Collections Azure itself fills from the HTTP payloads (payload logging); every other name is
# logged by the scoring script's azureml-ai-monitoring Collector (custom logging).
PAYLOAD_COLLECTIONS = ("request", "response")


@dataclass(frozen=True)
class CollectionData:
    """The data asset a collection is registered as; None: Azure's default."""

    name: str | None = None
    path: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class Collection:
    name: str
    enabled: bool = False
    data: CollectionData | None = None


@dataclass(frozen=True)
class DataCollectorSpec:
    """deployment.data_collector: what Azure ML's data collector logs to blob storage."""

    collections: tuple[Collection, ...]
    sampling_rate: float = 1.0
    rolling_rate: str = "hour"

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.collections if c.enabled)

    def summary(self) -> str:
        return collector_summary(self.enabled, self.sampling_rate, self.rolling_rate)


def collector_summary(enabled: tuple[str, ...], sampling_rate: float, rolling_rate: str) -> str:
    """A data collector in a few words, the same for the deploy file's and Azure's."""
    if not enabled:
        return "nothing collected"
    share = f"{sampling_rate * 100:g}%"
    return f"{', '.join(sorted(enabled))} ({share} of requests, by {rolling_rate.lower()})"


@dataclass(frozen=True)
class DeploymentSpec:
    instance_type: str
    inference_config: InferenceConfig
    instance_count: int = 1
    environment_variables: Mapping[str, str] = field(default_factory=_frozen)
    request_settings: RequestSettings = field(default_factory=RequestSettings)
    liveness_probe: Probe = field(default_factory=Probe)
    readiness_probe: Probe = field(default_factory=Probe)
    app_insights_enabled: bool = False
    egress_public_network_access: str = "enabled"
    autoscale: AutoscaleSpec | None = None
    data_collector: DataCollectorSpec | None = None
    model: ModelSpec | None = None
    model_mount_path: str | None = None
    code_configuration: CodeSpec | None = None
    environment: EnvironmentSpec | None = None

    @property
    def uses_assets(self) -> bool:
        """Whether Azure ML's assets are deployed (a model, code, an environment) rather than
        a self-contained custom container."""
        return (
            self.model is not None
            or self.code_configuration is not None
            or self.environment is not None
        )


@dataclass(frozen=True)
class BaselineSpec:
    """The candidate judged against the known-good deployment in the same window."""

    max_error_rate_increase: float = 1.0  # percentage points above the known-good's error rate
    max_latency_p99_ratio: float = 1.5  # times the known-good's p99


class OnInconclusive(StrEnum):
    """What a stage that ends without a verdict (too few requests) means."""

    FAIL = "fail"  # rolled back like a breach
    PASS = "pass"  # noqa: S105 - not a password: the rollout goes on, with a warning


@dataclass(frozen=True)
class LoadSpec:
    """The smoke test's request sent to the candidate during each analysis window."""

    requests_per_second: float = 2.0
    max_requests_per_window: int | None = None  # None: twice min_requests


@dataclass(frozen=True)
class AnalysisSpec:
    """Thresholds on the candidate's live traffic, read from Azure Monitor in windows."""

    interval_seconds: int = 60
    metrics_delay_seconds: int = 180  # how long Azure Monitor takes to show a request
    min_requests: int = 20  # fewer in a window: no verdict yet, the window grows
    failure_limit: int = 0  # failed windows tolerated; one more rolls back
    max_error_rate: float = 1.0  # percent of the window's requests
    count_4xx: bool = False  # every 4xx an error, not only 408, 424 and 429
    max_latency_p99_ms: float | None = None
    compare_to_baseline: BaselineSpec | None = None
    on_inconclusive: OnInconclusive = OnInconclusive.FAIL
    load: LoadSpec | None = None

    @property
    def load_per_window(self) -> int:
        if self.load is None:
            return 0
        cap = self.load.max_requests_per_window
        return cap if cap is not None else 2 * self.min_requests


@dataclass(frozen=True)
class ShadowSpec:
    """A share of live traffic mirrored to the candidate before it takes any."""

    percent: int = 10
    seconds: int = 300
    on_inconclusive: OnInconclusive | None = None  # None: the analysis's


class CompareKind(StrEnum):
    EXACT = "exact"
    POINTER = "pointer"
    TOLERANCE = "tolerance"
    SCHEMA = "schema"


@dataclass(frozen=True)
class CompareRule:
    """How the candidate's answer to one request agrees with the known-good's."""

    kind: CompareKind = CompareKind.EXACT
    pointer: str = ""  # POINTER: an RFC 6901 JSON pointer
    absolute: float = 0.0  # TOLERANCE
    relative: float = 0.0
    schema: Path | None = None  # SCHEMA: a JSON Schema file the candidate's answer satisfies


@dataclass(frozen=True)
class AgreementSpec:
    """A request set sent to the known-good and to the candidate, their answers compared."""

    requests: tuple[Path, ...]  # resolved, in the order they are sent
    compare: CompareRule = field(default_factory=CompareRule)
    min_agreement: float = 1.0
    timeout_seconds: int = 30
    baseline: str | None = None  # previews: the environment a scorecard compares with


@dataclass(frozen=True)
class RolloutSpec:
    strategy: Strategy = Strategy.BLUE_GREEN
    canary_steps: tuple[int, ...] = (10, 50, 100)
    step_wait_seconds: int = 60
    timeout_minutes: int = 30
    keep_previous: bool = False
    keep_for: datetime.timedelta | None = None  # with keep_previous: retired after this long
    analysis: AnalysisSpec | None = None
    shadow: ShadowSpec | None = None
    bake_minutes: float = 0
    agreement: AgreementSpec | None = None


@dataclass(frozen=True)
class SmokeTestSpec:
    request: Path
    source: SmokeFrom = SmokeFrom.RUNNER  # smoke_test.from
    expect_status: int = 200
    expect_body_schema: Path | None = None
    timeout_seconds: int = 30
    attempts: int = 3


@dataclass(frozen=True)
class DeploySpec:
    """One deployable configuration: the base, or the base with an environment's overlay."""

    source: Path
    environment: str | None
    endpoint: EndpointSpec
    image: ImageSpec
    deployment: DeploymentSpec
    rollout: RolloutSpec = field(default_factory=RolloutSpec)
    smoke_test: SmokeTestSpec | None = None
    ttl_hours: float | None = None
    allow_pull_requests: bool | None = None  # None: true for previews, false otherwise

    @property
    def deployable_from_pull_requests(self) -> bool:
        if self.allow_pull_requests is not None:
            return self.allow_pull_requests
        return self.ttl_hours is not None


def build_spec(
    document: Document, source: Path, environment: str | None, ttl_hours: float | None
) -> DeploySpec:
    """A DeploySpec from a validated document.

    Relative paths start at the folder of the deploy file itself, symlinks resolved, exactly as
    validation resolved them (rules.py), and are kept resolved: the path that was checked to be
    inside the workspace is the path that is used.
    """
    reader = _Reader(document)
    folder = source.resolve().parent
    data = document.data
    endpoint = data["endpoint"]
    image = data.get("image", {})
    deployment = data["deployment"]
    rollout = data.get("rollout", {})
    smoke = data.get("smoke_test")

    build: BuildSpec | None = None
    if "build" in image:
        raw_build = image["build"]
        context = (folder / raw_build.get("context", ".")).resolve()
        build = BuildSpec(
            context=context,
            dockerfile=(context / raw_build.get("dockerfile", "Dockerfile")).resolve(),
            args=reader.strings(("image", "build", "args")),
            target=raw_build.get("target"),
            platform=raw_build.get("platform", "linux/amd64"),
            secrets=_secrets(raw_build.get("secrets"), folder),
        )
    return DeploySpec(
        source=source,
        environment=environment,
        endpoint=EndpointSpec(
            name_template=endpoint["name"],
            auth_mode=AuthMode(endpoint.get("auth_mode", AuthMode.KEY)),
            public_network_access=PublicNetworkAccess(
                endpoint.get("public_network_access", PublicNetworkAccess.ENABLED)
            ),
            identity=EndpointIdentity(
                type=IdentityType(endpoint.get("identity", {}).get("type", "system_assigned")),
                resource_id=endpoint.get("identity", {}).get("resource_id"),
            ),
            description=endpoint.get("description"),
            tags=reader.strings(("endpoint", "tags")),
        ),
        image=ImageSpec(
            registry=image.get("registry"),
            repository=image.get("repository"),
            build=build,
            ref=image.get("ref"),
        ),
        deployment=DeploymentSpec(
            instance_type=deployment["instance_type"],
            inference_config=InferenceConfig(
                **{
                    name: Route(port=int(route["port"]), path=route["path"])
                    for name, route in deployment["inference_config"].items()
                }
            )
            if "inference_config" in deployment
            else INFERENCE_SERVER_ROUTES,
            instance_count=int(deployment.get("instance_count", 1)),
            environment_variables=reader.strings(("deployment", "environment_variables")),
            request_settings=RequestSettings(**_ints(deployment.get("request_settings"))),
            liveness_probe=Probe(**_ints(deployment.get("liveness_probe"))),
            readiness_probe=Probe(**_ints(deployment.get("readiness_probe"))),
            app_insights_enabled=bool(deployment.get("app_insights_enabled", False)),
            egress_public_network_access=deployment.get("egress_public_network_access", "enabled"),
            autoscale=_autoscale(
                deployment.get("autoscale"), int(deployment.get("instance_count", 1))
            ),
            data_collector=_data_collector(deployment.get("data_collector"), reader),
            model=_model(deployment.get("model"), folder),
            model_mount_path=deployment.get("model_mount_path"),
            code_configuration=_code(deployment.get("code_configuration"), folder),
            environment=_environment(deployment.get("environment"), folder),
        ),
        rollout=RolloutSpec(
            strategy=Strategy(rollout.get("strategy", Strategy.BLUE_GREEN)),
            canary_steps=tuple(int(step) for step in rollout.get("canary_steps", (10, 50, 100))),
            step_wait_seconds=int(rollout.get("step_wait_seconds", 60)),
            timeout_minutes=int(rollout.get("timeout_minutes", 30)),
            keep_previous=rollout.get("keep_previous", False) is not False,
            keep_for=_duration(rollout.get("keep_previous")),
            analysis=_analysis(rollout.get("analysis")),
            shadow=_shadow(rollout.get("shadow")),
            bake_minutes=float(rollout.get("bake_minutes", 0)),
            agreement=_agreement(rollout.get("agreement"), folder),
        ),
        smoke_test=None
        if smoke is None
        else SmokeTestSpec(
            request=(folder / smoke["request"]).resolve(),
            source=SmokeFrom(smoke.get("from", SmokeFrom.RUNNER)),
            expect_status=int(smoke.get("expect_status", 200)),
            expect_body_schema=(folder / smoke["expect_body_schema"]).resolve()
            if "expect_body_schema" in smoke
            else None,
            timeout_seconds=int(smoke.get("timeout_seconds", 30)),
            attempts=int(smoke.get("attempts", 3)),
        ),
        ttl_hours=ttl_hours,
        allow_pull_requests=data.get("allow_pull_requests"),
    )


def is_reference(written: str) -> bool:
    """Whether deployment.model or deployment.environment names a registered asset."""
    return written.startswith("azureml:")


def _model(raw: str | dict[str, str] | None, folder: Path) -> ModelSpec | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        if is_reference(raw):
            return ModelSpec(reference=raw)
        return ModelSpec(path=(folder / raw).resolve())
    return ModelSpec(
        path=(folder / raw["path"]).resolve(), type=ModelType(raw.get("type", ModelType.CUSTOM))
    )


def _code(raw: dict[str, str] | None, folder: Path) -> CodeSpec | None:
    if raw is None:
        return None
    return CodeSpec(
        code=(folder / raw["code"]).resolve(),
        scoring_script=Path(raw["scoring_script"]).as_posix(),
    )


def _environment(raw: str | dict[str, Any] | None, folder: Path) -> EnvironmentSpec | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return EnvironmentSpec(reference=raw)
    build = raw.get("build")
    return EnvironmentSpec(
        image=raw.get("image"),
        conda_file=(folder / raw["conda_file"]).resolve() if "conda_file" in raw else None,
        build_context=(folder / build["path"]).resolve() if build else None,
        dockerfile_path=build.get("dockerfile_path", "Dockerfile") if build else "Dockerfile",
        build_on=raw.get("build_on", "azure"),
    )


def _secrets(raw: dict[str, dict[str, str]] | None, folder: Path) -> Mapping[str, BuildSecret]:
    """Each secret's source; a file is resolved from the deploy file's folder, as validated."""
    secrets = {
        secret_id: BuildSecret(
            env=source.get("env"),
            file=(folder / source["file"]).resolve() if "file" in source else None,
        )
        for secret_id, source in (raw or {}).items()
    }
    return MappingProxyType(secrets)


_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def _duration(value: object) -> datetime.timedelta | None:
    """`24h` → 24 hours (the schema allows only whole m, h or d)."""
    if not isinstance(value, str):
        return None
    return datetime.timedelta(**{_UNITS[value[-1]]: int(value[:-1])})


def _shadow(raw: dict[str, Any] | None) -> ShadowSpec | None:
    if raw is None:
        return None
    policy = raw.get("on_inconclusive")
    return ShadowSpec(
        **_ints({key: value for key, value in raw.items() if key != "on_inconclusive"}),
        on_inconclusive=None if policy is None else OnInconclusive(policy),
    )


def _load(raw: dict[str, Any] | None) -> LoadSpec | None:
    if raw is None:
        return None
    cap = raw.get("max_requests_per_window")
    return LoadSpec(
        requests_per_second=float(raw.get("requests_per_second", 2.0)),
        max_requests_per_window=None if cap is None else int(cap),
    )


def _analysis(raw: dict[str, Any] | None) -> AnalysisSpec | None:
    if raw is None:
        return None
    baseline = raw.get("compare_to_baseline")
    apart = ("compare_to_baseline", "on_inconclusive", "load")
    numbers = {key: value for key, value in raw.items() if key not in apart}
    return AnalysisSpec(
        interval_seconds=int(numbers.pop("interval_seconds", 60)),
        metrics_delay_seconds=int(numbers.pop("metrics_delay_seconds", 180)),
        min_requests=int(numbers.pop("min_requests", 20)),
        failure_limit=int(numbers.pop("failure_limit", 0)),
        max_error_rate=float(numbers.pop("max_error_rate", 1.0)),
        count_4xx=bool(numbers.pop("count_4xx", False)),
        max_latency_p99_ms=(
            float(numbers["max_latency_p99_ms"]) if "max_latency_p99_ms" in numbers else None
        ),
        compare_to_baseline=None
        if baseline is None
        else BaselineSpec(**{key: float(value) for key, value in baseline.items()}),
        on_inconclusive=OnInconclusive(raw.get("on_inconclusive", OnInconclusive.FAIL)),
        load=_load(raw.get("load")),
    )


def _agreement(raw: dict[str, Any] | None, folder: Path) -> AgreementSpec | None:
    if raw is None:
        return None
    compare = raw.get("compare", {"exact": True})
    ((kind, value),) = compare.items()
    rule = CompareRule(kind=CompareKind(kind))
    if kind == "pointer":
        rule = replace(rule, pointer=str(value))
    elif kind == "tolerance":
        rule = replace(
            rule,
            absolute=float(value.get("absolute", 0.0)),
            relative=float(value.get("relative", 0.0)),
        )
    elif kind == "schema":
        rule = replace(rule, schema=(folder / value).resolve())
    return AgreementSpec(
        requests=request_files(raw["requests"], folder),
        compare=rule,
        min_agreement=float(raw.get("min_agreement", 1.0)),
        timeout_seconds=int(raw.get("timeout_seconds", 30)),
        baseline=raw.get("baseline"),
    )


def _autoscale(raw: dict[str, Any] | None, instance_count: int) -> AutoscaleSpec | None:
    if raw is None:
        return None
    rules = tuple(
        AutoscaleRule(
            metric=str(rule["metric"]),
            operator=str(rule["operator"]),
            threshold=float(rule["threshold"]),
            direction=Direction(rule["direction"]),
            statistic=str(rule.get("statistic", "Average")),
            time_aggregation=str(rule.get("time_aggregation", "Average")),
            window_minutes=int(rule.get("window_minutes", 5)),
            change_count=int(rule.get("change_count", 1)),
            cooldown_minutes=int(rule.get("cooldown_minutes", 5)),
        )
        for rule in raw["rules"]
    )
    return AutoscaleSpec(
        max_instances=int(raw["max_instances"]),
        rules=rules,
        min_instances=int(raw.get("min_instances", 1)),
        default_instances=int(raw.get("default_instances", instance_count)),
    )


def _data_collector(raw: dict[str, Any] | None, reader: _Reader) -> DataCollectorSpec | None:
    if raw is None:
        return None
    collections = []
    for name, settings in raw["collections"].items():
        data = settings.get("data")
        written = reader.strings(("deployment", "data_collector", "collections", name, "data"))
        collections.append(
            Collection(
                name=name,
                enabled=str(settings.get("enabled", False)).lower() == "true",
                data=None
                if data is None
                else CollectionData(
                    name=data.get("name"), path=data.get("path"), version=written.get("version")
                ),
            )
        )
    return DataCollectorSpec(
        collections=tuple(collections),
        sampling_rate=float(raw.get("sampling_rate", 1.0)),
        rolling_rate=str(raw.get("rolling_rate", "hour")),
    )


def _ints(values: dict[str, Any] | None) -> dict[str, int]:
    # JSON Schema counts 10.0 as an integer; the dataclasses hold real ints.
    return {key: int(value) for key, value in (values or {}).items()}


class _Reader:
    def __init__(self, document: Document) -> None:
        self._document = document

    def strings(self, path: JsonPath) -> Mapping[str, str]:
        """A mapping of strings; numbers are taken exactly as written (`3.10` stays "3.10")."""
        values = self._document.get(path) or {}
        result: dict[str, str] = {}
        for key, value in values.items():
            if isinstance(value, str):
                result[key] = value
            else:
                result[key] = self._document.scalar_text.get((*path, key), str(value))
        return _frozen(result)
