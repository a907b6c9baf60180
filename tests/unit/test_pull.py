"""Who pulls the image: the warning before anything is built, the grant after a failed pull."""

from __future__ import annotations

from deployer.auth import other_subject_format
from deployer.azure.pull import PullAccess, RegistryFacts
from deployer.spec.model import EndpointIdentity, IdentityType

WORKSPACE_REGISTRY = (
    "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/contosoml"
)
UAI = (
    "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u"
)


def access(server: str, identity: EndpointIdentity | None = None, **facts: object) -> PullAccess:
    registry = RegistryFacts(WORKSPACE_REGISTRY, **facts)  # type: ignore[arg-type]
    return PullAccess(server, registry, identity or EndpointIdentity())


def test_the_workspaces_own_registry_needs_no_grant() -> None:
    assert access("contosoml.azurecr.io").warning() is None
    assert access("contosoml-e2b4cfgxdtf8h3bc.azurecr.io").warning() is None  # a hashed label
    assert access("127.0.0.1:5000", login_server="127.0.0.1:5000").warning() is None


def test_another_registry_with_a_system_assigned_identity_is_warned_about() -> None:
    warning = access("shared.azurecr.io").warning()
    assert warning is not None and "not in the workspace's registry contosoml" in warning
    user_assigned = EndpointIdentity(IdentityType.USER_ASSIGNED, UAI)
    assert access("shared.azurecr.io", user_assigned).warning() is None


def test_the_hint_is_the_exact_grant_for_the_principal() -> None:
    hint = access("contosoml.azurecr.io", abac=False, login_server="contosoml.azurecr.io").hint(
        "p-1"
    )
    assert (
        "az role assignment create --assignee-object-id p-1 --assignee-principal-type "
        f"ServicePrincipal --role AcrPull --scope {WORKSPACE_REGISTRY}"
    ) in hint
    other = access("shared.azurecr.io").hint("p-1")
    assert "--scope $(az acr show --name shared --query id --output tsv)" in other
    assert "'Container Registry Repository Reader'" in other  # the mode is not known


def test_an_abac_registry_gets_the_repository_role() -> None:
    hint = access("contosoml.azurecr.io", abac=True).hint("p-1")
    assert "--role 'Container Registry Repository Reader'" in hint
    assert "AcrPull" not in hint


def test_both_subject_formats() -> None:
    claims = {"repository": "o/r", "repository_owner_id": "1", "repository_id": "2"}
    assert other_subject_format("repo:o/r:pull_request", claims) == "repo:o@1/r@2:pull_request"
    assert other_subject_format("repo:o@1/r@2:ref:refs/heads/main", {}) == (
        "repo:o/r:ref:refs/heads/main"
    )
    assert other_subject_format("repo:o/r:pull_request", {}) is None


def test_the_arm_token_goes_only_to_a_registry_path_under_arm() -> None:
    """A workspace answer naming something else than a registry's ARM id is not fetched: the
    bearer token would go wherever the URL points (`https://management…@elsewhere/…`)."""
    from deployer.auth import SignIn
    from deployer.azure.registry_resource import read_registry
    from deployer.cloud import PUBLIC

    class NoToken:
        def get_token(self, *scopes: str, **kwargs: object) -> object:
            raise AssertionError("a token was asked for")

    sign_in = SignIn(NoToken(), "test")  # type: ignore[arg-type]
    facts = read_registry(PUBLIC["AzureCloud"], sign_in, "@elsewhere.example/registries/x")
    assert facts.login_server is None and facts.abac is None
