"""Which image a run deploys: a prebuilt `ref` (resolved to its digest), a tag this commit
already pushed (reused: no build, no push), or one still to build and push."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from deployer.context import uncommitted_changes
from deployer.errors import DeployerError, ImageError
from deployer.image.build import (
    CACHE_TAG,
    BuildLabels,
    BuildResult,
    ImageBuilder,
    PushResult,
    iso_time,
    source_date_epoch,
)
from deployer.image.registry import AcrSession
from deployer.session import Session
from deployer.timing import Phases


@dataclass(frozen=True)
class ImageWork:
    """What building and pushing the image did, for the summary."""

    build: BuildResult
    push: PushResult

    def describe(self) -> str:
        return (
            f"{self.build.steps_built} step(s) built, {self.build.steps_cached} from cache; "
            f"{self.push.layers_pushed} layer(s) pushed ({self.push.bytes_pushed / 1e6:.1f} MB), "
            f"{self.push.layers_reused} already in the registry"
        )


@dataclass(frozen=True)
class ResolvedImage:
    reference: str  # registry/repository@sha256:…, what the deployment runs
    digest: str
    tag: str | None
    work: ImageWork | None = None  # None: nothing was built (reused or prebuilt)


@dataclass(frozen=True)
class ImageLookup:
    login_server: str
    repository: str
    tag: str | None
    resolved: ResolvedImage | None  # None: it must be built and pushed

    @property
    def pending(self) -> bool:
        return self.resolved is None

    @property
    def reference(self) -> str:
        return self.resolved.reference if self.resolved else ""


class Images:
    def __init__(self, session: Session) -> None:
        self.session = session

    @cached_property
    def login_server(self) -> str:
        spec = self.session.spec.image
        given = spec.registry or (spec.ref.split("/", 1)[0] if spec.ref else "")
        connection = self.session.cloud.local
        if connection is not None:
            local = connection.registry
            if given != local:
                self.session.runner.info(
                    f"local emulator: images go to its registry {local} instead of {given}"
                )
            return local
        return given

    @cached_property
    def acr(self) -> AcrSession:
        cloud = self.session.cloud
        return AcrSession(
            self.login_server,
            self.session.sign_in,
            cloud.registry_scope,
            self.session.runner,
            verify=cloud.ca_bundle or True,
        )

    def lookup(self) -> ImageLookup:
        spec = self.session.spec.image
        if spec.ref is not None:
            return self._prebuilt(spec.ref)
        assert spec.repository is not None and spec.build is not None
        context = self.session.context
        dirty = not context.in_github and uncommitted_changes(spec.build.context)
        tag = self.session.options.image_tag or context.image_tag(dirty)
        reusable = tag is not None and not dirty
        if reusable and tag is not None:
            digest = self.acr.digest_of(spec.repository, tag)
            if digest:
                self.session.runner.info(
                    f"image {self.login_server}/{spec.repository}:{tag} is already in the "
                    f"registry ({digest[:19]}…): no build, no push"
                )
                reference = f"{self.login_server}/{spec.repository}@{digest}"
                return ImageLookup(
                    self.login_server, spec.repository, tag, ResolvedImage(reference, digest, tag)
                )
        return ImageLookup(self.login_server, spec.repository, tag, None)

    def _prebuilt(self, ref: str) -> ImageLookup:
        _, _, rest = ref.partition("/")
        name, _, digest = rest.partition("@")
        repository, _, tag = name.partition(":")
        reference = digest or tag
        found = self.acr.digest_of(repository, reference)
        if not found:
            raise ImageError(
                f"image.ref {ref} was not found in the registry {self.login_server}",
                hint="push the image first, or fix image.ref",
            )
        resolved = f"{self.login_server}/{repository}@{found}"
        return ImageLookup(
            self.login_server, repository, tag or None, ResolvedImage(resolved, found, tag or None)
        )

    def build_and_push(self, lookup: ImageLookup, phases: Phases) -> ResolvedImage:
        build = self.session.spec.image.build
        if build is None:
            raise DeployerError("nothing to build: the deploy file gives image.ref")
        context = self.session.context
        tag = lookup.tag or "latest"
        repository_url = f"{lookup.login_server}/{lookup.repository}"
        builder = ImageBuilder(self.session.runner, self.session.options.build_network)
        epoch = source_date_epoch(build.context, context.sha or None)
        labels = BuildLabels(source=context.source_url, revision=context.sha or None)
        if epoch is not None:  # the same commit gives the same image configuration
            labels.created = iso_time(epoch)
        cache = [f"{repository_url}:{CACHE_TAG}"]
        if not self.acr.digest_of(lookup.repository, CACHE_TAG):
            cache = []  # the first build: nothing to import
        with phases("build"):
            built = builder.build(
                build,
                target=f"{repository_url}:{tag}",
                labels=labels,
                extra_args=self.session.options.build_args,
                registry=self.acr,
                cache_from=cache,
                source_date_epoch=epoch,
            )
        with phases("push"):
            pushed = builder.push(repository_url, tag, self.acr)
            builder.push_cache(repository_url, tag, self.acr)
        work = ImageWork(built, pushed)
        self.session.runner.info(f"image: {work.describe()}")
        return ResolvedImage(
            reference=f"{repository_url}@{pushed.digest}", digest=pushed.digest, tag=tag, work=work
        )
