"""Entra ID: the token endpoint for client credentials (client secret, or a client assertion
checked against the app's federated credentials) and the OpenID configuration MSAL reads.
Failures answer like Entra: HTTP 400/401 with `error` and an `error_description` that starts
with the AADSTS code."""

from __future__ import annotations

import datetime
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.github_oidc import GitHubIssuer
from emulator.http import json_response
from emulator.identity import FederatedCredential, Identity
from emulator.ledger import LEDGER
from emulator.tokens import SigningKey, unverified_parts

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_TOKEN_LIFETIME = 3599


class EntraError(Exception):
    def __init__(self, status: int, error: str, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.status = status
        self.error = error
        self.code = code
        self.description = description

    def response(self) -> Response:
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        trace = str(uuid.uuid4())
        return json_response(
            {
                "error": self.error,
                "error_description": f"{self.code}: {self.description} "
                f"Trace ID: {trace} Correlation ID: {uuid.uuid4()} Timestamp: {now}",
                "error_codes": [int(self.code.removeprefix("AADSTS"))],
                "timestamp": now,
                "trace_id": trace,
                "correlation_id": str(uuid.uuid4()),
            },
            self.status,
        )


@dataclass
class EntraId:
    url: str
    identity: Identity
    issuer: GitHubIssuer
    resources: set[str]  # audiences this tenant issues tokens for
    federated_credentials: list[FederatedCredential] = field(default_factory=list)
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME
    key: SigningKey = field(default_factory=SigningKey)

    @property
    def token_issuer(self) -> str:
        return f"https://sts.windows.net/{self.identity.tenant_id}/"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/{tenant}/v2.0/.well-known/openid-configuration", self._openid),
                Route("/{tenant}/discovery/v2.0/keys", self._keys),
                Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
            ]
        )

    def verify_access_token(self, token: str, audiences: set[str]) -> dict[str, Any]:
        """Claims of an access token this tenant issued for one of `audiences`."""
        claims = self.key.verify(token, audience=sorted(audiences))
        if claims.get("iss") != self.token_issuer:
            raise jwt.InvalidIssuerError("token from another issuer")
        return claims

    async def _openid(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        base = f"{self.url}/{tenant}"
        return json_response(
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "token id_token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "tenant_region_scope": "NA",
            }
        )

    async def _keys(self, request: Request) -> Response:
        return json_response({"keys": [self.key.jwk()]})

    async def _token(self, request: Request) -> Response:
        try:
            body = (await request.body()).decode("utf-8", errors="replace")
            fields = {key: values[-1] for key, values in parse_qs(body).items()}
            return json_response(self._grant(request.path_params["tenant"], fields))
        except EntraError as exc:
            return exc.response()

    def _grant(self, tenant: str, form: dict[str, str]) -> dict[str, Any]:
        if tenant not in (self.identity.tenant_id, "organizations"):
            raise EntraError(
                400,
                "invalid_request",
                "AADSTS90002",
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant "
                "ID and are signing into the correct cloud.",
            )
        if form.get("grant_type") != "client_credentials":
            raise EntraError(
                400,
                "unsupported_grant_type",
                "AADSTS70003",
                "The app requested an unsupported grant type "
                f"'{form.get('grant_type')}'; this tenant supports client_credentials.",
            )
        client_id = form.get("client_id", "")
        if client_id != self.identity.client_id:
            raise EntraError(
                400,
                "unauthorized_client",
                "AADSTS700016",
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.identity.tenant_id}'.",
            )
        resource = self._resource(form.get("scope", ""))
        if "client_assertion" in form:
            self._check_assertion(form)
        elif "client_secret" in form:
            if not secrets.compare_digest(form["client_secret"], self.identity.client_secret):
                raise EntraError(
                    401,
                    "invalid_client",
                    "AADSTS7000215",
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    "is the client secret value, not the client secret ID, for a secret added to "
                    f"app '{client_id}'.",
                )
        else:
            raise EntraError(
                400,
                "invalid_client",
                "AADSTS7000218",
                "The request body must contain the following parameter: 'client_assertion' "
                "or 'client_secret'.",
            )
        return self._access_token(resource)

    def _resource(self, scope: str) -> str:
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise EntraError(
                400,
                "invalid_scope",
                "AADSTS1002012",
                f"The provided value for scope {scope!r} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier.",
            )
        resource = scopes[0].removesuffix("/.default")
        if resource.rstrip("/") not in {known.rstrip("/") for known in self.resources}:
            raise EntraError(
                400,
                "invalid_resource",
                "AADSTS500011",
                f"The resource principal named {resource} was not found in the tenant named "
                f"{self.identity.tenant_id}.",
            )
        return resource.rstrip("/")

    def _check_assertion(self, form: dict[str, str]) -> None:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise EntraError(
                400,
                "invalid_request",
                "AADSTS50027",
                "JWT token is invalid or malformed: client_assertion_type must be "
                f"{ASSERTION_TYPE}.",
            )
        assertion = form["client_assertion"]
        try:
            _, claims = unverified_parts(assertion)
        except jwt.InvalidTokenError:
            raise EntraError(
                400, "invalid_request", "AADSTS50027", "JWT token is invalid or malformed."
            ) from None
        issuer, subject, audience = (str(claims.get(k)) for k in ("iss", "sub", "aud"))
        known_issuer = any(c.issuer == issuer for c in self.federated_credentials)
        if not known_issuer or issuer != self.issuer.url:
            raise self._no_match(issuer, subject, audience)
        try:
            self.issuer.key.verify(assertion, leeway=0)
        except jwt.ExpiredSignatureError:
            raise self._expired(claims) from None
        except jwt.ImmatureSignatureError:
            raise self._expired(claims) from None
        except jwt.InvalidTokenError:
            raise EntraError(
                400,
                "invalid_client",
                "AADSTS50027",
                "JWT token is invalid or malformed: the signature does not match a key of "
                f"the issuer '{issuer}'.",
            ) from None
        matches = [
            c
            for c in self.federated_credentials
            if c.issuer == issuer and c.subject == subject and c.audience == audience
        ]
        if not matches:
            raise self._no_match(issuer, subject, audience)

    @staticmethod
    def _no_match(issuer: str, subject: str, audience: str) -> EntraError:
        return EntraError(
            400,
            "invalid_client",
            "AADSTS70021",
            "No matching federated identity record found for presented assertion. "
            f"Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. "
            f"Assertion Audience: '{audience}'.",
        )

    @staticmethod
    def _expired(claims: dict[str, Any]) -> EntraError:
        def when(value: Any) -> str:
            moment = datetime.datetime.fromtimestamp(int(value or 0), datetime.UTC)
            return moment.strftime("%m/%d/%Y %H:%M:%S")

        now = when(time.time())
        return EntraError(
            400,
            "invalid_client",
            "AADSTS700024",
            f"Client assertion is not within its valid time range. Current time: {now}, "
            f"assertion valid from {when(claims.get('nbf'))}, expiry time of assertion "
            f"{when(claims.get('exp'))}.",
        )

    def _access_token(self, resource: str) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "aud": resource,
            "iss": self.token_issuer,
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "appid": self.identity.client_id,
            "appidacr": "2",
            "idtyp": "app",
            "oid": self.identity.service_principal_id,
            "sub": self.identity.service_principal_id,
            "tid": self.identity.tenant_id,
            # "Token identifier claim, equivalent to jti" (Learn: access-token-claims-reference):
            # two tokens issued in the same second differ.
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
        }
        token = self.key.sign(claims, {"typ": "JWT"})
        LEDGER.record("entra-access-token", token)
        return {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token,
        }
