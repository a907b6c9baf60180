"""With `egress_public_network_access: disabled` a deployment downloads its model, code and
image only through the private endpoints Azure ML makes to the workspace, its storage and its
own container registry (concept-secure-online-endpoint.md, appendix; "access from the
deployments to Microsoft Container Registry (MCR) is restricted", how-to-secure-online-
endpoint.md), so any other registry fails the deployment with an image download error. What
the deployment pulls as it is (a custom container, an environment's image without a conda file
or build context) is checked here, before anything changes; an image Azure ML builds goes to
the workspace's registry."""

from __future__ import annotations

from deployer.azure.pull import PullAccess
from deployer.errors import UsageError
from deployer.image.reference import parse_image
from deployer.session import Session
from deployer.spec.model import EnvironmentSpec


def check_egress_pull(session: Session, registry: str, what: str) -> None:
    """Refuse `what` (an image in `registry`, a login server) where the deployment cannot
    reach that registry."""
    if session.spec.deployment.egress_public_network_access != "disabled":
        return
    cloud = session.cloud
    facts = None
    if cloud.is_container_registry(registry):
        facts = session.azure.workspace_registry()
        access = PullAccess(registry, facts, session.spec.endpoint.identity)
        if access.from_workspace_registry:
            return
    where = facts.login_server or facts.name if facts is not None else None
    into = f"the workspace's registry {where}" if where else "the workspace's registry"
    raise UsageError(
        f"{what} is in {registry}, but the deployment's egress_public_network_access is "
        "disabled: it can pull only from the workspace's own registry, through its private "
        "endpoint (not from MCR, a public registry or another Azure Container Registry)",
        hint=f"copy the image into {into} (az acr import --source {registry}/…) and name that "
        "copy, or set egress_public_network_access: enabled",
    )


def check_environment_image(session: Session, image: str, what: str) -> None:
    """An environment's image, pulled as it is, named as the environment names it."""
    registry = parse_image(image).registry
    if session.cloud.is_container_registry(registry):
        registry = session.cloud.registry_for(registry)
    check_egress_pull(session, registry, f"{what} {image}")


def pulled_as_is(environment: EnvironmentSpec | None) -> str | None:
    """The image of an environment Azure ML runs unchanged (no conda file, no build)."""
    if environment is None or environment.image is None:
        return None
    if environment.conda_file is not None or environment.build_context is not None:
        return None
    return environment.image
