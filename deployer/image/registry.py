"""Azure Container Registry: sign-in by its token exchange (an Entra access token for a refresh
token, as `az acr login` does), and what the registry holds for a tag.

No `az`, no `docker login`, no admin credentials, nothing written to disk: the refresh token is
handed to the Docker engine per push and masked before anything could print it.
"""

from __future__ import annotations

import re
from typing import Any

import requests

from deployer.auth import SignIn
from deployer.errors import ImageError
from deployer.github.runner import Runner

NULL_GUID = "00000000-0000-0000-0000-000000000000"
# What a manifest request accepts: the OCI and Docker image manifests and indexes.
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)
CHALLENGE_FIELD = re.compile(r'(\w+)="([^"]*)"')


def push_role(abac: bool | None) -> str:
    """The role that lets the app push, per the registry's role assignment mode: ABAC-mode
    registries honour only the repository roles (Learn
    "container-registry-rbac-abac-repository-permissions")."""
    if abac is None:
        return (
            "the AcrPush role (in a registry whose role assignment mode is ABAC: Container "
            "Registry Repository Writer)"
        )
    return "the Container Registry Repository Writer role" if abac else "the AcrPush role"


def _first_error(response: requests.Response) -> str:
    try:
        errors = response.json().get("errors") or [{}]
        return str(errors[0].get("message") or response.reason)
    except (ValueError, AttributeError):
        return str(response.reason)


class AcrSession:
    """Azure Container Registry sign-in by token exchange, as `az acr login` does it."""

    def __init__(
        self,
        login_server: str,
        sign_in: SignIn,
        registry_scope: str,  # the registry audience's scope, not ARM's
        runner: Runner,
        verify: str | bool = True,
        *,
        abac: bool | None = None,  # the registry's role assignment mode, where known
    ) -> None:
        self.abac = abac
        self.login_server = login_server
        self.sign_in = sign_in
        self.registry_scope = registry_scope
        self.runner = runner
        self.verify = verify
        self._refresh: str | None = None
        self._challenge: dict[str, str] | None = None

    def _get(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            return requests.get(url, verify=self.verify, timeout=30, **kwargs)
        except requests.RequestException as exc:
            raise ImageError(
                f"cannot reach the registry {self.login_server}: {type(exc).__name__}",
                hint="check image.registry (the registry's login server, e.g. name.azurecr.io)",
            ) from exc

    def challenge(self) -> dict[str, str]:
        if self._challenge is None:
            response = self._get(f"https://{self.login_server}/v2/")
            header = response.headers.get("Www-Authenticate", "")
            fields = dict(CHALLENGE_FIELD.findall(header))
            if response.status_code != 401 or "realm" not in fields:
                raise ImageError(
                    f"{self.login_server} does not look like an Azure Container Registry "
                    "(no token challenge on /v2/)"
                )
            self._challenge = fields
        return self._challenge

    def refresh_token(self) -> str:
        """Entra access token → POST https://<realm host>/oauth2/exchange → refresh token."""
        if self._refresh is None:
            fields = self.challenge()
            realm = fields["realm"]
            exchange = realm.rsplit("/oauth2/", 1)[0] + "/oauth2/exchange"
            entra = self.sign_in.token(self.registry_scope)
            try:
                response = requests.post(
                    exchange,
                    data={
                        "grant_type": "access_token",
                        "service": fields.get("service", self.login_server),
                        "tenant": self._tenant(),
                        "access_token": entra,
                    },
                    verify=self.verify,
                    timeout=30,
                )
            except requests.RequestException as exc:
                raise ImageError(f"the registry's token exchange failed: {exc}") from exc
            if response.status_code != 200:
                raise ImageError(
                    f"{self.login_server} refused the sign-in (HTTP {response.status_code}: "
                    f"{_first_error(response)})",
                    hint=f"give the app registration {push_role(self.abac)} on the registry",
                )
            token = str(response.json().get("refresh_token", ""))
            self.runner.mask(token)
            self._refresh = token
        return self._refresh

    def _tenant(self) -> str:
        import jwt

        try:
            claims = jwt.decode(
                self.sign_in.token(self.registry_scope), options={"verify_signature": False}
            )
        except jwt.InvalidTokenError:
            return ""
        return str(claims.get("tid", ""))

    def auth_config(self) -> dict[str, str]:
        return {"username": NULL_GUID, "password": self.refresh_token()}

    def forget(self) -> None:
        self._refresh = None

    def digest_of(self, repository: str, tag: str) -> str | None:
        """The digest the registry holds for repository:tag, or None."""
        fields = self.challenge()
        try:
            token_response = requests.get(
                fields["realm"],
                params={
                    "service": fields.get("service", ""),
                    "scope": f"repository:{repository}:pull",
                },
                auth=(NULL_GUID, self.refresh_token()),
                verify=self.verify,
                timeout=30,
            )
        except requests.RequestException:
            return None
        if token_response.status_code != 200:
            return None
        access = str(token_response.json().get("access_token") or token_response.json()["token"])
        self.runner.mask(access)
        response = requests.head(
            f"https://{self.login_server}/v2/{repository}/manifests/{tag}",
            headers={"Authorization": f"Bearer {access}", "Accept": MANIFEST_TYPES},
            verify=self.verify,
            timeout=30,
        )
        if response.status_code == 200:
            return response.headers.get("Docker-Content-Digest")
        return None
