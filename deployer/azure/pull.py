"""Who pulls a deployment's image, and what to grant when the pull fails.

A deployment pulls with its ENDPOINT's identity ("An online deployment runs your user container
with the endpoint identity", concept-endpoints-online-auth.md). A system-assigned identity is a
new principal for every endpoint, granted pull automatically only on the workspace's own
registry; for any other registry, "Grant your private registry's acrPull role to the system
identity of your online endpoint" (how-to-troubleshoot-online-endpoints.md). A failed pull
reports `BadArgument` ("Unable to download user container image") or `ResourceNotFound`
("Container registry is private or otherwise inaccessible"), the codes that page documents.
"""

from __future__ import annotations

from dataclasses import dataclass

from deployer.spec.model import EndpointIdentity, IdentityType

READER_ROLE = "Container Registry Repository Reader"


@dataclass(frozen=True)
class RegistryFacts:
    """The workspace's registry, from the workspace and (where readable) its ARM resource."""

    id: str  # ARM id
    login_server: str | None = None  # None: its ARM resource could not be read
    abac: bool | None = None  # roleAssignmentMode == AbacRepositoryPermissions; None: unknown

    @property
    def name(self) -> str:
        return self.id.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class PullAccess:
    image_registry: str  # the login server the image is in
    workspace_registry: RegistryFacts | None
    identity: EndpointIdentity

    @property
    def from_workspace_registry(self) -> bool | None:
        """Whether the image is in the workspace's registry; None: cannot tell."""
        facts = self.workspace_registry
        if facts is None:
            return None
        server = self.image_registry.lower()
        if facts.login_server:
            return server == facts.login_server.lower()
        return registry_name(server) == facts.name.lower()

    @property
    def registry_abac(self) -> bool | None:
        """The image registry's ABAC mode, where known (it is the workspace's registry)."""
        facts = self.workspace_registry
        return facts.abac if facts is not None and self.from_workspace_registry else None

    @property
    def _abac(self) -> bool | None:
        return self.registry_abac

    def _registry_scope(self) -> str:
        facts = self.workspace_registry
        if facts is not None and self.from_workspace_registry:
            return facts.id
        return f"$(az acr show --name {registry_name(self.image_registry)} --query id --output tsv)"

    def _role(self) -> str:
        abac = self._abac
        if abac is None:
            return f"AcrPull (in an ABAC-mode registry: '{READER_ROLE}')"
        return f"'{READER_ROLE}'" if abac else "AcrPull"

    def warning(self) -> str | None:
        """Why a new endpoint's deployment would fail to pull, before anything is built."""
        if self.identity.type is not IdentityType.SYSTEM_ASSIGNED:
            return None
        if self.from_workspace_registry is not False:
            return None
        assert self.workspace_registry is not None
        return (
            f"the image is in {self.image_registry}, not in the workspace's registry "
            f"{self.workspace_registry.name}; the endpoint's system-assigned identity (a new "
            "principal for every new endpoint, every preview) can pull only from the workspace's "
            f"registry unless it is granted {self._role()} on {self.image_registry}: set "
            "endpoint.identity to a user-assigned identity that holds that role, or push to the "
            "workspace's registry"
        )

    def hint(self, principal: str | None) -> str:
        """The exact grant that lets the endpoint's identity pull."""
        abac = self._abac
        roles = (
            [READER_ROLE] if abac else ["AcrPull"] if abac is False else ["AcrPull", READER_ROLE]
        )
        who = principal or "<the endpoint's identity.principal_id>"
        if self.identity.type is IdentityType.USER_ASSIGNED:
            subject = f"the endpoint's user-assigned identity {self.identity.resource_id}"
        else:
            subject = f"the endpoint's system-assigned identity (principal {who})"
        commands = " ; or, in an ABAC-mode registry: ".join(
            f"az role assignment create --assignee-object-id {who} --assignee-principal-type "
            f"ServicePrincipal --role {_quoted(role)} --scope {self._registry_scope()}"
            for role in roles
        )
        return (
            f"the deployment pulls with {subject}; grant it pull on the image's registry and "
            f"check that the image exists: {commands}"
        )


def _quoted(role: str) -> str:
    return f"'{role}'" if " " in role else role


def registry_name(login_server: str) -> str:
    """The registry's name in its login server: `name.azurecr.io`, or `name-<hash>.azurecr.io`
    with a domain name label scope. Registry names are letters and digits only (the ARM
    resource's name pattern `^[a-zA-Z0-9]*$`), so a '-' starts the hash (azure-cli's acr
    module allows dashes in login servers for exactly this)."""
    return login_server.lower().split(".", 1)[0].split("-", 1)[0]
