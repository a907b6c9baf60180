"""ACR's token flow in front of a real distribution registry, with the real Docker engine."""

from __future__ import annotations

import docker
import jwt
import pytest
import requests

from emulator.client import Emulator
from tools.images import model_server_image

NULL_GUID = "00000000-0000-0000-0000-000000000000"


def test_the_registry_challenges_with_acrs_realm(emulator: Emulator) -> None:
    response = requests.get(
        f"https://{emulator['registry']}/v2/", verify=emulator["ca_bundle"], timeout=30
    )
    assert response.status_code == 401
    challenge = response.headers["Www-Authenticate"]
    assert challenge == (
        f'Bearer realm="{emulator["acr_url"]}/oauth2/token",service="{emulator["registry"]}"'
    )


def test_push_and_pull_through_the_token_flow(emulator: Emulator) -> None:
    reference = emulator.push(model_server_image(), "flow/probe", tag="v1")
    assert reference.startswith(f"{emulator['registry']}/flow/probe@sha256:")
    client = docker.from_env()
    client.images.remove(f"{emulator['registry']}/flow/probe:v1", force=True)
    pulled = client.images.pull(
        reference,
        auth_config={"username": NULL_GUID, "password": emulator.acr_refresh_token()},
    )
    assert reference.split("@")[1] in pulled.attrs["RepoDigests"][0]


def test_access_token_by_get_with_basic_and_by_post(emulator: Emulator) -> None:
    refresh = emulator.acr_refresh_token()
    scope = "repository:flow/probe:pull,push"
    by_get = requests.get(
        f"{emulator['acr_url']}/oauth2/token",
        params={"service": emulator["registry"], "scope": scope},
        auth=(NULL_GUID, refresh),
        verify=emulator["ca_bundle"],
        timeout=30,
    )
    by_post = requests.post(
        f"{emulator['acr_url']}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "service": emulator["registry"],
            "scope": scope,
            "refresh_token": refresh,
        },
        verify=emulator["ca_bundle"],
        timeout=30,
    )
    for response in (by_get, by_post):
        assert response.status_code == 200
        import jwt

        claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
        assert claims["aud"] == emulator["registry"]  # a string: distribution rejects lists
        assert claims["iss"] == "Azure Container Registry"
        assert claims["access"] == [
            {"type": "repository", "name": "flow/probe", "actions": ["pull", "push"]}
        ]


def _push_output(emulator: Emulator, password: str) -> list[dict[str, object]]:
    client = docker.from_env()
    target = f"{emulator['registry']}/flow/refused"
    client.images.get(model_server_image()).tag(target, "v1")
    return list(
        client.images.push(
            target,
            tag="v1",
            stream=True,
            decode=True,
            auth_config={"username": NULL_GUID, "password": password},
        )
    )


def test_push_without_a_valid_token_is_refused(emulator: Emulator) -> None:
    errors = [line for line in _push_output(emulator, "not-a-token") if "error" in line]
    assert errors and "unauthorized" in str(errors[0]["error"])


def test_an_expired_refresh_token_is_refused(emulator: Emulator) -> None:
    emulator.admin("POST", "/acr", {"refresh_lifetime_seconds": -60})  # minted expired
    refresh = emulator.acr_refresh_token()
    errors = [line for line in _push_output(emulator, refresh) if "error" in line]
    assert errors and "expired" in str(errors[0]["error"])


def test_the_exchange_needs_a_valid_entra_token(emulator: Emulator) -> None:
    response = requests.post(
        f"{emulator['acr_url']}/oauth2/exchange",
        data={
            "grant_type": "access_token",
            "service": emulator["registry"],
            "tenant": emulator["tenant_id"],
            "access_token": "forged",
        },
        verify=emulator["ca_bundle"],
        timeout=30,
    )
    assert response.status_code == 401


def test_the_registry_can_refuse_pushes_n_times(emulator: Emulator) -> None:
    refresh = emulator.acr_refresh_token()
    # The Docker engine retries refused token requests by itself, so refuse more than it retries.
    emulator.fault(
        part="acr", kind="status", status=401, count=20, path="/oauth2/token", query="push"
    )
    since = emulator.last_request()
    refused = [line for line in _push_output(emulator, refresh) if "error" in line]
    assert refused and "unauthorized" in str(refused[0]["error"])
    statuses = [e["status"] for e in emulator.requests_since(since, part="acr")]
    assert statuses and set(statuses) == {401}
    emulator.admin("DELETE", "/faults")
    assert [line for line in _push_output(emulator, refresh) if "error" in line] == []


def test_a_pull_scope_is_not_refused_by_a_push_fault(emulator: Emulator) -> None:
    emulator.fault(
        part="acr", kind="status", status=401, count=5, path="/oauth2/token", query="push"
    )
    response = requests.get(
        f"{emulator['acr_url']}/oauth2/token",
        params={"service": emulator["registry"], "scope": "repository:flow/probe:pull"},
        auth=(NULL_GUID, emulator.acr_refresh_token()),
        verify=emulator["ca_bundle"],
        timeout=30,
    )
    assert response.status_code == 200


@pytest.mark.parametrize("username", ["someone", ""])
def test_basic_auth_needs_the_null_guid(emulator: Emulator, username: str) -> None:
    response = requests.get(
        f"{emulator['acr_url']}/oauth2/token",
        params={"service": emulator["registry"], "scope": "repository:x:pull"},
        auth=(username, emulator.acr_refresh_token()),
        verify=emulator["ca_bundle"],
        timeout=30,
    )
    assert response.status_code == 401
    assert NULL_GUID in response.text


REGISTRY_AUDIENCE = "https://containerregistry.azure.net"


def test_a_registry_can_refuse_arm_audience_tokens(emulator: Emulator) -> None:
    """The built-in policy "Container registries should have ARM audience token authentication
    disabled": only tokens for the registry audience are exchanged."""
    import urllib.error

    emulator.admin("POST", "/acr", {"arm_audience_disabled": True})
    with pytest.raises(urllib.error.HTTPError) as refused:
        emulator.acr_refresh_token()
    assert refused.value.code == 401
    assert "audience" in refused.value.read().decode()
    assert emulator.acr_refresh_token(REGISTRY_AUDIENCE)


def _actions(emulator: Emulator, refresh: str) -> list[str]:
    import jwt

    response = requests.get(
        f"{emulator['acr_url']}/oauth2/token",
        params={"service": emulator["registry"], "scope": "repository:flow/probe:pull,push"},
        auth=(NULL_GUID, refresh),
        verify=emulator["ca_bundle"],
        timeout=30,
    )
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    return list(claims["access"][0]["actions"])


def test_an_abac_registry_honours_only_the_repository_roles(emulator: Emulator) -> None:
    """Learn container-registry-rbac-abac-repository-permissions: AcrPush is ignored in ABAC
    mode; Container Registry Repository Writer grants pull and push."""
    refresh = emulator.acr_refresh_token(REGISTRY_AUDIENCE)
    assert _actions(emulator, refresh) == ["pull", "push"]  # AcrPush, legacy mode
    state = emulator.admin("POST", "/acr", {"abac": True})
    assert _actions(emulator, refresh) == []
    (app,) = state["roles"]
    grant = {"principal": app, "role": "Container Registry Repository Reader"}
    emulator.admin("POST", "/acr", {"grants": [grant]})
    assert _actions(emulator, refresh) == ["pull"]


def test_the_workspace_names_its_registry_and_the_registry_its_mode(emulator: Emulator) -> None:
    """The workspace's containerRegistry is an ARM id; the registry's ARM resource has its
    loginServer and roleAssignmentMode (api-version 2025-05-01-preview)."""
    session = requests.Session()
    session.verify = emulator["ca_bundle"]
    session.headers["Authorization"] = f"Bearer {emulator.arm_token()}"
    workspace = session.get(
        emulator["arm_url"] + emulator.workspace_path(),
        params={"api-version": "2024-10-01"},
        timeout=30,
    ).json()
    registry_id = workspace["properties"]["containerRegistry"]
    assert registry_id.endswith("/providers/Microsoft.ContainerRegistry/registries/contosoml")
    emulator.admin("POST", "/acr", {"abac": True})
    registry = session.get(
        emulator["arm_url"] + registry_id, params={"api-version": "2025-05-01-preview"}, timeout=30
    ).json()
    assert registry["properties"]["loginServer"] == emulator["registry"]
    assert registry["properties"]["roleAssignmentMode"] == "AbacRepositoryPermissions"


def test_the_public_stand_in_gives_anyone_pull_and_only_its_publisher_push(
    emulator: Emulator,
) -> None:
    """The public registries' stand-in (emulator/public_registry.py): an anonymous realm."""
    registry, ca = emulator["public_registry"], emulator["ca_bundle"]
    challenge = requests.get(f"https://{registry}/v2/", verify=ca, timeout=30)
    assert challenge.status_code == 401
    realm = challenge.headers["Www-Authenticate"].split('realm="')[1].split('"')[0]

    def access(scope: str, auth: tuple[str, str] | None = None) -> requests.Response:
        params = {"service": registry, "scope": scope}
        return requests.get(realm, params=params, auth=auth, verify=ca, timeout=30)

    def actions(response: requests.Response) -> list[str]:
        claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
        return list(claims["access"][0]["actions"])

    assert actions(access("repository:octo/app:pull,push")) == ["pull"]
    assert actions(access("repository:private/app:pull")) == []
    assert access("repository:octo/app:push", ("publisher", "wrong")).status_code == 401
    push = emulator["public_registry_push"]
    publisher = (push["username"], push["password"])
    assert actions(access("repository:private/app:pull,push", publisher)) == ["pull", "push"]

    # the Docker engine pulls a public repository anonymously, and cannot push to it
    reference = emulator.push_public(model_server_image(), "octo/probe", "v1")
    client = docker.from_env()
    client.images.remove(f"{registry}/octo/probe:v1", force=True)
    pulled = client.images.pull(reference)
    assert reference.split("@")[1] in pulled.attrs["RepoDigests"][0]
    anonymous = list(
        client.images.push(f"{registry}/octo/probe", tag="v1", stream=True, decode=True)
    )
    assert any("error" in line for line in anonymous)
