"""Signing in to Azure.

In GitHub Actions: the job's OIDC ID token is a client assertion for the app registration's
federated credential (`ClientAssertionCredential`). The assertion callback asks GitHub for a
fresh ID token every time Entra ID needs one, so a deployment that outlives the ID token's five
minutes still signs in (Azure/login#372). Outside GitHub: `DefaultAzureCredential`; against the
local emulator, its own GitHub OIDC issuer, exactly as in Actions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import ClientAuthenticationError

from deployer.cloud import Cloud
from deployer.errors import SignInError, UsageError
from deployer.github.oidc import (
    TOKEN_EXCHANGE_AUDIENCE,
    can_request_id_tokens,
    job_id_token,
    request_id_token,
)
from deployer.github.runner import Runner

FORK_HINT = (
    "add `permissions: id-token: write` to the job; pull requests from forks never get an ID "
    "token, so run only `command: validate` for them"
)


@dataclass
class SignInSettings:
    tenant_id: str | None = None
    client_id: str | None = None
    audience: str = TOKEN_EXCHANGE_AUDIENCE


@dataclass
class AssertionSource:
    """Fetches GitHub ID tokens and remembers the claims of the last one, for diagnosis."""

    fetch: Callable[[], str]
    last_claims: dict[str, Any] = field(default_factory=dict)
    count: int = 0

    def __call__(self) -> str:
        token = self.fetch()
        self.count += 1
        try:
            self.last_claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            self.last_claims = {}
        return token


class _MaskingCredential:
    """Wraps a credential so every access token it hands out is masked first."""

    def __init__(self, inner: TokenCredential, runner: Runner) -> None:
        self.inner = inner
        self.runner = runner

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token = self.inner.get_token(*scopes, **kwargs)
        self.runner.mask(token.token)
        return token


@dataclass
class SignIn:
    credential: TokenCredential
    description: str
    assertions: AssertionSource | None = None

    def token(self, scope: str) -> str:
        """An access token for `scope`, with Entra ID's refusals explained."""
        try:
            return self.credential.get_token(scope).token
        except ClientAuthenticationError as exc:
            raise explain(exc, self.assertions) from exc


def sign_in(cloud: Cloud, settings: SignInSettings, runner: Runner) -> SignIn:
    from azure.identity import ClientAssertionCredential, DefaultAzureCredential

    if cloud.signs_in_with_oidc(runner.in_actions):
        default_tenant, default_client = cloud.app_registration_defaults()
        tenant = settings.tenant_id or default_tenant
        client = settings.client_id or default_client
        fetch = _id_token_fetcher(cloud, settings, runner)
        if not tenant or not client:
            raise UsageError(
                "signing in with GitHub OIDC needs the app registration's tenant-id and client-id",
                hint="set the action's `tenant-id` and `client-id` inputs (or AZURE_TENANT_ID "
                "and AZURE_CLIENT_ID)",
            )
        source = AssertionSource(fetch)
        credential = ClientAssertionCredential(tenant, client, source, authority=cloud.authority)
        return SignIn(
            _MaskingCredential(credential, runner),
            f"GitHub OIDC → app {client} in tenant {tenant}",
            source,
        )
    default = DefaultAzureCredential(authority=cloud.authority)
    return SignIn(_MaskingCredential(default, runner), "DefaultAzureCredential")


def _id_token_fetcher(cloud: Cloud, settings: SignInSettings, runner: Runner) -> Callable[[], str]:
    if can_request_id_tokens(runner.environ):
        return lambda: job_id_token(runner, settings.audience)
    rehearsal = cloud.rehearsal_id_token_request()
    if rehearsal is not None and not runner.in_actions:
        # Rehearsing locally: the emulator plays GitHub's OIDC issuer too.
        url, request_token = rehearsal
        return lambda: request_id_token(url, request_token, settings.audience, runner)
    raise SignInError(
        "this GitHub Actions job cannot request an OIDC ID token "
        "(ACTIONS_ID_TOKEN_REQUEST_URL is not set)",
        hint=FORK_HINT,
    )


_AADSTS = re.compile(r"AADSTS(\d+)")


def explain(error: ClientAuthenticationError, assertions: AssertionSource | None) -> SignInError:
    """Entra ID's refusal, said plainly, with the exact fix."""
    message = str(error.message or error)
    match = _AADSTS.search(message)
    code = match.group(1) if match else ""
    claims = assertions.last_claims if assertions else {}
    subject, issuer, audience = (str(claims.get(k, "?")) for k in ("sub", "iss", "aud"))
    if code in ("70021", "700213", "7002138", "700211"):
        other = other_subject_format(subject, claims)
        formats = (
            f" This job's repository could also present '{other}' (GitHub's "
            f"{'name-based' if '@' in subject.split(':')[1] else 'immutable'} subject format; "
            "repositories created or renamed since 2026-07-15 use the immutable one by "
            "default): register the one the token presents, or both while migrating."
            if other
            else ""
        )
        return SignInError(
            "Entra ID found no federated credential matching this job's OIDC token "
            f"(AADSTS{code}). The token has subject '{subject}', issuer '{issuer}', "
            f"audience '{audience}'.",
            hint=f"add a federated credential to the app registration with subject '{subject}', "
            f"issuer '{issuer}' and audience '{audience}' (for example: az ad app "
            "federated-credential create --id <client-id> --parameters "
            f'\'{{"name":"github","issuer":"{issuer}","subject":"{subject}",'
            f'"audiences":["{audience}"]}}\').{formats}',
        )
    if code == "700024":
        return SignInError(
            "Entra ID refused the OIDC token as expired (AADSTS700024: the client assertion is "
            "not within its valid time range)",
            hint="GitHub ID tokens live 5 minutes; azureml-deploy requests a fresh one for each "
            "sign-in, so this means the runner's clock is off or a token was reused",
        )
    if code == "700016":
        return SignInError(
            "Entra ID does not know the app (client id) in this tenant (AADSTS700016)",
            hint="check the `client-id` and `tenant-id` inputs: they are the app registration's "
            "Application (client) ID and Directory (tenant) ID",
        )
    if code == "90002":
        return SignInError(
            "Entra ID does not know this tenant (AADSTS90002)",
            hint="check the `tenant-id` input and the `cloud` input (a tenant of another cloud "
            "is not found)",
        )
    first_line = message.strip().splitlines()[0] if message.strip() else type(error).__name__
    return SignInError(
        f"signing in to Azure failed: {first_line}",
        hint="check the app registration, its federated credentials and the `cloud` input",
    )


_IMMUTABLE = re.compile(r"^repo:([^/@:]+)@(\d+)/([^/@:]+)@(\d+):(.+)$")


def other_subject_format(subject: str, claims: dict[str, Any]) -> str | None:
    """The same job's subject in GitHub's other format: name-based `repo:OWNER/REPO:…` or
    immutable `repo:OWNER@ID/REPO@ID:…` (github/docs PR #45221, "Immutable subject claims")."""
    immutable = _IMMUTABLE.match(subject)
    if immutable:
        owner, _, name, _, rest = immutable.groups()
        return f"repo:{owner}/{name}:{rest}"
    repository = str(claims.get("repository", ""))
    owner_id, repository_id = claims.get("repository_owner_id"), claims.get("repository_id")
    prefix = f"repo:{repository}:"
    if not repository or not owner_id or not repository_id or not subject.startswith(prefix):
        return None
    owner, _, name = repository.partition("/")
    return f"repo:{owner}@{owner_id}/{name}@{repository_id}:{subject[len(prefix) :]}"
