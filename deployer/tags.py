"""What the action owns, as tags on Azure resources: read and written here, and only here.

Every endpoint and deployment the action creates carries who made it (`managed-by`), for which
repository and environment, for which pull request (previews), when, and from which commit.
`delete`, `cleanup`, the pull-request rules and the rollout decide what they may touch from
these tags alone; nothing else in the action spells a tag name.
"""

from __future__ import annotations

import datetime
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


RESERVED = frozenset(Tag)


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


def endpoint_tags(owner: Owner, user_tags: Mapping[str, str]) -> dict[str, str]:
    """The deploy file's endpoint tags under the action's own (which always win)."""
    return {**{str(k): str(v) for k, v in user_tags.items()}, **owner.tags()}


def deployment_tags(owner: Owner, image: str, settings_hash: str) -> dict[str, str]:
    return {**owner.tags(), Tag.IMAGE: image, Tag.SETTINGS: settings_hash}


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
