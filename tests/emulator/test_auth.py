"""Entra ID, the GitHub OIDC issuer and ARM's bearer-token checks, negatives included."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError

from emulator.client import Emulator
from emulator.tokens import SigningKey
from tests.emulator.arm import Arm, error_of

# ARM, Entra and GitHub alone: the emulator without a data plane (tests/conftest.py).
pytestmark = pytest.mark.control_plane


def token_request(emulator: Emulator, **fields: str) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": emulator["client_id"],
        "scope": emulator["arm_url"] + "/.default",
        **fields,
    }
    return requests.post(
        f"{emulator['authority_url']}/{emulator['tenant_id']}/oauth2/v2.0/token",
        data=form,
        verify=emulator["ca_bundle"],
        timeout=30,
    )


def aadsts(response: requests.Response) -> str:
    return str(response.json()["error_description"].split(":")[0])


def test_github_token_carries_githubs_claims(emulator: Emulator) -> None:
    token = emulator.github_id_token()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == emulator["oidc"]["issuer"]
    assert claims["aud"] == "api://AzureADTokenExchange"
    assert claims["sub"] == "repo:octo-org/octo-repo:pull_request"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["iat"] - claims["nbf"] == 300
    custom = {k: v for k, v in claims.items() if k not in ("exp", "iat", "nbf")}
    assert all(isinstance(value, str) for value in custom.values())


@pytest.mark.parametrize(
    ("job", "subject"),
    [
        ({"environment": "production"}, "repo:octo-org/octo-repo:environment:production"),
        (
            {"event_name": "push", "ref": "refs/heads/main"},
            "repo:octo-org/octo-repo:ref:refs/heads/main",
        ),
        (
            {"event_name": "push", "ref": "refs/tags/v1.2.0", "ref_type": "tag"},
            "repo:octo-org/octo-repo:ref:refs/tags/v1.2.0",
        ),
        (
            {"environment": "preview", "event_name": "pull_request"},
            "repo:octo-org/octo-repo:environment:preview",
        ),
    ],
)
def test_subjects_follow_githubs_formats(
    emulator: Emulator, job: dict[str, str], subject: str
) -> None:
    emulator.github_job(job)
    claims = jwt.decode(emulator.github_id_token(), options={"verify_signature": False})
    assert claims["sub"] == subject


def test_id_token_request_needs_the_request_token(emulator: Emulator) -> None:
    url = emulator["oidc"]["request_url"]
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = requests.get(url, headers=headers, verify=emulator["ca_bundle"], timeout=30)
        assert response.status_code == 401


def test_id_token_is_verifiable_with_the_published_jwks(emulator: Emulator) -> None:
    issuer = emulator["oidc"]["issuer"]
    discovery = requests.get(
        f"{issuer}/.well-known/openid-configuration", verify=emulator["ca_bundle"], timeout=30
    ).json()
    client = jwt.PyJWKClient(discovery["jwks_uri"], ssl_context=emulator.ssl_context)
    token = emulator.github_id_token()
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="api://AzureADTokenExchange")
    assert claims["repository"] == "octo-org/octo-repo"


def test_wrong_federated_subject_names_the_subject_and_issuer(emulator: Emulator) -> None:
    emulator.github_job({"environment": "staging"})
    with pytest.raises(ClientAuthenticationError) as caught:
        emulator.assertion_credential().get_token(emulator["arm_url"] + "/.default")
    message = str(caught.value)
    assert "AADSTS70021" in message
    assert "Assertion Subject: 'repo:octo-org/octo-repo:environment:staging'" in message
    assert f"Assertion Issuer: '{emulator['oidc']['issuer']}'" in message


def test_expired_assertion(emulator: Emulator) -> None:
    emulator.github_job(lifetime=-60)  # minted expired a minute ago: nothing to wait for
    stale = emulator.github_id_token()
    response = token_request(
        emulator,
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=stale,
    )
    assert response.status_code == 400
    assert aadsts(response) == "AADSTS700024"
    assert "not within its valid time range" in response.json()["error_description"]


def test_a_fresh_assertion_per_token_request_survives_short_lived_id_tokens(
    emulator: Emulator,
) -> None:
    # ID tokens that expire with the access token: the second sign-in, after both expired, asks
    # GitHub for a new one (Entra refuses an expired one, test_expired_assertion).
    emulator.github_job(lifetime=2)  # 1 s could expire on its way to Entra
    emulator.admin("POST", "/entra", {"token_lifetime_seconds": 1})
    credential = emulator.assertion_credential()
    since = emulator.last_request()
    first = credential.get_token(emulator["arm_url"] + "/.default")
    time.sleep(2.1)  # past both expiries (whole seconds)
    second = credential.get_token(emulator["arm_url"] + "/.default")
    assert first.token != second.token
    id_token_requests = [
        entry for entry in emulator.requests_since(since, part="github") if "GET" in entry["method"]
    ]
    assert len(id_token_requests) == 2, id_token_requests


def test_forged_assertion_is_refused(emulator: Emulator) -> None:
    genuine = jwt.decode(emulator.github_id_token(), options={"verify_signature": False})
    forged = SigningKey().sign(genuine)
    response = token_request(
        emulator,
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=forged,
    )
    assert response.status_code == 400
    assert aadsts(response) == "AADSTS50027"


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"client_secret": "wrong"}, 401, "AADSTS7000215"),
        (
            {"client_id": "00000000-0000-0000-0000-000000000001", "client_secret": "x"},
            400,
            "AADSTS700016",
        ),
        (
            {
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": "not-a-jwt",
            },
            400,
            "AADSTS50027",
        ),
        ({"scope": "https://unknown.example/.default", "client_secret": "x"}, 400, "AADSTS500011"),
        (
            {"scope": "https://management.azure.com/user_impersonation", "client_secret": "x"},
            400,
            "AADSTS1002012",
        ),
    ],
)
def test_entra_errors(emulator: Emulator, fields: dict[str, str], status: int, code: str) -> None:
    response = token_request(emulator, **fields)
    assert response.status_code == status
    assert aadsts(response) == code
    assert response.json()["error_codes"] == [int(code.removeprefix("AADSTS"))]


def test_unknown_tenant(emulator: Emulator) -> None:
    response = requests.post(
        f"{emulator['authority_url']}/00000000-0000-0000-0000-00000000dead/oauth2/v2.0/token",
        data={"grant_type": "client_credentials"},
        verify=emulator["ca_bundle"],
        timeout=30,
    )
    assert aadsts(response) == "AADSTS90002"


def test_no_token_is_401_with_a_challenge(emulator: Emulator) -> None:
    arm = Arm(emulator, token="unused")
    response = arm.session.get(arm.url(arm.ws(), "2024-10-01-preview"), timeout=30)
    assert error_of(response)[:2] == (401, "AuthenticationFailed")
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer authorization_uri="')
    assert emulator["tenant_id"] in challenge


def test_forged_access_token(emulator: Emulator) -> None:
    genuine = jwt.decode(emulator.arm_token(), options={"verify_signature": False})
    arm = Arm(emulator, token=SigningKey().sign(genuine))
    response = arm.call("GET", arm.ws(), api_version="2024-10-01-preview")
    assert error_of(response)[:2] == (401, "InvalidAuthenticationToken")


def test_token_for_another_audience(emulator: Emulator) -> None:
    token = emulator.secret_credential().get_token("https://ml.azure.com/.default").token
    arm = Arm(emulator, token=token)
    status, code, message = error_of(arm.call("GET", arm.ws(), api_version="2024-10-01-preview"))
    assert (status, code) == (401, "InvalidAuthenticationTokenAudience")
    assert "'https://ml.azure.com'" in message


def test_expired_access_token(emulator: Emulator) -> None:
    emulator.admin("POST", "/entra", {"token_lifetime_seconds": -60})  # minted expired
    arm = Arm(emulator)
    status, code, message = error_of(arm.call("GET", arm.ws(), api_version="2024-10-01-preview"))
    assert (status, code) == (401, "ExpiredAuthenticationToken")
    assert "is earlier than current UTC time" in message


def test_public_arm_audience_is_accepted(emulator: Emulator) -> None:
    token = emulator.secret_credential().get_token("https://management.azure.com/.default").token
    arm = Arm(emulator, token=token)
    assert arm.call("GET", arm.ws(), api_version="2024-10-01-preview").status_code == 200
