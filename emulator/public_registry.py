"""A stand-in for the public registries (Docker Hub, Microsoft Artifact Registry, GHCR, …): a
real CNCF distribution registry (`docker-registry`, as for ACR) configured for token auth, behind
an anonymous bearer-token realm, as Docker Hub's auth.docker.io works.

    GET /token?service=<registry>&scope=repository:<name>:pull[,push]

The realm follows the Docker "Token Authentication Specification" (docs.docker.com
registry/spec/auth/token; distribution's docs/spec/auth/token.md and jwt.md): a client without
credentials is anonymous and gets a token for what an anonymous client may do, `pull` of a
public repository; the response carries the token as `token` and `access_token`, `expires_in`
and `issued_at`. Credentials (Basic) that do not match answer 401. Repositories under `private/`
are not public: an anonymous token carries no access to them, so the registry answers their
manifests 401 (the spec's token server may grant less than was asked; which of the two refuses
varies between real registries, and azureml-deploy reads both alike). `push` needs the
publisher's credentials (the connection file's `public_registry_push`), with which tests seed
the stand-in.
"""

from __future__ import annotations

import datetime
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator.acr import _basic, signing_certificate, x5c
from emulator.http import json_response
from emulator.ledger import LEDGER

ISSUER = "public registry stand-in"
PRIVATE_PREFIX = "private/"
PUBLISHER = "publisher"
TOKEN_LIFETIME = 300  # Docker Hub's tokens say expires_in 300


@dataclass
class PublicTokenService:
    url: str  # the realm's base URL
    login_server: str  # host:port of the stand-in registry, also its token `service`
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    publisher_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def __post_init__(self) -> None:
        self.certificate = signing_certificate(self.key, "public registry token signing")
        self._x5c = x5c(self.certificate)
        LEDGER.record("public-registry-password", self.publisher_password)

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    def certificate_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def allowed(self, repository: str, publisher: bool) -> set[str]:
        if publisher:
            return {"pull", "push"}
        return set() if repository.startswith(PRIVATE_PREFIX) else {"pull"}

    def token(self, scopes: list[str], publisher: bool = False) -> str:
        """An access token for `scopes` (`repository:<name>:<actions>`), as the realm issues it
        to an anonymous client (or to the publisher)."""
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind != "repository" or not name:
                continue
            allowed = self.allowed(name, publisher)
            granted = [action for action in actions.split(",") if action in allowed]
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        claims = {
            "jti": str(uuid.uuid4()),
            "sub": PUBLISHER if publisher else "",
            "nbf": now,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            "iss": ISSUER,
            "aud": self.login_server,
            "access": access,
        }
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"x5c": self._x5c})
        LEDGER.record("public-registry-token", token)
        return token

    def anonymous_pull_token(self, repository: str) -> str:
        return self.token([f"repository:{repository}:pull"])

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/token", self._token, methods=["GET"])])

    async def _token(self, request: Request) -> Response:
        if request.query_params.get("service") not in (None, self.login_server):
            return _error(400, "invalid service")
        publisher = False
        header = request.headers.get("authorization", "")
        if header:
            username, password = _basic(header)
            if username != PUBLISHER or not secrets.compare_digest(
                password, self.publisher_password
            ):
                return _error(401, "incorrect username or password")
            publisher = True
        scopes = [
            scope
            for value in request.query_params.getlist("scope")
            for scope in value.split(" ")
            if scope
        ]
        token = self.token(scopes, publisher)
        body: dict[str, Any] = {
            "token": token,
            "access_token": token,
            "expires_in": TOKEN_LIFETIME,
            "issued_at": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        return json_response(body)


def _error(status: int, detail: str) -> Response:
    return json_response({"details": detail}, status)
