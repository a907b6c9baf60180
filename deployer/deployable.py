"""What is deployed: one stage of the pipeline, one type.

`resolve_deployable` decides, from the deploy file and the inputs, what the deployment will run,
and hands the pipeline a Deployable: its exact reference once known (an image by digest), or
the promise to make it (build and push, or register) when the plan says so: a container image,
built or referenced, or Azure ML's assets (a model, code, an environment; deployer/assets/),
without the planner's strategy code knowing which.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from deployer.assets.resolve import AzureMLAssets, resolve_assets
from deployer.azure.pull import PullAccess
from deployer.egress import check_egress_pull, check_environment_image, pulled_as_is
from deployer.image.resolve import ImageLookup, Images
from deployer.session import Session
from deployer.steps import BUILD_THE_IMAGE
from deployer.timing import Phases


class Deployable(Protocol):
    """What the deployment runs, by exact reference ("" while it is still to be made)."""

    reference: str
    tag: str  # a human handle on it (the image tag), "" when none
    work: str  # what making it did (built, pushed), "" when nothing was made
    making: str  # what making it will do, as the plan says it

    @property
    def pull(self) -> PullAccess | None:
        """Who pulls it, for the fix when a pull fails."""
        ...

    @property
    def pending(self) -> bool:
        """Whether the plan must make it first (its BuildImage step)."""
        ...

    def build(self) -> str:
        """Make it (build and push); its exact reference."""
        ...

    def outputs(self) -> dict[str, str]:
        """What `plan` shows of it before anything is made."""
        ...

    def describe(self) -> list[tuple[str, str]]:
        """What it is, for people: (label, exact id or what making it makes) rows."""
        ...


class ContainerImage:
    """A container image: found in the registry (by tag of the build inputs, or as given), or
    built and pushed by the plan."""

    def __init__(
        self, images: Images, lookup: ImageLookup, phases: Phases, pull: PullAccess | None
    ) -> None:
        self.images, self.lookup, self.phases, self.pull = images, lookup, phases, pull
        self.reference = lookup.reference
        self.tag = lookup.tag or ""
        self.work = ""
        self.making = BUILD_THE_IMAGE

    @property
    def pending(self) -> bool:
        return not self.reference

    def build(self) -> str:
        built = self.images.build_and_push(self.lookup, self.phases)
        self.reference, self.tag = built.reference, built.tag or ""
        self.work = built.work.describe() if built.work else ""
        return self.reference

    def outputs(self) -> dict[str, str]:
        resolved = self.lookup.resolved
        return {"digest": resolved.digest if resolved else "", "image-tag": self.lookup.tag or ""}

    def describe(self) -> list[tuple[str, str]]:
        if self.reference:
            return [("Image", self.reference)]
        lookup = self.lookup
        return [("Image", f"{lookup.login_server}/{lookup.repository}:{lookup.tag} (to build)")]


class ContainerWithAssets:
    """A custom container serving Azure ML's model (mounted; TF Serving, TorchServe, Triton)
    and, if it has one, a scoring script's code: both made by the plan's one BuildImage step."""

    def __init__(self, image: ContainerImage, assets: AzureMLAssets) -> None:
        self.image, self.assets = image, assets
        self.pull = image.pull
        self.tag = image.tag
        self.work = ""
        self.making = image.making if image.pending else ""
        if assets.pending:
            self.making = ", then ".join(filter(None, (self.making, assets.making)))
        self.reference = "" if self.pending else self._reference()

    @property
    def pending(self) -> bool:
        return self.image.pending or self.assets.pending

    def build(self) -> str:
        if self.image.pending:
            self.image.build()
        if self.assets.pending:
            self.assets.build()
        self.tag = self.image.tag
        self.work = "; ".join(filter(None, (self.image.work, self.assets.work)))
        self.reference = self._reference()
        return self.reference

    def outputs(self) -> dict[str, str]:
        return {**self.image.outputs(), **self.assets.outputs()}

    def describe(self) -> list[tuple[str, str]]:
        return [*self.image.describe(), *self.assets.describe()]

    def _reference(self) -> str:
        return replace(self.assets.assets, image=self.image.reference).text()


def resolve_deployable(session: Session, phases: Phases) -> Deployable:
    """What this run deploys (no build yet: the plan builds only if it must)."""
    if not session.spec.image.given:
        as_is = pulled_as_is(session.spec.deployment.environment)
        if as_is is not None:
            check_environment_image(session, as_is, "the environment's image")
        return resolve_assets(session, phases)
    images = Images(session)
    pull = pull_access(session, images)
    if pull is not None:
        images.acr.abac = pull.registry_abac
    image = ContainerImage(images, images.lookup(), phases, pull)
    if session.spec.deployment.uses_assets:
        return ContainerWithAssets(image, resolve_assets(session, phases))
    return image


def pull_access(session: Session, images: Images) -> PullAccess | None:
    """Who will pull the image, and from where; warns when a new endpoint could not. None for
    an image in a public registry: Azure ML pulls it without credentials, so there is no role
    to grant (how-to-deploy-custom-container.md deploys `docker.io/tensorflow/serving:latest`
    to a managed online endpoint as it is)."""
    check_egress_pull(session, images.login_server, "the image")
    if images.public:
        session.runner.info(
            f"the image is in the public registry {images.login_server}: Azure ML pulls it "
            "without credentials, so there is no pull role to grant to the endpoint's identity"
        )
        return None
    access = PullAccess(
        images.login_server, session.azure.workspace_registry(), session.spec.endpoint.identity
    )
    warning = access.warning()
    # An existing endpoint's principal may have been granted the role since; only a new one
    # (every new preview) certainly has not, and its failed pull would say what to grant.
    if warning is not None and session.azure.endpoint(session.endpoint_name) is None:
        session.runner.warning(warning)
    return access
