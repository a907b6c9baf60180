"""What happens when a deployment is provisioned. The control plane only decides when and in
which state; a provisioner does the work (nothing here; real containers in the data plane)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from emulator.resources.model import Deployment


@dataclass(frozen=True)
class Outcome:
    ok: bool
    code: str = ""
    message: str = ""


class Provisioner(Protocol):
    async def provision(self, deployment: Deployment) -> Outcome: ...

    async def deprovision(self, deployment: Deployment) -> None: ...

    def retire_all(self) -> None:
        """Every deployment out of service at once (the emulator's reset), without waiting on
        what that takes: the next provisioning does."""
        ...

    async def scale(self, deployment: Deployment) -> Outcome:
        """To `deployment.capacity` instances, starting or stopping only the difference."""
        ...

    async def logs(
        self, deployment: Deployment, container_type: str, tail: int | None
    ) -> list[str]: ...

    async def close(self) -> None: ...


class NoContainers:
    """Provisioning completes without running anything (a control-plane-only emulator)."""

    async def provision(self, deployment: Deployment) -> Outcome:
        deployment.logs["StorageInitializer"].append(
            f"no container runtime: {deployment.properties.get('environmentId', '')} not pulled"
        )
        deployment.logs["InferenceServer"].append(
            "no container runtime in this emulator: the deployment runs nothing"
        )
        return Outcome(ok=True)

    async def deprovision(self, deployment: Deployment) -> None:
        return None

    def retire_all(self) -> None:
        return None

    async def scale(self, deployment: Deployment) -> Outcome:
        return Outcome(ok=True)

    async def logs(
        self, deployment: Deployment, container_type: str, tail: int | None
    ) -> list[str]:
        lines = deployment.logs.get(container_type, [])
        return lines[-tail:] if tail else lines

    async def close(self) -> None:
        return None
