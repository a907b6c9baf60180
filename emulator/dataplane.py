"""The data plane: each deployment instance is a real container of the deployed image, on the
emulator's internal Docker network, probed like Azure ML probes it.

Provisioning pulls the image from the registry by digest with the ENDPOINT's identity ("An
online deployment runs your user container with the endpoint identity", concept-endpoints-online-
auth.md), starts `instance_count` containers with the deployment's environment variables and
waits until every one passes its readiness probe. It fails with the codes
how-to-troubleshoot-online-endpoints.md documents: `ResourceNotFound` when the registry refuses
the endpoint's identity ("Container registry is private or otherwise inaccessible"), `BadArgument`
when the image is not there ("Unable to download user container image"), `ResourceNotReady` when a
container keeps exiting (crash loop) or never becomes ready. An update
starts new containers beside the old ones and retires the old ones only once the new ones are
ready, so an update never leaves the deployment without a ready instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import itertools
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
import httpx
from docker.models.containers import Container
from docker.types import IPAMConfig, IPAMPool

from emulator.acr import NULL_GUID
from emulator.faults import FaultStore
from emulator.launch import Launch, Launcher, LaunchFailed
from emulator.resources.durations import seconds
from emulator.resources.model import Deployment
from emulator.resources.provisioning import Outcome
from emulator.timing import Timing

log = logging.getLogger("emulator.dataplane")

LABEL = "azureml-deploy.emulator"
CRASH_RESTARTS = 2  # a container that exits this many times more is a crash loop
FAST_STARTUP_FLOOR = 30.0  # seconds; at most Azure's own budget for the probe
SUBNETS = ipaddress.ip_network("10.213.0.0/16")


class DockerMissing(RuntimeError):
    """The Docker engine cannot be reached."""


@dataclass(frozen=True)
class RegistryAccess:
    """How the data plane reaches the emulated ACR, as an endpoint's identity."""

    login_server: str
    ca_cert: str
    # (repository, principal, system-assigned?) → access token
    pull_token: Callable[[str, str, bool], str]
    # (principal, system-assigned?) → docker auth_config
    credentials: Callable[[str, bool], dict[str, str]]
    # The public registries' stand-in (emulator/public_registry.py): pulled anonymously.
    public_login_server: str | None = None
    public_pull_token: Callable[[str], str] | None = None  # repository → anonymous token


@dataclass(frozen=True)
class Puller:
    """Who pulls a deployment's image: its endpoint's identity."""

    principal: str
    system_assigned: bool

    @classmethod
    def of(cls, identity: dict[str, Any]) -> Puller:
        kind = str(identity.get("type", "SystemAssigned"))
        if kind.replace(" ", "").lower() == "userassigned":
            assigned = identity.get("userAssignedIdentities") or {}
            first: dict[str, Any] = next(iter(assigned.values()), {}) if assigned else {}
            return cls(str(first.get("principalId", "")), False)
        return cls(str(identity.get("principalId", "")), True)


_MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


def split_reference(image: str) -> tuple[str, str, str]:
    """registry, repository and tag-or-digest of `registry/repo[:tag][@digest]`."""
    registry, _, rest = image.partition("/")
    if "@" in rest:
        repository, _, reference = rest.partition("@")
        repository = repository.split(":")[0]
    else:
        repository, _, reference = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    return registry, repository, reference


@dataclass(frozen=True)
class _Refusal:
    unauthorized: bool  # the registry refused the identity (else: the image is not there)
    reason: str


@dataclass(frozen=True)
class Route:
    port: int
    path: str


@dataclass(frozen=True)
class Probe:
    initial_delay: float
    period: float
    timeout: float
    success_threshold: int
    failure_threshold: int
    # A starting container is failed no sooner than this many seconds after probing began: the
    # fast profile's cap shortens the delays, not the time a slow machine needs to start one.
    startup_floor: float = 0.0

    @classmethod
    def of(cls, settings: dict[str, Any], cap: float | None) -> Probe:
        def capped(value: float) -> float:
            return min(value, cap) if cap is not None else value

        initial_delay = seconds(str(settings.get("initialDelay", "PT10S")))
        period = seconds(str(settings.get("period", "PT10S")))
        failure_threshold = int(settings.get("failureThreshold", 30))
        azure_budget = initial_delay + failure_threshold * period
        return cls(
            initial_delay=capped(initial_delay),
            period=max(capped(period), 0.05),
            timeout=max(seconds(str(settings.get("timeout", "PT2S"))), 0.05),
            success_threshold=int(settings.get("successThreshold", 1)),
            failure_threshold=failure_threshold,
            startup_floor=min(azure_budget, FAST_STARTUP_FLOOR) if cap is not None else 0.0,
        )


@dataclass
class Instance:
    deployment_id: str
    name: str
    container: Container
    ip: str
    scoring: Route
    liveness: Route
    readiness: Route
    ready: bool = False
    forced_unready: bool = False
    restarts: int = 0
    in_flight: int = 0
    monitor: asyncio.Task[None] | None = None

    def url(self, route: Route) -> str:
        return f"http://{self.ip}:{route.port}{route.path}"


@dataclass
class _Startup:
    ok: bool
    code: str = ""
    message: str = ""


@dataclass
class DockerDataPlane:
    """A Provisioner (see emulator.resources.provisioning) that runs deployments as containers."""

    emulator_id: str
    timing: Callable[[], Timing]
    faults: FaultStore
    launcher: Launcher  # what a deployment's containers run (image, mounts, variables)
    registry: RegistryAccess
    client: docker.DockerClient = field(init=False)
    network_name: str = field(init=False)
    instances: dict[str, list[Instance]] = field(default_factory=dict)
    launches: dict[str, Launch] = field(default_factory=dict)  # by deployment id, for scaling
    http: httpx.AsyncClient = field(init=False)
    subnet: str = field(init=False, default="")
    _generations: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # Containers of a reset being drained and removed in the background (retire_all).
    _retiring: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        try:
            self.client = docker.from_env(timeout=120)
            self.client.ping()
        except docker.errors.DockerException as exc:
            raise DockerMissing(
                f"the Docker engine is not reachable ({exc}); run scripts/ensure-docker.sh "
                "(Debian/Ubuntu, root) or start Docker yourself"
            ) from None
        self.network_name = f"azureml-emulator-{self.emulator_id}"
        self.http = httpx.AsyncClient(trust_env=False)

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._remove_leftovers()
        self._create_network()

    def _remove_leftovers(self) -> None:
        """Containers and networks a previous run of this emulator left (it was killed)."""
        selector = {"label": f"{LABEL}={self.emulator_id}"}
        for container in self.client.containers.list(all=True, filters=selector):
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
        for network in self.client.networks.list(filters=selector):
            with contextlib.suppress(docker.errors.APIError):
                network.remove()

    def _create_network(self) -> None:
        used = set()
        for network in self.client.networks.list():
            for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
                if config.get("Subnet"):
                    used.add(ipaddress.ip_network(config["Subnet"], strict=False))
        for subnet in SUBNETS.subnets(new_prefix=24):
            if any(subnet.overlaps(other) for other in used):
                continue
            try:
                self.client.networks.create(
                    self.network_name,
                    driver="bridge",
                    internal=True,
                    ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet))]),
                    labels={LABEL: self.emulator_id},
                )
            except docker.errors.APIError as exc:
                if "overlap" in str(exc).lower():
                    continue
                raise
            self.subnet = str(subnet)
            return
        raise RuntimeError(f"no free /24 subnet in {SUBNETS} for the emulator's network")

    async def close(self) -> None:
        await self._retired()
        for instances in self.instances.values():
            for instance in instances:
                if instance.monitor is not None:
                    instance.monitor.cancel()
        self.instances.clear()
        await asyncio.to_thread(self._remove_leftovers)
        await self.http.aclose()

    # --- provisioning --------------------------------------------------------------------

    async def provision(self, deployment: Deployment) -> Outcome:
        await self._retired()
        storage_log = deployment.logs["StorageInitializer"]
        try:
            launch = await asyncio.to_thread(
                self.launcher.resolve, deployment.properties, storage_log
            )
        except LaunchFailed as refused:
            storage_log.append(_stamp(refused.message))
            return Outcome(False, refused.code, refused.message)
        image = launch.image
        slow = self.faults.take({"slow_pull"}, "dataplane", "PULL", deployment.id)
        if slow is not None:
            storage_log.append(_stamp(f"Pulling image {image} (slowly)"))
            await asyncio.sleep(slow.delay_seconds)
        storage_log.append(_stamp(f"Pulling image {image}"))
        puller = Puller.of(deployment.endpoint.identity)
        refusal = self._egress_refusal(image, deployment)
        if refusal is None:
            refusal = await self._fetch(image, puller, launch.from_registry)
        if refusal is not None:
            storage_log.append(_stamp(f"Failed to pull image {image}: {refusal.reason}"))
            if refusal.unauthorized:
                return Outcome(
                    False,
                    "ResourceNotFound",
                    f"Container registry is private or otherwise inaccessible: the endpoint's "
                    f"identity (principal {puller.principal}) could not pull '{image}': "
                    f"{refusal.reason}",
                )
            return Outcome(
                False,
                "BadArgument",
                f"Unable to download user container image '{image}': {refusal.reason}",
            )
        storage_log.append(_stamp(f"Pulled image {image}"))

        properties = deployment.properties
        cap = self.timing().probe_cap
        readiness = Probe.of(properties.get("readinessProbe") or {}, cap)
        generation = next(self._generations)
        try:
            started = [
                await asyncio.to_thread(self._run, deployment, launch, f"{generation}-{index}")
                for index in range(deployment.capacity)
            ]
        except docker.errors.DockerException as exc:
            return Outcome(False, "ResourceNotReady", f"could not start a container: {exc}")
        results = await asyncio.gather(*(self._await_ready(i, readiness) for i in started))
        failure = next((result for result in results if not result.ok), None)
        if failure is not None:
            await self._keep_logs(deployment, started)
            await self._remove(started)
            return Outcome(False, failure.code, failure.message)

        previous = self.instances.get(deployment.id, [])
        self.instances[deployment.id] = started
        self.launches[deployment.id] = launch
        for instance in started:
            instance.monitor = asyncio.get_running_loop().create_task(
                self._watch(instance, properties)
            )
        await self._retire(previous)
        return Outcome(True)

    async def scale(self, deployment: Deployment) -> Outcome:
        """Autoscale's change of the instance count: only the instances added start (from the
        image already pulled) and only those removed stop, drained first; the others keep
        serving throughout."""
        launch = self.launches.get(deployment.id)
        current = list(self.instances.get(deployment.id, []))
        if launch is None or not current:
            return await self.provision(deployment)
        if deployment.capacity < len(current):
            kept, removed = current[: deployment.capacity], current[deployment.capacity :]
            self.instances[deployment.id] = kept
            await self._retire(removed)
            return Outcome(True)
        readiness = Probe.of(
            deployment.properties.get("readinessProbe") or {}, self.timing().probe_cap
        )
        generation = next(self._generations)
        try:
            added = [
                await asyncio.to_thread(self._run, deployment, launch, f"{generation}-{index}")
                for index in range(deployment.capacity - len(current))
            ]
        except docker.errors.DockerException as exc:
            return Outcome(False, "ResourceNotReady", f"could not start a container: {exc}")
        results = await asyncio.gather(*(self._await_ready(i, readiness) for i in added))
        failure = next((result for result in results if not result.ok), None)
        if failure is not None:
            await self._remove(added)
            return Outcome(False, failure.code, failure.message)
        for instance in added:
            instance.monitor = asyncio.get_running_loop().create_task(
                self._watch(instance, deployment.properties)
            )
        self.instances[deployment.id] = self.instances.get(deployment.id, []) + added
        return Outcome(True)

    async def _fetch(self, image: str, puller: Puller, from_registry: bool) -> _Refusal | None:
        if not from_registry:
            return await asyncio.to_thread(self._held, image)
        refusal = await self._refusal(image, puller)
        if refusal is None:
            try:
                await asyncio.to_thread(self._pull, image, puller)
            except docker.errors.DockerException as exc:
                refusal = _Refusal(False, _docker_reason(exc))
        return refusal

    def _egress_refusal(self, image: str, deployment: Deployment) -> _Refusal | None:
        """With egress disabled a deployment reaches only the workspace's own registry, through
        the private endpoint made for it, and not MCR ("the download of the model, code, and
        images needed by the deployment are secured with a private endpoint",
        concept-secure-online-endpoint.md, appendix; such a pull fails as an "image download
        error", how-to-troubleshoot-online-endpoints.md, network isolation issues)."""
        egress = str(deployment.properties.get("egressPublicNetworkAccess") or "Enabled")
        registry = split_reference(image)[0]
        if egress.lower() != "disabled" or registry == self.registry.login_server:
            return None
        return _Refusal(
            False,
            f"egress_public_network_access is disabled, so the deployment reaches only the "
            f"workspace's registry {self.registry.login_server}, not {registry}: copy the image "
            "there (az acr import)",
        )

    async def _refusal(self, image: str, puller: Puller) -> _Refusal | None:
        """Why the registry refuses the endpoint's identity this image, asked as a node asks it
        (the engine may hold the image already, but an Azure ML node always goes to the
        registry)."""
        registry, repository, reference = split_reference(image)
        access = self.registry
        if registry == access.public_login_server and access.public_pull_token is not None:
            token = access.public_pull_token(repository)  # anyone's: no identity involved
        elif registry != access.login_server:
            return _Refusal(
                False,
                f"the registry {registry} cannot be reached from the workspace (the emulated "
                f"registries are {access.login_server} and, for public images, "
                f"{access.public_login_server})",
            )
        else:
            token = access.pull_token(repository, puller.principal, puller.system_assigned)
        async with httpx.AsyncClient(verify=self.registry.ca_cert, trust_env=False) as client:
            try:
                response = await client.head(
                    f"https://{registry}/v2/{repository}/manifests/{reference}",
                    headers={"Authorization": f"Bearer {token}", "Accept": _MANIFEST_TYPES},
                    timeout=30,
                )
            except httpx.HTTPError as exc:
                return _Refusal(False, f"the registry did not answer ({type(exc).__name__})")
        if response.status_code in (401, 403):
            return _Refusal(True, "unauthorized: authentication required")
        if response.status_code == 404:
            return _Refusal(
                False, f"manifest unknown: {repository}@{reference} is not in the registry"
            )
        if response.status_code >= 400:
            return _Refusal(False, f"the registry answered HTTP {response.status_code}")
        return None

    def _pull(self, image: str, puller: Puller) -> None:
        if split_reference(image)[0] == self.registry.public_login_server:
            self.client.images.pull(image)  # anonymously, as from Docker Hub
            return
        auth = self.registry.credentials(puller.principal, puller.system_assigned)
        self.client.images.pull(image, auth_config=auth)

    def _held(self, image: str) -> _Refusal | None:
        """An Azure ML public image is the engine's local stand-in; missing, it is not pulled."""
        try:
            self.client.images.get(image)
        except docker.errors.ImageNotFound:
            return _Refusal(False, f"{image} is not in the engine (scripts/inference-images.sh)")
        return None

    def _run(self, deployment: Deployment, launch: Launch, suffix: str) -> Instance:
        endpoint = deployment.endpoint
        name = f"azml-{self.emulator_id}-{endpoint.name}-{deployment.name}-{suffix}"[:120]
        environment = {
            str(k): str(v)
            for k, v in (deployment.properties.get("environmentVariables") or {}).items()
        }
        environment.setdefault("AZUREML_ENDPOINT_NAME", endpoint.name)
        environment.setdefault("AZUREML_DEPLOYMENT_NAME", deployment.name)
        environment.update(launch.environment)  # where Azure put the model and the code
        routes = {kind: Route(port, path) for kind, (port, path) in launch.routes.items()}
        container = self.client.containers.run(
            launch.image,
            name=name,
            detach=True,
            network=self.network_name,
            environment=environment,
            volumes={
                str(mount.source): {"bind": mount.target, "mode": "ro"} for mount in launch.mounts
            },
            labels={
                LABEL: self.emulator_id,
                f"{LABEL}.endpoint": endpoint.name,
                f"{LABEL}.deployment": deployment.name,
            },
        )
        container.reload()
        networks = container.attrs["NetworkSettings"]["Networks"]
        ip = networks[self.network_name]["IPAddress"]
        deployment.logs["StorageInitializer"].append(_stamp(f"Started container {name} ({ip})"))
        return Instance(
            deployment_id=deployment.id,
            name=name,
            container=container,
            ip=ip,
            scoring=routes["scoringRoute"],
            liveness=routes["livenessRoute"],
            readiness=routes["readinessRoute"],
        )

    async def _await_ready(self, instance: Instance, probe: Probe) -> _Startup:
        floor = time.monotonic() + probe.startup_floor
        await asyncio.sleep(probe.initial_delay)
        successes = failures = 0
        last = "no answer yet"
        while True:
            exit_code = await self._exit_code(instance)
            if exit_code is not None:
                if instance.restarts >= CRASH_RESTARTS:
                    return _Startup(
                        False,
                        "ResourceNotReady",
                        f"User container has crashed or terminated: {instance.name} exited with "
                        f"code {exit_code}, {instance.restarts + 1} times in a row (crash loop). "
                        "The container's log (getLogs, InferenceServer) shows why.",
                    )
                instance.restarts += 1
                await asyncio.to_thread(instance.container.restart, timeout=1)
                await asyncio.to_thread(instance.container.reload)
                successes = failures = 0
                await asyncio.sleep(probe.initial_delay)
                continue
            ok, last = await self._probe(instance, instance.readiness, probe.timeout)
            if ok:
                successes, failures = successes + 1, 0
                if successes >= probe.success_threshold:
                    instance.ready = True
                    return _Startup(True)
            else:
                successes, failures = 0, failures + 1
                if failures >= probe.failure_threshold and time.monotonic() >= floor:
                    route = instance.readiness
                    error = await asyncio.to_thread(_last_error, instance.container)
                    hint = not_ready_hint(last, error, probe)
                    return _Startup(
                        False,
                        "ResourceNotReady",
                        f"Readiness probe failed: GET {route.path} on port {route.port} failed "
                        f"{failures} times in a row (last: {last}). {hint}",
                    )
            await asyncio.sleep(probe.period)

    async def _exit_code(self, instance: Instance) -> int | None:
        try:
            await asyncio.to_thread(instance.container.reload)
        except docker.errors.NotFound:
            return -1
        state = instance.container.attrs.get("State", {})
        if state.get("Status") in ("exited", "dead"):
            return int(state.get("ExitCode", -1))
        return None

    async def _probe(self, instance: Instance, route: Route, timeout: float) -> tuple[bool, str]:
        try:
            response = await self.http.get(instance.url(route), timeout=timeout)
        except httpx.TimeoutException:
            return False, f"no answer within {timeout:g} s"
        except httpx.HTTPError as exc:
            return False, f"{type(exc).__name__}: connection failed"
        if 200 <= response.status_code < 400:
            return True, f"HTTP {response.status_code}"
        return False, f"HTTP {response.status_code}"

    async def _watch(self, instance: Instance, properties: dict[str, Any]) -> None:
        """After provisioning: readiness takes instances in and out of rotation; a failing
        liveness probe or an exited container restarts the container."""
        cap = self.timing().probe_cap
        readiness = Probe.of(properties.get("readinessProbe") or {}, cap)
        liveness = Probe.of(properties.get("livenessProbe") or {}, cap)
        period = min(readiness.period, liveness.period)
        ready_streak = unready_streak = dead_streak = 0
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                await asyncio.sleep(period)
                if await self._exit_code(instance) is not None:
                    instance.ready = False
                    instance.restarts += 1
                    log.info("restarting exited container %s", instance.name)
                    with contextlib.suppress(docker.errors.DockerException):
                        await asyncio.to_thread(instance.container.restart, timeout=1)
                    await asyncio.sleep(readiness.initial_delay)
                    continue
                ok, _ = await self._probe(instance, instance.readiness, readiness.timeout)
                ready_streak, unready_streak = (
                    (ready_streak + 1, 0) if ok else (0, unready_streak + 1)
                )
                if ready_streak >= readiness.success_threshold:
                    instance.ready = not instance.forced_unready
                if unready_streak >= readiness.failure_threshold:
                    instance.ready = False
                alive, _ = await self._probe(instance, instance.liveness, liveness.timeout)
                dead_streak = 0 if alive else dead_streak + 1
                if dead_streak >= liveness.failure_threshold:
                    instance.ready = False
                    instance.restarts += 1
                    dead_streak = 0
                    with contextlib.suppress(docker.errors.DockerException):
                        await asyncio.to_thread(instance.container.restart, timeout=1)
                    await asyncio.sleep(liveness.initial_delay)

    async def _retire(self, instances: list[Instance]) -> None:
        for instance in instances:
            instance.ready = False  # out of rotation first
        for _ in range(50):  # let requests in flight finish (up to 5 s)
            if all(instance.in_flight == 0 for instance in instances):
                break
            await asyncio.sleep(0.1)
        await self._remove(instances)

    async def _remove(self, instances: list[Instance]) -> None:
        for instance in instances:
            if instance.monitor is not None:
                instance.monitor.cancel()
            with contextlib.suppress(docker.errors.DockerException):
                await asyncio.to_thread(instance.container.remove, force=True)

    async def _keep_logs(self, deployment: Deployment, instances: list[Instance]) -> None:
        lines: list[str] = []
        for instance in instances:
            with contextlib.suppress(docker.errors.DockerException):
                raw = await asyncio.to_thread(instance.container.logs, tail=200)
                lines.extend(raw.decode("utf-8", errors="replace").splitlines())
        deployment.logs["InferenceServer"] = lines

    async def deprovision(self, deployment: Deployment) -> None:
        # Out of rotation first, then let requests in flight finish, as Azure drains a node.
        self.launches.pop(deployment.id, None)
        await self._retire(self.instances.pop(deployment.id, []))

    def retire_all(self) -> None:
        """Every instance out of rotation now; draining and removing their containers goes on
        in the background, so that a reset answers at once. Provisioning waits for it first:
        containers are then only ever those of deployments that exist (tests count them)."""
        instances = [instance for group in self.instances.values() for instance in group]
        self.instances.clear()
        self.launches.clear()
        for instance in instances:
            instance.ready = False
        task = asyncio.create_task(self._retire(instances))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _retired(self) -> None:
        """Returns once the containers of earlier resets are gone."""
        while self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    # --- for the gateway and getLogs -----------------------------------------------------

    def ready_instances(self, deployment_id: str) -> list[Instance]:
        return [
            i for i in self.instances.get(deployment_id, []) if i.ready and not i.forced_unready
        ]

    def all_instances(self, deployment_id: str) -> list[Instance]:
        return list(self.instances.get(deployment_id, []))

    async def logs(
        self, deployment: Deployment, container_type: str, tail: int | None
    ) -> list[str]:
        if container_type == "InferenceServer":
            running = self.instances.get(deployment.id, [])
            if running:
                raw = await asyncio.to_thread(
                    running[0].container.logs, tail=tail if tail else "all"
                )
                return str(raw.decode("utf-8", errors="replace")).splitlines()
        lines = deployment.logs.get(container_type, [])
        return lines[-tail:] if tail else lines

    async def restart(self, deployment_id: str) -> int:
        """Restart every instance of a deployment (an admin action, like a node repair)."""
        instances = self.instances.get(deployment_id, [])
        for instance in instances:
            instance.ready = False
            instance.restarts += 1
            with contextlib.suppress(docker.errors.DockerException):
                await asyncio.to_thread(instance.container.restart, timeout=1)
        return len(instances)


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b: ?.*$")


def not_ready_hint(last: str, error: LoggedError | None, probe: Probe) -> str:
    """What to look at when readiness never came. An exception raised through the scoring
    script (its init(), as Azure ML's troubleshooting guide lists for ResourceNotReady) is the
    cause. Otherwise a probe that timed out reached a server still starting (or hung): an error
    its log holds may be one it logged and survived (the inference server logs some at start),
    so it is quoted as a lead, not as the cause."""
    if error is not None and error.from_script:
        return (
            f"The scoring script raised: {error.line} (getLogs, InferenceServer, shows the "
            "traceback)."
        )
    if last.startswith("no answer within"):
        budget = max(
            probe.initial_delay
            + probe.failure_threshold * probe.timeout
            + (probe.failure_threshold - 1) * probe.period,
            probe.startup_floor,
        )
        lead = (
            f" The last error its log holds, which may be unrelated: {error.line} (getLogs, "
            "InferenceServer)."
            if error is not None
            else ""
        )
        return (
            "The container accepted connections but did not answer in time: it was still "
            f"starting or it hung. The probe allowed about {budget:g} s; a server that loads "
            "its model for longer needs a larger readiness_probe.initial_delay or "
            f"failure_threshold.{lead}"
        )
    if error is not None:
        return (
            f"The container's log ends in an error: {error.line} (getLogs, InferenceServer, "
            "shows the traceback)."
        )
    return (
        "The container is running but never became ready; check "
        "inference_config.readiness_route against what the server serves."
    )


@dataclass(frozen=True)
class LoggedError:
    line: str  # the exception, e.g. "RuntimeError: the model file is corrupt"
    from_script: bool  # its traceback passes through the deployment's code folder


# Where Azure ML's inference images keep the deployment's code, and a no-code MLflow
# deployment's generated scoring script.
SCRIPT_FOLDERS = ("/var/azureml-app/", "/var/mlflow_resources/")


def last_error(text: str) -> LoggedError | None:
    """The exception of the last Python traceback in a container's log, preferring one raised
    through the scoring script over one the server logged on its own."""
    found: list[LoggedError] = []
    frames: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        # the inference server logs "<time> E [pid] azmlinfsrv - Encountered Exception
        # Traceback (most recent call last):" on one line
        if "Traceback (most recent call last)" in line:
            frames = []
        elif frames is not None and line.startswith('File "'):
            frames.append(line)
        elif frames is not None and _EXCEPTION_LINE.match(line):
            script = any(folder in frame for frame in frames for folder in SCRIPT_FOLDERS)
            found.append(LoggedError(line[:300], script))
            frames = None
    # The server wraps what the script raised ("The above exception was the direct cause"):
    # the script's own exception says more.
    own = [error for error in found if "UserScriptException" not in error.line]
    for candidates in ([e for e in own if e.from_script], own, found):
        if candidates:
            return candidates[-1]
    return None


def _last_error(container: Container) -> LoggedError | None:
    try:
        text = container.logs(tail=300).decode(errors="replace")
    except docker.errors.DockerException:
        return None
    return last_error(text)


def _docker_reason(exc: docker.errors.DockerException) -> str:
    explanation = getattr(exc, "explanation", None)
    return (
        str(explanation or exc).strip().splitlines()[0]
        if str(explanation or exc)
        else type(exc).__name__
    )


def _stamp(message: str) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{now} {message}"


__all__ = ["NULL_GUID", "DockerDataPlane", "DockerMissing", "Instance"]
