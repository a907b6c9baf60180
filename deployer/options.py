"""The options of every command, frozen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from deployer.github.oidc import TOKEN_EXCHANGE_AUDIENCE


@dataclass(frozen=True)
class Options:
    """What the command line (or the action's inputs) asked for, resolved once from the
    arguments and the one environment (cli.py): an Azure value the command line leaves out is
    its environment variable's, and None only when neither names it (--cloud local then fills
    it in from the emulator). `dataclasses.replace` to vary."""

    config: str = "deploy.yml"
    endpoint_file: str | None = None  # an az ml endpoint file, as the deploy file's endpoint
    deployment_file: str | None = None  # an az ml deployment file, as its deployment
    root: Path = Path()  # the workspace the deploy file's paths stay in (context.workspace_root)
    environment: str | None = None
    subscription_id: str | None = None
    resource_group: str | None = None
    workspace: str | None = None
    cloud: str = "AzureCloud"
    image_tag: str | None = None
    image: str | None = None  # a prebuilt image (tag or digest) to deploy instead of building
    client_id: str | None = None
    tenant_id: str | None = None
    audience: str = TOKEN_EXCHANGE_AUDIENCE
    output_json: Path | None = None
    pr: int | None = None
    build_args: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    build_network: str | None = None
    summary: bool = True
    dry_run: bool = False
    wait: bool = True  # for another run holding the endpoint's lease; False: fail at once
