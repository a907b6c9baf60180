"""Who exists in the emulated tenant: the tenant, the app registration and its federated
credentials, the subscription, resource group and workspace. Kept across restarts."""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

GITHUB_REPOSITORY = "octo-org/octo-repo"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"  # noqa: S105 - an audience
DEFAULT_SUBJECTS = (
    f"repo:{GITHUB_REPOSITORY}:pull_request",
    f"repo:{GITHUB_REPOSITORY}:environment:production",
    f"repo:{GITHUB_REPOSITORY}:environment:preview",
    f"repo:{GITHUB_REPOSITORY}:ref:refs/heads/main",
)


@dataclass
class Identity:
    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    service_principal_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    subscription_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    resource_group: str = "rg-azureml-deploy"
    workspace: str = "mlw-local"
    workspace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    location: str = "eastus"
    registry_name: str = "contosoml"

    @classmethod
    def load_or_create(cls, path: Path) -> Identity:
        if path.exists():
            return cls(**json.loads(path.read_text("utf-8")))
        identity = cls()
        path.write_text(json.dumps(asdict(identity), indent=2), "utf-8")
        path.chmod(0o600)
        return identity


@dataclass
class FederatedCredential:
    issuer: str
    subject: str
    audience: str = TOKEN_EXCHANGE_AUDIENCE
