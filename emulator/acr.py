"""Azure Container Registry: a real CNCF distribution registry (`docker-registry`) configured
for token auth, behind ACR's token service.

    POST /oauth2/exchange   Entra access token → ACR refresh token
    GET  /oauth2/token      Basic <null GUID>:<refresh token> → access token
    POST /oauth2/token      grant_type=refresh_token → access token

Access tokens are JWTs the registry verifies itself: signed by a key whose certificate is in the
registry's `rootcertbundle`, referenced through `x5c`, with `aud` = the registry's service name.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime
import json
import logging
import shutil
import ssl
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emulator import children
from emulator.entra import EntraId
from emulator.http import json_response
from emulator.ledger import LEDGER
from emulator.tls import TlsFiles, self_signed

log = logging.getLogger("emulator.acr")

ACR_ISSUER = "Azure Container Registry"
NULL_GUID = "00000000-0000-0000-0000-000000000000"
ACR_RESOURCE = "https://containerregistry.azure.net"
REFRESH_LIFETIME = 3 * 3600
ACCESS_LIFETIME = 20 * 60

# What each role lets a principal do with a repository. Learn "Azure Container Registry roles
# and permissions" (AcrPull, AcrPush) and "container-registry-rbac-abac-repository-permissions":
# a registry whose roleAssignmentMode is AbacRepositoryPermissions honours only the
# "Container Registry Repository …" roles for repository content, not AcrPull/AcrPush.
# The principal Azure ML's image builds run as (the workspace's managed identity).
WORKSPACE_BUILDER = "azureml-workspace-identity"
LEGACY_ROLES = {"AcrPull": {"pull"}, "AcrPush": {"pull", "push"}}
ABAC_ROLES = {
    "Container Registry Repository Reader": {"pull"},
    "Container Registry Repository Writer": {"pull", "push"},
    "Container Registry Repository Contributor": {"pull", "push", "delete"},
}


def signing_certificate(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    """A self-signed certificate of a token-signing key, for a registry's `rootcertbundle`."""
    return self_signed(key, common_name, datetime.timedelta(days=365)).sign(key, hashes.SHA256())


def x5c(certificate: x509.Certificate) -> list[str]:
    """The certificate as a JWT header's `x5c`: standard base64 DER, not url-safe."""
    return [base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")]


class RegistryMissing(RuntimeError):
    """docker-registry is not installed."""


@dataclass
class AcrTokenService:
    url: str  # the token service's base URL (the registry's realm host)
    login_server: str  # host:port of the registry, also its token `service`
    entra: EntraId
    arm_audiences: set[str]
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    refresh_lifetime: int = REFRESH_LIFETIME
    access_lifetime: int = ACCESS_LIFETIME
    # Azure ML grants a system-assigned endpoint identity pull on the workspace's own registry
    # (how-to-troubleshoot-online-endpoints.md, "Authorization error"); false takes it away.
    workspace_can_pull: bool = True
    is_workspace_registry: bool = True  # false: the workspace's registry is another one
    abac: bool = False  # roleAssignmentMode AbacRepositoryPermissions
    arm_audience_disabled: bool = False  # policies.azureADAuthenticationAsArmPolicy disabled
    roles: dict[str, set[str]] = field(default_factory=dict)  # principal id → role names

    def __post_init__(self) -> None:
        self.certificate = signing_certificate(self.key, "acr token signing")
        self._x5c = x5c(self.certificate)

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def _sign(self, subject: str, lifetime: int, **claims: Any) -> str:
        """A token the registry accepts: ACR's issuer, `aud` = the registry (a string, not a
        list), and the signing certificate in `x5c`."""
        now = int(time.time())
        standard = {
            "jti": str(uuid.uuid4()),
            "sub": subject,
            "nbf": now,
            "exp": now + lifetime,
            "iat": now,
            "iss": ACR_ISSUER,
            "aud": self.login_server,
            "version": "1.0",
        }
        token = jwt.encode(
            {**standard, **claims}, self.key, algorithm="RS256", headers={"x5c": self._x5c}
        )
        LEDGER.record("acr-token", token)
        return token

    def refresh_token(self, subject: str, tenant: str, system_endpoint: bool = False) -> str:
        extra = {"endpoint_identity": "SystemAssigned"} if system_endpoint else {}
        return self._sign(
            subject,
            self.refresh_lifetime,
            grant_type="refresh_token",
            tenant=tenant,
            permissions={"actions": ["*"], "notActions": []},
            **extra,
        )

    def default_roles(self) -> dict[str, set[str]]:
        """The app registration holds AcrPush, as the README's setup assigns it."""
        return {self.entra.identity.service_principal_id: {"AcrPush"}}

    def grant(self, principal: str, role: str) -> None:
        if role not in LEGACY_ROLES and role not in ABAC_ROLES:
            known = ", ".join([*LEGACY_ROLES, *ABAC_ROLES])
            raise ValueError(f"unknown role {role!r}; known: {known}")
        self.roles.setdefault(principal, set()).add(role)

    def allowed(self, principal: str, system_assigned_endpoint: bool = False) -> set[str]:
        """What `principal` may do with any repository of this registry."""
        if principal == WORKSPACE_BUILDER and self.is_workspace_registry:
            return {"pull", "push"}
        honoured = ABAC_ROLES if self.abac else LEGACY_ROLES
        actions = {
            action
            for role in self.roles.get(principal, set())
            for action in honoured.get(role, set())
        }
        if system_assigned_endpoint and self.is_workspace_registry and self.workspace_can_pull:
            actions.add("pull")
        return actions

    def builder_credentials(self) -> dict[str, str]:
        """What Azure ML's image builds push with: the workspace's identity, which Azure gives
        a role on the workspace's registry when it creates the workspace (container-registry-
        rbac-built-in-roles-overview.md lists the "Azure Machine Learning workspace identity"
        among the identities ACR roles are assigned to), whatever the admin API set for
        others."""
        token = self.refresh_token(WORKSPACE_BUILDER, self.entra.identity.tenant_id)
        return {"username": NULL_GUID, "password": token}

    def endpoint_refresh_token(self, principal: str, system_assigned: bool) -> str:
        """What the Azure ML data plane pulls with: the endpoint's identity."""
        return self.refresh_token(principal, self.entra.identity.tenant_id, system_assigned)

    def endpoint_pull_token(self, repository: str, principal: str, system_assigned: bool) -> str:
        """An access token as the endpoint's identity gets it to pull `repository`."""
        return self._access_token(
            principal, [f"repository:{repository}:pull"], system_assigned_endpoint=system_assigned
        )

    def _access_token(
        self, subject: str, scopes: list[str], system_assigned_endpoint: bool = False
    ) -> str:
        allowed = self.allowed(subject, system_assigned_endpoint)
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if not kind or not name:
                continue
            granted = [a for a in actions.split(",") if a and (a in allowed or "*" in allowed)]
            access.append({"type": kind, "name": name, "actions": granted})
        return self._sign(subject, self.access_lifetime, access=access)

    def _verify_refresh(self, token: str) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            self.key.public_key(),
            algorithms=["RS256"],
            audience=self.login_server,
            issuer=ACR_ISSUER,
            options={"require": ["exp", "sub"]},
        )
        if claims.get("grant_type") != "refresh_token":
            raise jwt.InvalidTokenError("not a refresh token")
        return claims

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/oauth2/exchange", self._exchange, methods=["POST"]),
                Route("/oauth2/token", self._token, methods=["GET", "POST"]),
            ]
        )

    async def _exchange(self, request: Request) -> Response:
        form = _form(await request.body())
        if form.get("grant_type") not in ("access_token", "access_token_refresh_token"):
            return _error(400, "UNSUPPORTED", "grant_type must be access_token")
        if form.get("service") != self.login_server:
            return _error(
                400, "INVALID_SERVICE", f"service must be the registry {self.login_server}"
            )
        # With the policy "Container registries should have ARM audience token authentication
        # disabled" (azureADAuthenticationAsArmPolicy: disabled) only registry-audience tokens
        # are accepted (Learn "container-registry-disable-authentication-as-arm").
        audiences = (
            {ACR_RESOURCE} if self.arm_audience_disabled else self.arm_audiences | {ACR_RESOURCE}
        )
        try:
            claims = self.entra.verify_access_token(form.get("access_token", ""), audiences)
        except jwt.InvalidAudienceError:
            return _error(
                401,
                "UNAUTHORIZED",
                "the Entra access token's audience is not accepted: this registry accepts only "
                f"tokens for {ACR_RESOURCE} (ARM audience token authentication is disabled)",
            )
        except jwt.InvalidTokenError as exc:
            return _error(401, "UNAUTHORIZED", f"the Entra access token was refused: {exc}")
        subject = str(claims.get("oid") or claims.get("appid"))
        tenant = str(form.get("tenant") or claims.get("tid"))
        return json_response({"refresh_token": self.refresh_token(subject, tenant)})

    async def _token(self, request: Request) -> Response:
        if request.method == "POST":
            form = _form(await request.body())
            grant = form.get("grant_type")
            if grant == "refresh_token":
                presented = form.get("refresh_token", "")
            elif grant == "password" and form.get("username") == NULL_GUID:
                presented = form.get("password", "")
            else:
                return _error(400, "UNSUPPORTED", f"unsupported grant_type {grant!r}")
            scopes = _scopes(form.get("scope", ""))
        else:
            username, presented = _basic(request.headers.get("authorization", ""))
            if username != NULL_GUID:
                return _error(
                    401,
                    "UNAUTHORIZED",
                    f"sign in with the username {NULL_GUID} and an ACR refresh token as password",
                )
            scopes = [s for value in request.query_params.getlist("scope") for s in _scopes(value)]
        try:
            claims = self._verify_refresh(presented)
        except jwt.ExpiredSignatureError:
            return _error(401, "UNAUTHORIZED", "the refresh token has expired")
        except jwt.InvalidTokenError:
            return _error(401, "UNAUTHORIZED", "the refresh token is invalid")
        system_endpoint = claims.get("endpoint_identity") == "SystemAssigned"
        access = self._access_token(str(claims["sub"]), scopes, system_endpoint)
        body: dict[str, Any] = {
            "access_token": access,
            "token": access,
            "expires_in": self.access_lifetime,
            "issued_at": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        if request.query_params.get("offline_token") == "true":
            body["refresh_token"] = presented
        return json_response(body)


def _form(raw: bytes) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", errors="replace")).items()}


def _scopes(value: str) -> list[str]:
    return [scope for scope in value.split(" ") if scope]


def _basic(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        decoded = base64.b64decode(encoded).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    username, _, password = decoded.partition(":")
    return username, password


def _error(status: int, code: str, message: str) -> Response:
    return json_response({"errors": [{"code": code, "message": message}]}, status)


class Registry:
    """The `docker-registry` process: started and stopped by the emulator."""

    def __init__(self, state_dir: Path, tls: TlsFiles, name: str = "registry") -> None:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RegistryMissing(
                "docker-registry is not installed; run scripts/ensure-docker.sh "
                "(Debian/Ubuntu: apt-get install docker-registry)"
            )
        self.binary = binary
        self.state_dir = state_dir
        self.tls = tls
        self.name = name  # its directory and log under the state directory
        self.port = children.free_port()
        self.login_server = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, token_service: AcrTokenService) -> None:
        self.start_with(
            f"{token_service.url}/oauth2/token", ACR_ISSUER, token_service.certificate_pem()
        )

    def start_with(self, realm: str, issuer: str, signing_certificate: bytes) -> None:
        """Token auth: tokens from `realm`, issued by `issuer`, signed by the certificate's
        key, for the service = this registry's login server."""
        directory = self.state_dir / self.name
        (directory / "data").mkdir(parents=True, exist_ok=True)
        bundle = directory / "token-signing.pem"
        bundle.write_bytes(signing_certificate)
        config = {
            "version": 0.1,
            "log": {"level": "warn", "formatter": "text"},
            "storage": {
                "filesystem": {"rootdirectory": str(directory / "data")},
                "delete": {"enabled": True},
            },
            "http": {
                "addr": self.login_server,
                "tls": {"certificate": str(self.tls.server_cert), "key": str(self.tls.server_key)},
            },
            "auth": {
                "token": {
                    "realm": realm,
                    "service": self.login_server,
                    "issuer": issuer,
                    "rootcertbundle": str(bundle),
                }
            },
        }
        config_path = directory / "config.yml"
        config_path.write_text(json.dumps(config, indent=2), "utf-8")  # JSON is YAML
        with (self.state_dir / f"{self.name}.log").open("ab") as output:
            self.process = subprocess.Popen(
                [self.binary, "serve", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self, ca_cert: Path, timeout: float = 30) -> None:
        context = ssl.create_default_context(cafile=str(ca_cert))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    children.exited(
                        "docker-registry", self.process, self.state_dir / f"{self.name}.log"
                    )
                )
            # Each probe is bounded: whatever else may listen on the port need not answer.
            with contextlib.suppress(OSError, TimeoutError):
                status = await asyncio.wait_for(self._probe(context), timeout=2)
                if b" 401 " in status:  # the registry wants a token: it is up
                    return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"docker-registry did not start within {timeout:.0f} s")

    async def _probe(self, context: ssl.SSLContext) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, ssl=context)
        try:
            writer.write(b"GET /v2/ HTTP/1.0\r\nHost: " + self.login_server.encode() + b"\r\n\r\n")
            await writer.drain()
            return await reader.readline()
        finally:
            writer.close()

    def stop(self) -> None:
        children.stop(self.process)
