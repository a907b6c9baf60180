"""A registry other than Azure Container Registry (Docker Hub, Microsoft Artifact Registry,
GitHub's, any OCI registry): what it holds for a tag, asked anonymously, by its own token flow.

The flow is the Docker registry "Token Authentication Specification" (docs.docker.com
registry/spec/auth/token; the CNCF distribution project's spec/auth/token.md), which the OCI
distribution spec's clients follow:

    GET  https://<registry>/v2/                 200: no auth needed; 401 with
                                                WWW-Authenticate: Bearer realm="…",service="…"
    GET  <realm>?service=…&scope=repository:<repository>:pull     no credentials: anonymous
         → {"token": …} or {"access_token": …} (both names are in the spec's response)
    HEAD https://<registry>/v2/<repository>/manifests/<tag>        Accept: the manifest and
         index media types → 200 with Docker-Content-Digest, 404 unknown, 401/403 refused

Docker Hub's token realm is auth.docker.io (distribution's spec/auth/jwt.md example; its
pull-limit page, docs.docker.com docker-hub/usage/pulls, asks it for an anonymous pull token).
The spec leaves it to the token server whether a request needs credentials ("pulling from a
public repository" may not) and lets it grant less than was asked, so a refusal may come from
the token service or from the manifest: both are read as private-or-missing, since an anonymous
client cannot tell the two apart. Microsoft Artifact Registry (mcr.microsoft.com) is "an
implementation of the OCI Distribution Specification" for public content
(microsoft/containerregistry, docs/mcr-endpoints-guidance.md): no sign-in. Docker Hub meters
manifest requests (docs.docker.com docker-hub/usage/pulls): the digest is read with a HEAD, as
that page's own rate-limit check reads it; a GET only when a registry leaves out
Docker-Content-Digest.

Nothing is signed in and nothing is sent but the scope: no credentials leave the runner. Text
the registry answers is never shown; only its status codes are.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import requests

from deployer.errors import ImageError
from deployer.github.runner import Runner
from deployer.image.reference import api_host
from deployer.image.registry import CHALLENGE_FIELD, MANIFEST_TYPES

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_TIMEOUT = 30


def bearer_challenge(header: str) -> dict[str, str] | None:
    """The fields of a `WWW-Authenticate: Bearer …` challenge, or None if it is not one."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return dict(CHALLENGE_FIELD.findall(rest))


class PublicRegistry:
    """Anonymous reads of one registry: `registry` as the deployment names it (docker.io,
    mcr.microsoft.com, ghcr.io, host:port)."""

    def __init__(self, registry: str, runner: Runner, verify: str | bool = True) -> None:
        self.registry = registry
        self.host = api_host(registry)
        self.runner = runner
        self.verify = verify
        self._challenge: dict[str, str] | None = None
        self._open = False  # /v2/ answered 200: no token needed

    def _call(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        try:
            return requests.request(
                method, url, verify=self.verify, timeout=_TIMEOUT, allow_redirects=True, **kwargs
            )
        except requests.RequestException as exc:
            raise ImageError(
                f"{what}: cannot reach the registry {self.registry} ({type(exc).__name__})",
                hint=f"check the image's registry name; the runner must reach "
                f"https://{self.host} (a proxy or firewall may block it)",
                cause=exc,
            ) from exc

    def _challenged(self, what: str) -> dict[str, str] | None:
        """The registry's token challenge; None when it needs no token."""
        if self._challenge is None and not self._open:
            response = self._call("GET", f"https://{self.host}/v2/", what)
            if response.status_code == 200:
                self._open = True
                return None
            fields = bearer_challenge(response.headers.get("WWW-Authenticate", ""))
            if response.status_code != 401 or not fields or "realm" not in fields:
                raise ImageError(
                    f"{what}: {self.registry} does not answer as a container registry (GET "
                    f"/v2/ → HTTP {response.status_code}, no bearer token challenge)",
                    hint="check the image's registry name (the registry's host, e.g. docker.io "
                    "or mcr.microsoft.com)",
                )
            if not fields["realm"].startswith("https://"):
                raise ImageError(
                    f"{what}: {self.registry} asks for a token from a realm that is not HTTPS",
                    hint="use an image from a registry served over HTTPS",
                )
            self._challenge = fields
        return self._challenge

    def _token(self, repository: str, what: str) -> str | None:
        fields = self._challenged(what)
        if fields is None:
            return None
        params = {"scope": f"repository:{repository}:pull"}
        if fields.get("service"):
            params["service"] = fields["service"]
        response = self._call("GET", fields["realm"], what, params=params)
        if response.status_code in (401, 403):
            raise self._private(
                what, repository, f"its token service answered HTTP {response.status_code}"
            )
        if response.status_code != 200:
            raise ImageError(
                f"{what}: the token service of {self.registry} answered HTTP "
                f"{response.status_code}",
                hint="try again later; if it persists, check the registry's status",
            )
        try:
            body = response.json()
            token = str(body.get("token") or body.get("access_token") or "")
        except (ValueError, AttributeError):
            token = ""
        if not token:
            raise ImageError(f"{what}: the token service of {self.registry} gave no token")
        self.runner.mask(token)
        return token

    def digest_of(self, repository: str, reference: str, what: str) -> str:
        """The digest the registry holds for repository:tag (or @digest, checked)."""
        token = self._token(repository, what)
        headers = {"Accept": MANIFEST_TYPES}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = f"https://{self.host}/v2/{repository}/manifests/{reference}"
        response = self._call("HEAD", url, what, headers=headers)
        status = response.status_code
        if status in (401, 403):
            raise self._private(what, repository, f"its manifest answered HTTP {status}")
        if status == 404:
            kind = "manifest" if reference.startswith("sha256:") else "tag"
            raise ImageError(
                f"{what} was not found in the registry {self.registry}: {repository} has no "
                f"{kind} {reference}",
                hint="check the tag (the registry's tag list), or push the image first",
            )
        if status == 429:
            raise ImageError(
                f"{what}: {self.registry} is limiting this runner's requests (HTTP 429)",
                hint="try again later, or copy the image into your Azure Container Registry "
                "(az acr import) and deploy it from there",
            )
        if status != 200:
            raise ImageError(
                f"{what}: {self.registry} answered HTTP {status} for its manifest",
                hint="try again later; if it persists, check the registry's status",
            )
        digest = response.headers.get("Docker-Content-Digest", "")
        if not _DIGEST.fullmatch(digest):
            # the digest of the manifest's bytes (OCI distribution spec, "Pulling manifests")
            body = self._call("GET", url, what, headers=headers)
            if body.status_code != 200:
                raise ImageError(f"{what}: {self.registry} answered HTTP {body.status_code}")
            digest = "sha256:" + hashlib.sha256(body.content).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise ImageError(
                f"{what}: {self.registry} answered the manifest {digest} for {reference}",
                hint="check the registry, or give the image by tag",
            )
        return digest

    def _private(self, what: str, repository: str, why: str) -> ImageError:
        return ImageError(
            f"{what} cannot be read anonymously from the registry {self.registry} ({why}): "
            f"{repository} is private, or does not exist",
            hint="check the name; a private image must be in an Azure Container Registry "
            "(copy it with `az acr import` and name that registry in image.ref), where the "
            "endpoint's identity is granted pull",
        )
