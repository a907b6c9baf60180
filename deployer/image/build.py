"""Building the model server's image with the Docker engine and pushing it (by the registry
session's token) so that it is deployed by digest."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from deployer.errors import ImageError
from deployer.github.runner import Runner
from deployer.image.registry import AcrSession, push_role
from deployer.spec.model import BuildSpec
from deployer.tags import utc_timestamp

PUSH_ATTEMPTS = 3


@dataclass
class BuildLabels:
    source: str | None
    revision: str | None
    created: str = field(default_factory=utc_timestamp)

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

    def push(self, repository: str, tag: str, session: AcrSession) -> str:
        """Push repository:tag; the digest the registry stored it under."""
        last_error = ""
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            digest, last_error = self._push_once(repository, tag, session)
            if digest:
                return digest
            if attempt < PUSH_ATTEMPTS:
                self.runner.info(
                    f"push refused ({last_error}); retrying ({attempt}/{PUSH_ATTEMPTS})"
                )
                session.forget()
                time.sleep(2 * attempt)
        raise ImageError(
            f"pushing {repository}:{tag} failed: {last_error}",
            hint=f"give the app registration {push_role(session.abac)} on the registry",
        )

    def _push_once(self, repository: str, tag: str, session: AcrSession) -> tuple[str, str]:
        """(the digest, "") or ("", what went wrong); the layers pushed and reused, in the log."""
        sizes: dict[str, int] = {}
        reused = 0
        with self.runner.group(f"Pushing {repository}:{tag}"):
            output = self.client.images.push(
                repository, tag=tag, auth_config=session.auth_config(), stream=True, decode=True
            )
            digest = ""
            for item in output:
                if "error" in item:
                    return "", str(item["error"])
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
        return digest, "" if digest else "no digest reported"
