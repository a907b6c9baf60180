"""The model server's image: build it with the Docker SDK, sign in to Azure Container Registry by
its token exchange, push it, and always deploy it by digest.

No `az`, no `docker login`, no admin credentials, nothing written to disk: the registry refresh
token is passed to the Docker engine per push and masked before anything could print it.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from deployer.auth import SignIn
from deployer.errors import ImageError
from deployer.github import Runner
from deployer.spec.model import BuildSpec

NULL_GUID = "00000000-0000-0000-0000-000000000000"
PUSH_ATTEMPTS = 3
_MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class ResolvedImage:
    reference: str  # registry/repository@sha256:…, what the deployment runs
    digest: str
    tag: str | None
    built: bool = False
    pushed: bool = False
    bytes_pushed: int = 0
    layers_pushed: int = 0
    layers_reused: int = 0


class AcrSession:
    """Azure Container Registry sign-in by token exchange, as `az acr login` does it."""

    def __init__(
        self,
        login_server: str,
        sign_in: SignIn,
        arm_scope: str,
        runner: Runner,
        verify: str | bool = True,
    ) -> None:
        self.login_server = login_server
        self.sign_in = sign_in
        self.arm_scope = arm_scope
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
            ) from None

    def challenge(self) -> dict[str, str]:
        if self._challenge is None:
            response = self._get(f"https://{self.login_server}/v2/")
            header = response.headers.get("Www-Authenticate", "")
            fields = dict(_CHALLENGE.findall(header))
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
            entra = self.sign_in.token(self.arm_scope)
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
                raise ImageError(f"the registry's token exchange failed: {exc}") from None
            if response.status_code != 200:
                raise ImageError(
                    f"{self.login_server} refused the sign-in (HTTP {response.status_code})",
                    hint="give the app registration the AcrPush role on the registry",
                )
            token = str(response.json().get("refresh_token", ""))
            self.runner.mask(token)
            self._refresh = token
        return self._refresh

    def _tenant(self) -> str:
        import jwt

        try:
            claims = jwt.decode(
                self.sign_in.token(self.arm_scope), options={"verify_signature": False}
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
            headers={"Authorization": f"Bearer {access}", "Accept": _MANIFEST_TYPES},
            verify=self.verify,
            timeout=30,
        )
        if response.status_code == 200:
            return response.headers.get("Docker-Content-Digest")
        return None


@dataclass
class BuildLabels:
    source: str | None
    revision: str | None
    created: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )

    def as_dict(self) -> dict[str, str]:
        labels = {"org.opencontainers.image.created": self.created}
        if self.source:
            labels["org.opencontainers.image.source"] = self.source
        if self.revision:
            labels["org.opencontainers.image.revision"] = self.revision
        return labels


class ImageBuilder:
    """docker build and docker push through the Docker SDK."""

    def __init__(self, runner: Runner, network_mode: str | None = None) -> None:
        import docker
        import docker.errors

        self.runner = runner
        self.network_mode = network_mode
        try:
            self.client = docker.from_env(timeout=600)
            self.client.ping()
        except docker.errors.DockerException as exc:
            raise ImageError(
                f"cannot reach the Docker engine ({type(exc).__name__})",
                hint="the image is built with Docker: run on a runner with Docker "
                "(ubuntu-latest has it), or deploy a prebuilt image with image.ref",
            ) from None

    def build(
        self,
        spec: BuildSpec,
        target: str,
        labels: BuildLabels,
        extra_args: Mapping[str, str],
    ) -> str:
        """Build `spec` and tag it `target` (registry/repository:tag); the image id."""
        # docker-py sends a Dockerfile outside the context along with it.
        dockerfile = str(spec.dockerfile)
        with self.runner.group(f"Building {target}"):
            stream = self.client.api.build(
                path=str(spec.context),
                dockerfile=dockerfile,
                tag=target,
                buildargs={**spec.args, **extra_args},
                target=spec.target,
                platform=spec.platform,
                labels=labels.as_dict(),
                network_mode=self.network_mode,
                rm=True,
                forcerm=True,
                decode=True,
            )
            return self._follow_build(stream)

    def _follow_build(self, stream: Iterator[dict[str, Any]]) -> str:
        """One line per build step; the failing step's output in full."""
        step_lines: list[str] = []
        image_id = ""
        for item in stream:
            if "stream" in item:
                for line in str(item["stream"]).splitlines():
                    if line.startswith("Step "):
                        self.runner.info(line)
                        step_lines = [line]
                    elif line.strip():
                        step_lines.append(line)
            if "aux" in item and isinstance(item["aux"], dict) and "ID" in item["aux"]:
                image_id = str(item["aux"]["ID"])
            if "error" in item:
                for line in step_lines[1:]:
                    self.runner.info(f"    {line}")
                detail = str(item.get("error", "")).strip()
                raise ImageError(
                    f"the image build failed: {detail}",
                    hint="the failing step's output is above",
                )
        if not image_id:
            raise ImageError("the image build ended without an image")
        return image_id

    def push(self, repository: str, tag: str, session: AcrSession) -> tuple[str, int, int, int]:
        """Push repository:tag; (digest, bytes pushed, layers pushed, layers reused)."""
        last_error = ""
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            digest, pushed, layers, reused, last_error = self._push_once(repository, tag, session)
            if digest:
                return digest, pushed, layers, reused
            if attempt < PUSH_ATTEMPTS:
                self.runner.info(
                    f"push refused ({last_error}); retrying ({attempt}/{PUSH_ATTEMPTS})"
                )
                session.forget()
                time.sleep(2 * attempt)
        raise ImageError(
            f"pushing {repository}:{tag} failed: {last_error}",
            hint="give the app registration the AcrPush role on the registry",
        )

    def _push_once(
        self, repository: str, tag: str, session: AcrSession
    ) -> tuple[str, int, int, int, str]:
        sizes: dict[str, int] = {}
        reused = 0
        with self.runner.group(f"Pushing {repository}:{tag}"):
            output = self.client.images.push(
                repository, tag=tag, auth_config=session.auth_config(), stream=True, decode=True
            )
            digest = ""
            for item in output:
                if "error" in item:
                    return "", 0, 0, 0, str(item["error"])
                status = str(item.get("status", ""))
                layer = str(item.get("id", ""))
                detail = item.get("progressDetail") or {}
                if status == "Pushing" and "total" in detail:
                    sizes[layer] = int(detail["total"])
                elif status == "Layer already exists" or status.startswith("Mounted from"):
                    reused += 1
                aux = item.get("aux")
                if isinstance(aux, dict) and aux.get("Digest"):
                    digest = str(aux["Digest"])
            pushed = sum(sizes.values())
            self.runner.info(
                f"pushed {len(sizes)} layer(s), {pushed / 1e6:.1f} MB; {reused} already there; "
                f"digest {digest}"
            )
        return digest, pushed, len(sizes), reused, "" if digest else "no digest reported"


def short_digest(reference: str) -> str:
    name, _, digest = reference.partition("@")
    return f"{name}@{digest[:19]}…" if digest else reference
