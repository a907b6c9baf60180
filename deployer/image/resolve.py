"""Which image a run deploys: a prebuilt one (the `image` input, or `image.ref` with its
placeholders rendered; resolved to its digest), a tag this commit already pushed with the same
build inputs (reused: no build, no push), or one still to build and push."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from deployer.context import uncommitted_changes
from deployer.errors import DeployerError, ImageError, NameTemplateError, UsageError
from deployer.image.build import (
    BuildLabels,
    BuildResult,
    ImageBuilder,
    PushResult,
    iso_time,
    source_date_epoch,
)
from deployer.image.cache import cache_scope, is_cache_tag
from deployer.image.inputs_hash import build_inputs_hash
from deployer.image.public import PublicRegistry
from deployer.image.reference import has_registry, parse_image
from deployer.image.registry import AcrSession
from deployer.image.secrets import check_sources
from deployer.session import Session
from deployer.spec import names
from deployer.spec.model import ImageSpec
from deployer.spec.schemacheck import deploy_schema
from deployer.timing import Phases


@dataclass(frozen=True)
class ImageWork:
    """What building and pushing the image did, for the summary."""

    build: BuildResult
    push: PushResult

    def describe(self) -> str:
        return (
            f"{self.build.steps_built} step(s) built, {self.build.steps_cached} from cache"
            f"{' (imported from the registry)' if self.build.cache_imported else ''}; "
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
    """`spec`: the image to find or build; the deploy file's top-level `image` unless given
    (an Azure ML environment's build context built on the runner)."""

    def __init__(self, session: Session, spec: ImageSpec | None = None) -> None:
        self.session = session
        self.spec = spec if spec is not None else session.spec.image
        # the `image` input replaces the deploy file's image, not an environment's
        self.given = session.options.image if spec is None else None

    @cached_property
    def public(self) -> bool:
        """Whether the image is in a registry other than Azure Container Registry (image.ref
        in docker.io, mcr.microsoft.com, …): read anonymously, pulled without credentials."""
        declared = self._declared_registry
        if not declared or self.spec.ref is None or declared == self.spec.registry:
            return False
        return not self.session.cloud.is_container_registry(declared)

    @cached_property
    def login_server(self) -> str:
        given = self._declared_registry
        server = self.session.cloud.registry_for(given, acr=not self.public)
        if server != given:
            where = "its public-registry stand-in" if self.public else "its registry"
            self.session.runner.info(
                f"local emulator: images {'come from' if self.public else 'go to'} {where} "
                f"{server} instead of {given}"
            )
        return server

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
        spec = self.spec
        given = self.given
        if given is not None:
            if spec.build is not None:
                self.session.runner.info(
                    f"deploying the given image {given}: image.build is ignored"
                )
            return self._prebuilt(self._in_registry(given), f"the image {given}")
        if spec.ref is not None:
            rendered = self._rendered(spec.ref)
            shown = spec.ref if rendered == spec.ref else f"{spec.ref} → {rendered}"
            return self._prebuilt(rendered, f"image.ref {shown}")
        assert spec.repository is not None and spec.build is not None
        context = self.session.context
        dirty = not context.in_github and uncommitted_changes(spec.build.context)
        inputs = build_inputs_hash(spec.build, self.session.options.build_args)
        if is_cache_tag(self.session.options.image_tag or ""):
            raise UsageError(
                f"the image tag {self.session.options.image_tag!r} is a build cache's, which "
                "each build moves",
                hint="choose another image-tag, or leave it empty for <short sha>-<inputs hash>",
            )
        tag = self.session.options.image_tag or context.image_tag(inputs, dirty)
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
        check_sources(spec.build, self.session.options.root, self.session.environ)
        return ImageLookup(self.login_server, spec.repository, tag, None)

    @property
    def _declared_registry(self) -> str:
        spec = self.spec
        return spec.registry or (parse_image(spec.ref).registry if spec.ref else "")

    def _in_registry(self, given: str) -> str:
        """The image input as registry/repository…; only the deploy file's registry is
        accepted (the endpoint's identity is granted pull on it, run.py `pull_access`)."""
        declared = self._declared_registry
        first, slash, _ = given.partition("/")
        # Docker's rule: a first component with '.' or ':' (or localhost) is a registry.
        if not (slash and has_registry(first)):
            given = f"{declared}/{given}"
        elif first not in (declared, self.login_server):
            raise UsageError(
                f"the image {given} is in the registry {first}, not in the deploy file's "
                f"registry {declared}",
                hint=f"push it to {declared} (where the endpoint pulls from), or give just "
                "repository:tag or repository@sha256:… to take it from there",
            )
        if "{" in given or not _is_reference(given):
            raise UsageError(
                f"the image input {given!r} is not an image reference",
                hint="give repository:tag or repository@sha256:<64 hex>, optionally with the "
                f"registry {declared} in front",
            )
        return given

    def _rendered(self, template: str) -> str:
        """image.ref with this run's placeholder values, e.g. {short_sha}."""
        if not names.placeholders(template):
            return template
        try:
            rendered = names.substitute(template, self.session.context.name_values())
        except NameTemplateError as exc:
            raise UsageError(
                f"image.ref '{template}' {exc}",
                hint="use this environment on the events it is meant for, or pass --image",
            ) from exc
        if not _is_reference(rendered):
            raise UsageError(
                f"image.ref '{template}' renders to {rendered!r}, which is not an image reference",
                hint="use placeholders whose values fit a tag here, such as {short_sha} or {pr}",
            )
        return rendered

    def pinned(self, ref: str, what: str) -> str:
        """`ref`, an image in any registry, by its digest; `what` names it in messages."""
        resolved = self._prebuilt(ref, what).resolved
        assert resolved is not None
        return resolved.reference

    def _prebuilt(self, ref: str, what: str) -> ImageLookup:
        if self.public:
            return self._public(ref, what)
        _, _, rest = ref.partition("/")
        name, _, digest = rest.partition("@")
        repository, _, tag = name.partition(":")
        reference = digest or tag
        found = self.acr.digest_of(repository, reference)
        if not found:
            raise ImageError(
                f"{what} was not found in the registry {self.login_server}",
                hint="push the image first, or fix the reference",
            )
        resolved = f"{self.login_server}/{repository}@{found}"
        self.session.runner.info(f"{what} is {resolved}: no build")
        return ImageLookup(
            self.login_server, repository, tag or None, ResolvedImage(resolved, found, tag or None)
        )

    def _public(self, ref: str, what: str) -> ImageLookup:
        """An image in a public registry: its digest by that registry's anonymous token flow;
        the deployment runs it by digest, as it does an image in ACR."""
        name = parse_image(ref)
        cloud = self.session.cloud
        registry = PublicRegistry(
            self.login_server, self.session.runner, verify=cloud.ca_bundle or True
        )
        found = registry.digest_of(name.repository, name.reference, what)
        resolved = f"{self.login_server}/{name.repository}@{found}"
        self.session.runner.info(f"{what} is {resolved}: no build")
        return ImageLookup(
            self.login_server, name.repository, name.tag, ResolvedImage(resolved, found, name.tag)
        )

    def build_and_push(self, lookup: ImageLookup, phases: Phases) -> ResolvedImage:
        build = self.spec.build
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
        scope = cache_scope(context.pr_number)
        cache = [  # none yet on a first build: nothing to import
            f"{repository_url}:{cache_tag}"
            for cache_tag in scope.read
            if self.acr.digest_of(lookup.repository, cache_tag)
        ]
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
            builder.push_cache(repository_url, tag, scope.write, self.acr)
        work = ImageWork(built, pushed)
        self.session.runner.info(f"image: {work.describe()}")
        return ResolvedImage(
            reference=f"{repository_url}@{pushed.digest}", digest=pushed.digest, tag=tag, work=work
        )


def _is_reference(text: str) -> bool:
    """Whether `text` is a reference image.ref may name, by the deploy file's own rule."""
    pattern = deploy_schema()["$defs"]["image"]["properties"]["ref"]["pattern"]
    return re.fullmatch(pattern, text) is not None
