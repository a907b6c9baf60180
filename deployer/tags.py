"""What the action owns, and where its rollouts stand, as tags on Azure resources: read and
written here, and only here.

Every endpoint and deployment the action creates carries who made it (`managed-by`), for which
repository and environment, for which pull request (previews), when, and from which commit.
`delete`, `cleanup`, the pull-request rules and the rollout decide what they may touch from
these tags alone; nothing else in the action spells a tag name.

The endpoint also carries the rollout record (`Record`): the known-good deployment, the
candidate being rolled out and the step it reached, the deployment kept for `rollback`, and the
lease of the run changing the endpoint. A run killed at any point leaves the record saying
where it stopped, and the next run starts from it.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

MANAGED_BY = "azureml-deploy"
LOCAL_REPOSITORY = "local"  # runs outside GitHub Actions
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Tag(StrEnum):
    MANAGED_BY = "managed-by"
    REPOSITORY = "repository"
    ENVIRONMENT = "environment"
    PR = "pr"
    CREATED_AT = "created-at"
    GIT_SHA = "git-sha"
    IMAGE = "azureml-deploy.image"  # deployments: the image by digest
    SETTINGS = "azureml-deploy.settings"  # deployments: the hash of their settings
    AUTOSCALE = "azureml-deploy.autoscale"  # autoscale settings: the hash of the deploy file's
    # The rollout record, on the endpoint:
    KNOWN_GOOD = "azureml-deploy.known-good"  # last to serve 100 % after a passed smoke test
    KNOWN_GOOD_IMAGE = "azureml-deploy.known-good-image"
    KNOWN_GOOD_SETTINGS = "azureml-deploy.known-good-settings"
    CANDIDATE = "azureml-deploy.candidate"  # being rolled out
    STEP = "azureml-deploy.step"  # how far the candidate got
    KEPT = "azureml-deploy.kept"  # the previous known-good, kept for rollback
    KEPT_UNTIL = "azureml-deploy.kept-until"
    LEASE_HOLDER = "azureml-deploy.lease-holder"  # the run changing the endpoint
    LEASE_UNTIL = "azureml-deploy.lease-until"


RESERVED = frozenset(Tag)
RECORD_TAGS = (
    Tag.KNOWN_GOOD,
    Tag.KNOWN_GOOD_IMAGE,
    Tag.KNOWN_GOOD_SETTINGS,
    Tag.CANDIDATE,
    Tag.STEP,
    Tag.KEPT,
    Tag.KEPT_UNTIL,
    Tag.LEASE_HOLDER,
    Tag.LEASE_UNTIL,
)


def utc_timestamp(moment: datetime.datetime | None = None) -> str:
    return (moment or datetime.datetime.now(datetime.UTC)).strftime(_TIME_FORMAT)


@dataclass(frozen=True)
class Ownership:
    """Who a resource belongs to, as its tags say."""

    managed: bool
    repository: str | None = None
    environment: str | None = None
    pr: int | None = None
    created_at: datetime.datetime | None = None
    git_sha: str | None = None

    @classmethod
    def of(cls, tags: Mapping[str, str]) -> Ownership:
        return cls(
            managed=tags.get(Tag.MANAGED_BY) == MANAGED_BY,
            repository=tags.get(Tag.REPOSITORY) or None,
            environment=tags.get(Tag.ENVIRONMENT) or None,
            pr=_pr_number(tags.get(Tag.PR)),
            created_at=_timestamp(tags.get(Tag.CREATED_AT)),
            git_sha=tags.get(Tag.GIT_SHA) or None,
        )

    @property
    def is_preview(self) -> bool:
        return self.managed and self.pr is not None

    def describe(self) -> str:
        """The ownership tags as written, e.g. `managed-by=azureml-deploy, pr=7`, or a note
        that there are none."""
        if not self.managed:
            return f"no {Tag.MANAGED_BY}={MANAGED_BY} tag: not created by azureml-deploy"
        parts = [f"{Tag.MANAGED_BY}={MANAGED_BY}"]
        parts.append(f"{Tag.REPOSITORY}={self.repository}" if self.repository else "no repository")
        if self.environment:
            parts.append(f"{Tag.ENVIRONMENT}={self.environment}")
        if self.pr is not None:
            parts.append(f"{Tag.PR}={self.pr}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Owner:
    """This run, as the owner of what it creates."""

    repository: str  # owner/name, or LOCAL_REPOSITORY
    environment: str
    pr: int | None = None  # set for a run on behalf of a pull request
    git_sha: str | None = None

    def tags(self, now: datetime.datetime | None = None) -> dict[str, str]:
        tags = {
            Tag.MANAGED_BY: MANAGED_BY,
            Tag.REPOSITORY: self.repository,
            Tag.ENVIRONMENT: self.environment,
            Tag.CREATED_AT: utc_timestamp(now),
        }
        if self.pr is not None:
            tags[Tag.PR] = str(self.pr)
        if self.git_sha:
            tags[Tag.GIT_SHA] = self.git_sha
        return {str(name): value for name, value in tags.items()}

    def owns(self, ownership: Ownership) -> bool:
        """Whether `ownership` names this run's repository (and pull request, if any)."""
        return (
            ownership.managed
            and ownership.repository == self.repository
            and ownership.pr == self.pr
        )


def is_reserved(name: str) -> bool:
    """Whether `name` is one of the action's own tags. Azure: "Tag names are case-insensitive
    for operations. A tag with a tag name, regardless of the casing, is updated or retrieved."
    (Learn, azure-resource-manager/management/tag-resources, "Limitations"): `PR` is `pr`."""
    return name.casefold() in _RESERVED_FOLDED


_RESERVED_FOLDED = frozenset(name.casefold() for name in RESERVED)


def user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags on a resource that are not the action's own (the deploy file's, someone's)."""
    return {name: value for name, value in tags.items() if not is_reserved(name)}


def with_user_tags(tags: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """`tags` with everything but the action's own replaced by `wanted` (never one of ours)."""
    return {
        **{n: v for n, v in tags.items() if is_reserved(n)},
        **{str(k): str(v) for k, v in wanted.items() if not is_reserved(str(k))},
    }


def endpoint_tags(owner: Owner, user_tags: Mapping[str, str]) -> dict[str, str]:
    """The deploy file's endpoint tags under the action's own (which always win, whatever the
    casing of a name the deploy file gives)."""
    theirs = {str(k): str(v) for k, v in user_tags.items() if not is_reserved(str(k))}
    return {**theirs, **owner.tags()}


# ARM caps a tag's value at 256 characters (azure-resource-manager/management/tag-resources.md,
# "Limitations"); whether Azure ML's deployments and endpoints inherit the cap is not
# documented. What is deployed (an image by digest, or the assets' ids) is kept whole when it
# fits, else by its hash: both sides of every comparison go through tag_value.
MAX_TAG_VALUE = 256


def tag_value(reference: str) -> str:
    """What is deployed, as a tag holds it."""
    if len(reference) <= MAX_TAG_VALUE:
        return reference
    return "sha256:" + hashlib.sha256(reference.encode()).hexdigest()


def deployment_tags(owner: Owner, image: str, settings_hash: str) -> dict[str, str]:
    return {**owner.tags(), Tag.IMAGE: tag_value(image), Tag.SETTINGS: settings_hash}


def autoscale_tags(owner: Owner, fingerprint: str) -> dict[str, str]:
    """An autoscale setting's: the deployments' ownership tags and the setting's hash."""
    return {**owner.tags(), Tag.AUTOSCALE: fingerprint}


def deployed_image(tags: Mapping[str, str]) -> str | None:
    return tags.get(Tag.IMAGE)


def deployed_settings(tags: Mapping[str, str]) -> str | None:
    return tags.get(Tag.SETTINGS)


def _pr_number(value: str | None) -> int | None:
    if value is None or not value.isascii() or not value.isdigit():
        return None
    return int(value)


def _timestamp(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)


class Step(StrEnum):
    """How far the candidate got (the record's `step`)."""

    PROVISIONING = "provisioning"  # being created or updated
    TESTED = "smoke-tested"  # provisioned and passed the smoke test at 0 %
    SHIFTING = "shifting"  # taking part of the traffic (the endpoint's traffic says how much)
    SHADOW = "shadow"  # at 0 %, sent a mirror of live traffic (the endpoint's mirror says how much)
    BAKING = "baking"  # at 100 %, the known-good one kept to go back to until the bake is over


@dataclass(frozen=True)
class Holder:
    """The run holding the lease: a workflow run and its attempt, or one local process."""

    run: str
    attempt: str = ""

    @classmethod
    def parse(cls, text: str | None) -> Holder | None:
        if not text:
            return None
        run, _, attempt = text.partition("#")
        return cls(run, attempt)

    def __str__(self) -> str:
        return f"{self.run}#{self.attempt}" if self.attempt else self.run

    def same_run(self, other: Holder) -> bool:
        """Another attempt of the same workflow run (it may take over at once)."""
        return self.run == other.run and bool(self.attempt) and bool(other.attempt)

    def describe(self) -> str:
        if self.attempt:
            return f"workflow run {self.run}, attempt {self.attempt}"
        return f"run {self.run}"


@dataclass(frozen=True)
class Record:
    """The rollout record an endpoint carries (every field None: none yet)."""

    known_good: str | None = None
    known_good_image: str | None = None
    known_good_settings: str | None = None
    candidate: str | None = None
    step: Step | None = None
    kept: str | None = None
    kept_until: datetime.datetime | None = None  # None with `kept`: kept until replaced
    holder: Holder | None = None
    lease_until: datetime.datetime | None = None

    @classmethod
    def of(cls, tags: Mapping[str, str]) -> Record:
        step = tags.get(Tag.STEP)
        return cls(
            known_good=tags.get(Tag.KNOWN_GOOD) or None,
            known_good_image=tags.get(Tag.KNOWN_GOOD_IMAGE) or None,
            known_good_settings=tags.get(Tag.KNOWN_GOOD_SETTINGS) or None,
            candidate=tags.get(Tag.CANDIDATE) or None,
            step=Step(step) if step in tuple(Step) else None,
            kept=tags.get(Tag.KEPT) or None,
            kept_until=_timestamp(tags.get(Tag.KEPT_UNTIL)),
            holder=Holder.parse(tags.get(Tag.LEASE_HOLDER)),
            lease_until=_timestamp(tags.get(Tag.LEASE_UNTIL)),
        )

    def tags(self) -> dict[str, str]:
        values: dict[Tag, str | None] = {
            Tag.KNOWN_GOOD: self.known_good,
            Tag.KNOWN_GOOD_IMAGE: tag_value(self.known_good_image)
            if self.known_good_image
            else None,
            Tag.KNOWN_GOOD_SETTINGS: self.known_good_settings,
            Tag.CANDIDATE: self.candidate,
            Tag.STEP: str(self.step) if self.step else None,
            Tag.KEPT: self.kept,
            Tag.KEPT_UNTIL: utc_timestamp(self.kept_until) if self.kept_until else None,
            Tag.LEASE_HOLDER: str(self.holder) if self.holder else None,
            Tag.LEASE_UNTIL: utc_timestamp(self.lease_until) if self.lease_until else None,
        }
        return {str(name): value for name, value in values.items() if value}

    def kept_expired(self, now: datetime.datetime) -> bool:
        return self.kept is not None and self.kept_until is not None and self.kept_until <= now


def with_record(tags: Mapping[str, str], record: Record) -> dict[str, str]:
    """`tags` with the rollout record replaced by `record` (fields it leaves None removed)."""
    kept = {name: value for name, value in tags.items() if name not in RECORD_TAGS}
    return {**kept, **record.tags()}
