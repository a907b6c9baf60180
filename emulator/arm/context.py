"""What every ARM handler works with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from emulator.resources.model import Workspace
from emulator.resources.operations import OperationEngine
from emulator.resources.provisioning import Provisioner
from emulator.resources.store import Store
from emulator.timing import Timing
from emulator.tokens import SigningKey


@dataclass
class ArmContext:
    store: Store
    engine: OperationEngine
    provisioner: Provisioner
    timing: Callable[[], Timing]
    arm_url: str
    scoring_base: str  # the scoring gateway's base URL
    tenant_id: str
    scoring_key: SigningKey  # signs aml_token scoring tokens (getToken)
    # The container registries' ARM resources, by lower-cased ARM id.
    registries: Callable[[], dict[str, dict[str, Any]]] = field(default=lambda: {})
    # `<region>.inference.localhost` where such hosts resolve here (emulator/scoring_hosts.py);
    # None: path-style scoring URIs.
    scoring_host_suffix: str | None = None
    storage_port: int | None = None  # Azurite's (emulator/storage.py)

    def resource_url(self, resource_id: str, request: Request) -> str:
        api_version = request.query_params.get("api-version", "")
        return f"{self.arm_url}{resource_id}?api-version={api_version}"


@dataclass(frozen=True)
class Scope:
    """The resolved part of the request path."""

    workspace: Workspace
    params: dict[str, str]
    api_version: str
