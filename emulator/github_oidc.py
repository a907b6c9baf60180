"""GitHub Actions' OIDC issuer: discovery, JWKS, and the ID-token request endpoint that
ACTIONS_ID_TOKEN_REQUEST_URL points at. Tokens carry GitHub's claims, all strings, and `sub` in
GitHub's formats; the claims and the lifetime (300 s like GitHub) are set per test."""

from __future__ import annotations

import datetime
import secrets
import time
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.http import json_response
from emulator.identity import GITHUB_REPOSITORY
from emulator.ledger import LEDGER
from emulator.tokens import SigningKey

DEFAULT_LIFETIME = 300
_PLAN = "8f1b2c3d-0000-4000-8000-000000000001"
_JOB = "0c4d5e6f-0000-4000-8000-000000000002"


def default_claims() -> dict[str, str]:
    """A pull-request job of octo-org/octo-repo, as GitHub describes it in its tokens."""
    owner = GITHUB_REPOSITORY.split("/")[0]
    workflow_ref = f"{GITHUB_REPOSITORY}/.github/workflows/pr-preview.yml@refs/pull/42/merge"
    return {
        "actor": "octocat",
        "actor_id": "583231",
        "base_ref": "main",
        "event_name": "pull_request",
        "head_ref": "feature/better-scoring",
        "job_workflow_ref": workflow_ref,
        "job_workflow_sha": "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
        "ref": "refs/pull/42/merge",
        "ref_protected": "false",
        "ref_type": "branch",
        "repository": GITHUB_REPOSITORY,
        "repository_id": "632596897",
        "repository_owner": owner,
        "repository_owner_id": "9919",
        "repository_visibility": "private",
        "run_attempt": "1",
        "run_id": "8123456789",
        "run_number": "42",
        "runner_environment": "github-hosted",
        "sha": "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
        "workflow": "PR preview",
        "workflow_ref": workflow_ref,
        "workflow_sha": "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
        "check_run_id": "22222222222",
    }


# "enabled by default for repositories created or renamed on or after July 15, 2026"; admins
# may opt older repositories in (github/docs PR #45221, "Immutable subject claims"; Learn
# "workload-identities-github-immutable-subjects").
IMMUTABLE_BY_DEFAULT_SINCE = datetime.date(2026, 7, 15)
DEFAULT_CREATED = datetime.date(2023, 4, 12)  # octo-org/octo-repo predates them


def subject_for(claims: dict[str, str], immutable: bool = False) -> str:
    """GitHub's `sub`: an environment wins, then pull_request, then the ref. Immutable subjects
    append the owner's and the repository's numeric ids: `repo:OWNER@ID/REPO@ID:…`."""
    repository = claims["repository"]
    if immutable:
        owner, _, name = repository.partition("/")
        repository = f"{owner}@{claims['repository_owner_id']}/{name}@{claims['repository_id']}"
    if claims.get("environment"):
        return f"repo:{repository}:environment:{claims['environment']}"
    if claims.get("event_name") in ("pull_request", "pull_request_target"):
        return f"repo:{repository}:pull_request"
    return f"repo:{repository}:ref:{claims['ref']}"


class GitHubIssuer:
    def __init__(self, url: str) -> None:
        self.url = url
        self.key = SigningKey()
        self.request_token = secrets.token_urlsafe(32)
        LEDGER.record("github-request-token", self.request_token)
        self.claims = default_claims()
        self.explicit_subject: str | None = None
        self.lifetime = DEFAULT_LIFETIME
        self.repository_created = DEFAULT_CREATED  # or renamed: when the default was decided
        self.immutable_subject: bool | None = None  # None: GitHub's default for that date
        self.request_url = (
            f"{url}/_apis/distributedtask/hubs/Actions/plans/{_PLAN}/jobs/{_JOB}/idtoken"
            "?api-version=2.0"
        )

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the job the tokens describe: {"claims": {...}, "lifetime_seconds": N}."""
        claims = changes.get("claims", {})
        for name, value in claims.items():
            if name == "sub":
                self.explicit_subject = None if value is None else str(value)
            elif value is None:
                self.claims.pop(name, None)
            else:
                self.claims[name] = str(value)  # GitHub sends every custom claim as a string
        if "lifetime_seconds" in changes:
            self.lifetime = int(changes["lifetime_seconds"])
        if "repository_created" in changes:
            self.repository_created = datetime.date.fromisoformat(changes["repository_created"])
        if "immutable_subject" in changes:
            value = changes["immutable_subject"]
            self.immutable_subject = None if value is None else bool(value)
        return self.describe()

    def reset(self) -> None:
        self.claims = default_claims()
        self.explicit_subject = None
        self.lifetime = DEFAULT_LIFETIME
        self.repository_created = DEFAULT_CREATED
        self.immutable_subject = None

    def describe(self) -> dict[str, Any]:
        return {
            "claims": {**self.claims, "sub": self.subject},
            "lifetime_seconds": self.lifetime,
            "repository_created": self.repository_created.isoformat(),
            "immutable_subject": self.immutable,
        }

    @property
    def immutable(self) -> bool:
        if self.immutable_subject is not None:
            return self.immutable_subject
        return self.repository_created >= IMMUTABLE_BY_DEFAULT_SINCE

    @property
    def subject(self) -> str:
        return self.explicit_subject or subject_for(self.claims, self.immutable)

    def issue(self, audience: str | None) -> str:
        now = int(time.time())
        owner = self.claims["repository_owner"]
        claims: dict[str, Any] = {
            **self.claims,
            "jti": str(uuid.uuid4()),
            "sub": self.subject,
            "aud": audience or f"https://github.com/{owner}",
            "iss": self.url,
            "nbf": now - 300,  # GitHub backdates nbf by five minutes
            "iat": now,
            "exp": now + self.lifetime,
        }
        token = self.key.sign(claims, {"typ": "JWT", "x5t": self.key.jwk()["x5t"]})
        LEDGER.record("github-id-token", token)
        return token

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/.well-known/jwks", self._jwks),
                Route(
                    "/_apis/distributedtask/hubs/Actions/plans/{plan}/jobs/{job}/idtoken",
                    self._id_token,
                ),
            ]
        )

    async def _discovery(self, request: Request) -> Response:
        return json_response(
            {
                "issuer": self.url,
                "jwks_uri": f"{self.url}/.well-known/jwks",
                "subject_types_supported": ["public", "pairwise"],
                "response_types_supported": ["id_token"],
                "claims_supported": sorted(
                    {"sub", "aud", "exp", "iat", "iss", "jti", "nbf"} | set(self.claims)
                ),
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid"],
            }
        )

    async def _jwks(self, request: Request) -> Response:
        return json_response({"keys": [self.key.jwk()]})

    async def _id_token(self, request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token, self.request_token):
            return json_response(
                {"message": "Unable to authenticate the request: invalid or missing token"}, 401
            )
        if request.query_params.get("api-version") != "2.0":
            return json_response({"message": "api-version 2.0 is required"}, 400)
        return json_response({"value": self.issue(request.query_params.get("audience"))})
