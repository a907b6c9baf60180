"""Who pulls the image, how the registry is signed in to, and which subject GitHub presents:
as real Azure and GitHub do it (issue 14, audit items 1, 2, 3, 5, 7)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import App

UAI = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/ml/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/endpoint-puller"
)


def with_identity(app: App, identity: str) -> None:
    deploy_file = app.root / "server" / "deploy.yml"
    text = deploy_file.read_text()
    deploy_file.write_text(text.replace("endpoint: {name: models}", f"endpoint: {identity}", 1))
    app.commit(f"identity {identity}")


def principal_of(app: App, name: str) -> str:
    endpoint = app.endpoint(name)
    assert endpoint is not None
    identity = endpoint["identity"]
    assigned = identity.get("userAssignedIdentities") or {}
    if assigned:
        return str(next(iter(assigned.values()))["principalId"])
    return str(identity["principalId"])


def test_a_system_assigned_endpoint_pulls_from_another_registry_only_once_granted(
    app: App,
) -> None:
    """Items 1, 3, 7: the endpoint's identity pulls; another registry refuses it with Azure's
    ResourceNotFound, and the hint is the exact grant for that endpoint's principal."""
    app.emulator.admin("POST", "/acr", {"workspace_registry": False})
    plan = app.run("plan")
    assert plan.returncode == 0, plan.stderr
    assert "not in the workspace's registry contosomlws" in plan.stderr
    assert "system-assigned identity (a new principal for every new endpoint" in plan.stderr

    failed = app.deploy()
    assert failed.returncode == 1
    principal = principal_of(app, "models")
    assert "Container registry is private or otherwise inaccessible" in failed.stderr
    assert "ImagePullFailure" not in failed.stderr
    assert "(StorageInitializer, last 100 lines)" in failed.stderr
    assert (
        f"az role assignment create --assignee-object-id {principal} "
        "--assignee-principal-type ServicePrincipal --role AcrPull --scope"
    ) in failed.stderr

    app.emulator.admin("POST", "/acr", {"grants": [{"principal": principal, "role": "AcrPull"}]})
    assert app.deploy().returncode == 0
    # The endpoint's principal now holds the role: no more warning for it.
    again = app.run("plan")
    assert again.returncode == 0, again.stderr
    assert "not in the workspace's registry" not in again.stderr


def test_a_user_assigned_identity_pulls_as_granted(app: App) -> None:
    """Item 1: `endpoint.identity: user_assigned` creates the endpoint with that identity
    (through the SDK's IdentityConfiguration), which pulls only once it holds a role."""
    with_identity(app, f"{{name: models, identity: {{type: user_assigned, resource_id: {UAI}}}}}")
    failed = app.deploy()
    assert failed.returncode == 1
    endpoint = app.endpoint("models")
    assert endpoint is not None and endpoint["identity"]["type"] == "UserAssigned"
    assert list(endpoint["identity"]["userAssignedIdentities"]) == [UAI]
    assert f"the endpoint's user-assigned identity {UAI}" in failed.stderr

    principal = principal_of(app, "models")
    app.emulator.admin("POST", "/acr", {"grants": [{"principal": principal, "role": "AcrPull"}]})
    assert app.deploy().returncode == 0


def test_changing_the_identity_of_an_existing_endpoint_is_refused_before_anything_changes(
    app: App,
) -> None:
    """Item 1: Azure keeps an endpoint's identity; the plan says so instead of trying."""
    assert app.deploy().returncode == 0
    before = app.endpoint("models")
    with_identity(app, f"{{name: models, identity: {{type: user_assigned, resource_id: {UAI}}}}}")
    result = app.deploy()
    assert result.returncode != 0
    assert "endpoint.identity: the endpoint runs with a system-assigned identity" in result.stderr
    after = app.endpoint("models")
    assert before is not None and after is not None
    assert after["identity"] == before["identity"]


def test_the_registry_is_signed_in_to_with_the_registry_audience(app: App) -> None:
    """Item 2: a registry that refuses ARM-audience tokens (the built-in policy) still takes
    the push: the sign-in asks Entra for https://containerregistry.azure.net."""
    app.emulator.admin("POST", "/acr", {"arm_audience_disabled": True})
    result = app.deploy()
    assert result.returncode == 0, result.stderr


def test_an_abac_registry_ignores_acrpush_and_the_hint_names_the_repository_role(
    app: App,
) -> None:
    """Item 3: in ABAC mode (roleAssignmentMode AbacRepositoryPermissions on the registry's ARM
    resource) AcrPush is not honoured; the hint names Container Registry Repository Writer."""
    app.emulator.admin("POST", "/acr", {"abac": True})
    failed = app.deploy()
    assert failed.returncode == 1
    assert "Container Registry Repository Writer" in failed.stderr
    assert "AcrPush" not in failed.stderr.split("hint:")[-1]
    roles = app.emulator.admin("GET", "/acr")["roles"]
    (app_principal,) = roles  # the app registration, holding AcrPush
    assert roles[app_principal] == ["AcrPush"]
    app.emulator.admin(
        "POST",
        "/acr",
        {"grants": [{"principal": app_principal, "role": "Container Registry Repository Writer"}]},
    )
    assert app.deploy().returncode == 0


def test_an_immutable_subject_is_shown_with_its_name_based_twin(app: App, tmp_path: Path) -> None:
    """Item 5: a repository created after 2026-07-15 presents repo:OWNER@ID/REPO@ID:…; the
    AADSTS70021 hint prints what was presented and the other format."""
    app.emulator.admin("POST", "/github", {"repository_created": "2026-08-01"})
    app.emulator.github_job({"environment": "staging"})
    result = app.deploy()
    assert result.returncode == 1
    assert "AADSTS70021" in result.stderr
    assert "subject 'repo:octo-org@9919/octo-repo@632596897:environment:staging'" in (result.stderr)
    assert "'repo:octo-org/octo-repo:environment:staging'" in result.stderr
    assert app.endpoint("models") is None


def test_a_federated_credential_for_the_immutable_subject_signs_in(app: App) -> None:
    """Item 5: Entra matches the immutable subject like any other, exactly."""
    subject = "repo:octo-org@9919/octo-repo@632596897:environment:production"
    app.emulator.admin("POST", "/github", {"immutable_subject": True})
    app.emulator.admin("POST", "/entra", {"federated_credentials": [{"subject": subject}]})
    app.emulator.github_job({"environment": "production"})
    result = app.run("plan", "--environment", "production")
    assert result.returncode == 0, result.stderr
