"""What every Azure-facing command sets up, in this order: the deploy file (validated before
anything touches the network), where we run, which cloud, the sign-in and the workspace."""

from __future__ import annotations

import dataclasses
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import FrameType

from deployer.auth import SignIn, SignInSettings, sign_in
from deployer.azure.client import AzureML
from deployer.cloud import Cloud, select_cloud
from deployer.context import RunContext, detect
from deployer.errors import NameTemplateError, UsageError
from deployer.github.runner import Runner
from deployer.options import Options
from deployer.policy import check_pull_request_known
from deployer.sdk import configure_sdk
from deployer.spec import DeploySpec, load_deploy_spec
from deployer.spec.azml_files import GivenFiles
from deployer.tags import LOCAL_REPOSITORY, Owner, endpoint_tags


@dataclass
class Session:
    options: Options
    runner: Runner
    spec: DeploySpec
    context: RunContext
    cloud: Cloud
    environ: Mapping[str, str]
    endpoint_override: str | None = None  # cleanup, acting on endpoints other than its own
    smoke_from_runner: bool = True  # False: no smoke test this run (deployer/reach.py)

    @property
    def sends_smoke_test(self) -> bool:
        return self.spec.smoke_test is not None and self.smoke_from_runner

    @cached_property
    def sign_in(self) -> SignIn:
        settings = SignInSettings(
            tenant_id=self.options.tenant_id,
            client_id=self.options.client_id,
            audience=self.options.audience,
        )
        return sign_in(self.cloud, settings, self.runner)

    @cached_property
    def azure(self) -> AzureML:
        subscription, group, workspace = self._workspace_coordinates()
        return AzureML(self.cloud, self.sign_in, subscription, group, workspace)

    @cached_property
    def endpoint_name(self) -> str:
        if self.endpoint_override is not None:
            return self.endpoint_override
        try:
            return self.spec.endpoint.render_name(self.context.name_values())
        except NameTemplateError as exc:
            raise UsageError(
                f"endpoint.name '{self.spec.endpoint.name_template}' {exc}",
                hint="use this environment on the events it is meant for (a {pr} template on "
                "pull_request events, {tag} on tag pushes), or pass --pr locally",
            ) from exc

    @property
    def environment_name(self) -> str:
        return self.spec.environment or "default"

    def _workspace_coordinates(self) -> tuple[str, str, str]:
        subscription, group, workspace = self.cloud.workspace_defaults()
        values = {
            "subscription-id": self.options.subscription_id or subscription,
            "resource-group": self.options.resource_group or group,
            "workspace": self.options.workspace or workspace,
        }
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise UsageError(
                f"the Azure ML workspace is not named: missing {', '.join(missing)}",
                hint="pass --subscription-id, --resource-group and --workspace (the action's "
                "inputs of the same names), or set AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP "
                "and AZUREML_WORKSPACE",
            )
        return (
            str(values["subscription-id"]),
            str(values["resource-group"]),
            str(values["workspace"]),
        )

    @cached_property
    def owner(self) -> Owner:
        """This run as the owner of what it creates: its repository (or `local`), environment,
        pull request and commit."""
        return Owner(
            repository=self.context.repository or LOCAL_REPOSITORY,
            environment=self.environment_name,
            pr=self.context.pr_number,
            git_sha=self.context.sha or None,
        )

    def endpoint_tags(self) -> dict[str, str]:
        """Tags on endpoints this action creates: they drive delete, cleanup and the policy."""
        return endpoint_tags(self.owner, self.spec.endpoint.tags)


def replace_endpoint(session: Session, name: str) -> Session:
    """The same session — its sign-in and workspace client — aimed at endpoint `name`."""
    other = dataclasses.replace(session, endpoint_override=name)
    for cached in ("sign_in", "azure", "owner"):
        if cached in session.__dict__:
            other.__dict__[cached] = session.__dict__[cached]
    return other


def open_session(options: Options, runner: Runner, environ: Mapping[str, str]) -> Session:
    path = Path(options.config)
    given = GivenFiles.of(options.endpoint_file, options.deployment_file)
    spec = load_deploy_spec(path, options.environment, workspace=options.root, given=given)
    context = detect(environ, Path.cwd(), options.pr)
    check_pull_request_known(context)
    cloud = select_cloud(options.cloud, environ)
    configure_sdk(cloud)
    return Session(options, runner, spec, context, cloud, environ)


def cancellation() -> threading.Event:
    """Set when the workflow is cancelled (SIGTERM, or SIGINT); a second SIGINT interrupts."""
    event = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        if event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        event.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
    return event
