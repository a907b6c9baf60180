"""Building the model server's image with BuildKit (through the docker CLI, see docker_cli.py)
and pushing it with the registry session's token, so that it is deployed by digest.

The build imports its cache from the registry (`<repository>:buildcache`, the last image this
action pushed there, which carries BuildKit's inline cache; on engines before Docker 27 pulled
into the engine first, cache_pull.py says why), so a runner whose Docker starts empty rebuilds
only the steps whose inputs changed and pushes only their layers.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deployer.errors import ImageError
from deployer.github.runner import Runner
from deployer.image import build_failures
from deployer.image.build_config import cli_environment
from deployer.image.cache_pull import needs_pull, pull_cache
from deployer.image.docker_cli import DockerCli, find_buildkit_cli
from deployer.image.progress import BuildProgress
from deployer.image.registry import NULL_GUID, AcrSession, push_role
from deployer.spec.model import BuildSpec
from deployer.tags import utc_timestamp

PUSH_ATTEMPTS = 3
BUILD_TIMEOUT_SECONDS = 3600


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


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    steps_built: int
    steps_cached: int
    cache_imported: bool


@dataclass(frozen=True)
class PushResult:
    digest: str
    layers_pushed: int
    bytes_pushed: int
    layers_reused: int


def commit_time(folder: Path, sha: str | None) -> int | None:
    """The commit's time (seconds since the epoch), for SOURCE_DATE_EPOCH and the created label."""
    if not sha:
        return None
    try:
        result = subprocess.run(
            ["git", "-c", "safe.directory=*", "-C", str(folder), "log", "-1", "--format=%ct", sha],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = result.stdout.strip()
    return int(text) if result.returncode == 0 and text.isdigit() else None


def source_date_epoch(folder: Path, sha: str | None) -> int | None:
    """SOURCE_DATE_EPOCH as the workflow set it (reproducible-builds.org's variable), else the
    commit's time where git can tell it (the action's image has no git: then none). BuildKit
    0.11 and newer take the image config's and history's timestamps from this build arg
    (moby/buildkit docs/build-repro.md); older engines pass it to the build as a plain arg."""
    given = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(given) if given.isdigit() else commit_time(folder, sha)


def iso_time(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ImageBuilder:
    """docker build (BuildKit, through the CLI) and docker push (through the engine API)."""

    def __init__(self, runner: Runner, network_mode: str | None = None) -> None:
        import docker
        import docker.errors

        self.runner = runner
        self.network_mode = network_mode
        try:
            self.client = docker.from_env(timeout=600)
            self.engine_version = str(self.client.version().get("Version", "unknown"))
        except docker.errors.DockerException as exc:
            raise ImageError(
                f"cannot reach the Docker engine ({type(exc).__name__})",
                hint="the image is built with Docker: run on a runner with Docker "
                "(ubuntu-latest has it), or deploy a prebuilt image with the `image` input",
            ) from exc
        self.cli: DockerCli = find_buildkit_cli()

    def command(
        self,
        spec: BuildSpec,
        *,
        target: str,
        labels: BuildLabels,
        build_args: Mapping[str, str],
        cache_from: list[str],
        iidfile: Path,
    ) -> list[str]:
        command = [
            *self.cli.build_command(),
            "--progress=plain",
            "--file",
            str(spec.dockerfile),
            "--tag",
            target,
            "--iidfile",
            str(iidfile),
            "--platform",
            spec.platform,
        ]
        if spec.target:
            command += ["--target", spec.target]
        if self.network_mode:
            command += ["--network", self.network_mode]
        for name, value in labels.as_dict().items():
            command += ["--label", f"{name}={value}"]
        # The inline cache goes into the pushed image: the next build imports it from there.
        for name, value in {"BUILDKIT_INLINE_CACHE": "1", **build_args}.items():
            command += ["--build-arg", f"{name}={value}"]
        for secret_id, source in sorted(spec.secrets.items()):
            where = f"env={source.env}" if source.env else f"src={source.file}"
            command += ["--secret", f"id={secret_id},{where}"]
        for reference in cache_from:
            command += ["--cache-from", reference]
        command.append(str(spec.context))
        return command

    def _mask_secrets(self, spec: BuildSpec) -> None:
        """A step that prints a build secret prints *** instead."""
        for source in spec.secrets.values():
            if source.env:
                self.runner.mask(os.environ.get(source.env))
            elif source.file is not None:
                with contextlib.suppress(OSError):
                    self.runner.mask(source.file.read_text(errors="replace").strip())

    def build(
        self,
        spec: BuildSpec,
        *,
        target: str,
        labels: BuildLabels,
        extra_args: Mapping[str, str],
        registry: AcrSession,
        cache_from: list[str],
        source_date_epoch: int | None = None,
    ) -> BuildResult:
        """Build `spec` with BuildKit and tag it `target` (registry/repository:tag)."""
        self._mask_secrets(spec)
        build_args = {**spec.args, **extra_args}
        if source_date_epoch is not None:
            build_args.setdefault("SOURCE_DATE_EPOCH", str(source_date_epoch))
        with tempfile.TemporaryDirectory(prefix="azureml-deploy-build-") as scratch:
            iidfile = Path(scratch) / "image-id"
            command = self.command(
                spec,
                target=target,
                labels=labels,
                build_args=build_args,
                cache_from=cache_from,
                iidfile=iidfile,
            )
            environment = {**os.environ, **self.cli.environment()}
            if isinstance(registry.verify, str):
                # The CLI fetches the registry's tokens for BuildKit's cache import itself: it
                # must trust the registry as our own requests do (Go reads SSL_CERT_FILE).
                environment["SSL_CERT_FILE"] = registry.verify
            with (
                self.runner.group(f"Building {target} ({self.cli.describe()})"),
                cli_environment(
                    registry.login_server, NULL_GUID, registry.refresh_token(), environment
                ) as environment,
            ):
                if cache_from and needs_pull(self.engine_version):
                    pull_cache(self.client, cache_from, registry.auth_config(), self.runner.info)
                progress = BuildProgress(self.runner.info)
                code = self._stream(command, environment, progress)
                if code != 0:
                    self._show_failure(progress)
                    raise build_failures.translate(
                        progress,
                        dockerfile=_read(spec.dockerfile),
                        engine_version=self.engine_version,
                        secret_ids=spec.secrets.keys(),
                    )
                self.runner.info(
                    f"{progress.steps_built} step(s) built, {progress.steps_cached} from cache"
                )
            image_id = iidfile.read_text().strip() if iidfile.exists() else ""
        if not image_id:
            raise ImageError("the image build ended without an image")
        return BuildResult(
            image_id, progress.steps_built, progress.steps_cached, bool(progress.cache_sources)
        )

    def _stream(
        self, command: list[str], environment: dict[str, str], progress: BuildProgress
    ) -> int:
        try:
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                text=True,
                errors="replace",
            )
        except OSError as exc:
            raise ImageError(
                f"cannot run {self.cli.path}: {exc.strerror}",
                hint="check the docker CLI on the runner",
            ) from exc
        assert process.stdout is not None
        try:
            for line in process.stdout:
                progress.feed(line)
            return process.wait(timeout=BUILD_TIMEOUT_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    def _show_failure(self, progress: BuildProgress) -> None:
        for vertex in progress.failed:
            self.runner.info(f"{vertex.name} failed; its output:")
            for line in vertex.output:
                self.runner.info(f"    {line}")

    def push(self, repository: str, tag: str, session: AcrSession) -> PushResult:
        """Push repository:tag; the digest the registry stored it under."""
        last_error = ""
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            with self.runner.group(f"Pushing {repository}:{tag}"):
                result, last_error = self._push_once(repository, tag, session)
            if result is not None:
                return result
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

    def push_cache(self, repository: str, tag: str, cache_tag: str, session: AcrSession) -> None:
        """Point `<repository>:<cache_tag>` at the image just pushed (its manifest only: the
        registry has every layer by now), for the next build's cache import."""
        self.client.api.tag(f"{repository}:{tag}", repository, cache_tag)
        result, error = self._push_once(repository, cache_tag, session, quiet=True)
        if result is None:
            self.runner.warning(
                f"the build cache {repository}:{cache_tag} was not updated ({error}); "
                "the next build may rebuild more than it must"
            )

    def _push_once(
        self, repository: str, tag: str, session: AcrSession, *, quiet: bool = False
    ) -> tuple[PushResult | None, str]:
        """(the result, "") or (None, what went wrong); the layers pushed and reused, logged."""
        sizes: dict[str, int] = {}
        reused = 0
        output = self.client.images.push(
            repository, tag=tag, auth_config=session.auth_config(), stream=True, decode=True
        )
        digest = ""
        for item in output:
            if "error" in item:
                return None, str(item["error"])
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
        if not digest:
            return None, "no digest reported"
        result = PushResult(digest, len(sizes), sum(sizes.values()), reused)
        if not quiet:
            self.runner.info(
                f"pushed {result.layers_pushed} layer(s), {result.bytes_pushed / 1e6:.1f} MB; "
                f"{reused} already there; digest {digest}"
            )
        return result, ""


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
